"""Daemon liveness and per-tenant next runs, for ``cwdrift status``.

Revision ID: 0003_daemon
Revises: 0002_alerts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_daemon"
down_revision: str | None = "0002_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    # monitor.store.tables.UTCDateTime renders as this; it adds only Python-side conversion.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "daemon_node",
        sa.Column("node_id", sa.String(300), primary_key=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("last_beat_at", _utc(), nullable=False),
        sa.Column("stopped_at", _utc(), nullable=True),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
    )
    op.create_table(
        "tenant_schedule",
        sa.Column("tenant_id", sa.String(200), primary_key=True),
        sa.Column("next_run_at", _utc(), nullable=True),
        sa.Column("node_id", sa.String(300), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_schedule")
    op.drop_table("daemon_node")
