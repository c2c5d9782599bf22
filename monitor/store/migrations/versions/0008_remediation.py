"""Fixing drift: every fix plan and every write cwdrift sent, with its verification.

Revision ID: 0008_remediation
Revises: 0006_delivery
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_remediation"
down_revision: str | None = "0006_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    # monitor.store.tables.UTCDateTime renders as this; it adds only Python-side conversion.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fix_plan",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("endpoint", sa.String(300), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("write", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_fix_plan_tenant_rule_status", "fix_plan", ["tenant_id", "rule_id", "status"]
    )
    op.create_table(
        "fix_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("fix_plan.id"), nullable=False),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("keys", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("error_kind", sa.String(40), nullable=True),
        sa.Column("verification", sa.String(16), nullable=False),
        sa.Column("verified_at", _utc(), nullable=True),
        sa.Column("verify_run_id", sa.Integer(), sa.ForeignKey("check_run.id"), nullable=True),
        sa.Column("verified_value", sa.Text(), nullable=True),
    )
    op.create_index("ix_fix_attempt_tenant_at", "fix_attempt", ["tenant_id", "at"])
    op.create_index("ix_fix_attempt_plan_id", "fix_attempt", ["plan_id"])
    op.create_index("ix_fix_attempt_verify_run_id", "fix_attempt", ["verify_run_id"])


def downgrade() -> None:
    op.drop_index("ix_fix_attempt_verify_run_id", table_name="fix_attempt")
    op.drop_index("ix_fix_attempt_plan_id", table_name="fix_attempt")
    op.drop_index("ix_fix_attempt_tenant_at", table_name="fix_attempt")
    op.drop_table("fix_attempt")
    op.drop_index("ix_fix_plan_tenant_rule_status", table_name="fix_plan")
    op.drop_table("fix_plan")
