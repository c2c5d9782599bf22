"""The read cache: ConnectWise answers that change only with an upgrade, kept between runs.

Revision ID: 0010_read_cache
Revises: 0009_tickets
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_read_cache"
down_revision: str | None = "0009_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_cache",
        sa.Column("tenant", sa.String(500), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("version", sa.String(100), nullable=True),
        # monitor.store.tables.UTCDateTime renders as this; it adds only Python-side conversion.
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("read_cache")
