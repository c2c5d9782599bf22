"""Alembic revisions. Revision ids are ``NNNN_name``; each names its ``down_revision``."""
