"""Accepted deviations managed in the database, and their change log.

Revision ID: 0004_waivers
Revises: 0003_daemon
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_waivers"
down_revision: str | None = "0003_daemon"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    # monitor.store.tables.UTCDateTime renders as this; it adds only Python-side conversion.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "waiver",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("accepted_by", sa.String(200), nullable=False),
        sa.Column("expires", _utc(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.UniqueConstraint("tenant_id", "rule", name="uq_waiver_tenant_rule"),
    )
    op.create_table(
        "waiver_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("accepted_by", sa.String(200), nullable=False),
        sa.Column("expires", _utc(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_waiver_event_tenant_at", "waiver_event", ["tenant_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_waiver_event_tenant_at", table_name="waiver_event")
    op.drop_table("waiver_event")
    op.drop_table("waiver")
