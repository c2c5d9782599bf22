"""Delivery: retry a failed message once its channel works, and rebuild it if it goes out late.

``outbox.failed_at`` is when a row last failed for good; ``outbox.notification`` is the
message's notification group (JSON), from which a late message is rebuilt without the items
newer messages already covered. Rows written before this revision have none and are resent as
they are. The index serves the per-tenant, per-channel ordering of the dispatcher.

Rows that had already failed for good become ``rejected``: the channel's next success retries
``failed`` rows, and messages that failed before the upgrade, perhaps weeks ago, and cannot be
marked as late, should not reach a channel unasked. ``cwdrift alerts retry`` still sends them.

Revision ID: 0006_delivery
Revises: 0005_cluster
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_delivery"
down_revision: str | None = "0005_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("notification", sa.Text(), nullable=True))
    op.create_index("ix_outbox_tenant_channel", "outbox", ["tenant_id", "channel", "id"])
    op.execute("UPDATE outbox SET status = 'rejected' WHERE status = 'failed'")


def downgrade() -> None:
    op.drop_index("ix_outbox_tenant_channel", table_name="outbox")
    # Rows only this revision knows are failed ones, in the old model's terms.
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('rejected', 'superseded')")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("notification")
        batch.drop_column("failed_at")
