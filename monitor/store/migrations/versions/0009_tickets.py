"""Ticket channels' incidents: one row per ticket channel, tenant and incident kind.

Revision ID: 0009_tickets
Revises: 0008_remediation
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_tickets"
down_revision: str | None = "0008_remediation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    # monitor.store.tables.UTCDateTime renders as this; it adds only Python-side conversion.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ticket_incident",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("xref", sa.String(100), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("failing", sa.Text(), nullable=False),
        sa.Column("alert_keys", sa.Text(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_incident")
