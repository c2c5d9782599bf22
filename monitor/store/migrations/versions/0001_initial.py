"""Initial schema: tenants, check runs, snapshots, setting changes, finding states and transitions.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    # monitor.store.tables.UTCDateTime renders as this; it adds only Python-side conversion.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("first_seen_at", _utc(), nullable=False),
    )
    op.create_table(
        "snapshot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(200), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("observed_at", _utc(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_snapshot_tenant_observed", "snapshot", ["tenant_id", "observed_at"])
    op.create_table(
        "check_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(200), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_kind", sa.String(40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), sa.ForeignKey("snapshot.id"), nullable=True),
        sa.Column("credential_mode", sa.String(16), nullable=True),
    )
    op.create_index("ix_check_run_tenant_started", "check_run", ["tenant_id", "started_at"])
    op.create_table(
        "setting_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(200), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("check_run.id"), nullable=False),
        sa.Column("observed_at", _utc(), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("old", sa.Text(), nullable=False),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=True),
        sa.Column("changed_at", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_setting_change_tenant_key_observed",
        "setting_change",
        ["tenant_id", "key", "observed_at"],
    )
    op.create_index(
        "ix_setting_change_tenant_observed", "setting_change", ["tenant_id", "observed_at"]
    )
    op.create_index("ix_setting_change_run_id", "setting_change", ["run_id"])
    op.create_table(
        "finding_state",
        sa.Column("tenant_id", sa.String(200), sa.ForeignKey("tenant.id"), primary_key=True),
        sa.Column("rule_id", sa.String(200), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("actual", sa.Text(), nullable=True),
        sa.Column("first_failed_at", _utc(), nullable=True),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("last_changed_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("keys", sa.Text(), nullable=False),
    )
    op.create_table(
        "finding_transition",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(200), sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("check_run.id"), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("actual", sa.Text(), nullable=True),
    )
    op.create_index("ix_finding_transition_tenant_at", "finding_transition", ["tenant_id", "at"])
    op.create_index(
        "ix_finding_transition_tenant_rule_at",
        "finding_transition",
        ["tenant_id", "rule_id", "at"],
    )
    op.create_index("ix_finding_transition_run_id", "finding_transition", ["run_id"])


def downgrade() -> None:
    op.drop_table("finding_transition")
    op.drop_table("finding_state")
    op.drop_table("setting_change")
    op.drop_table("check_run")
    op.drop_table("snapshot")
    op.drop_table("tenant")
