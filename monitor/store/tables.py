"""The store's tables (SQLModel). The Alembic migrations in ``migrations/versions`` create them.

Size matters for ``check_run``: one row is written for every check of every tenant, so it holds
only small scalars. Snapshot bodies are stored once per distinct content, and setting changes
and finding transitions only when something moved.

Every timestamp column is :class:`UTCDateTime`: aware UTC datetimes in, aware UTC datetimes
out, on SQLite (which stores naive text) as on PostgreSQL (``timestamptz``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from monitor.clock import ensure_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, return aware UTC: SQLite drops tzinfo, so naive values read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


class TenantTable(SQLModel, table=True):
    __tablename__ = "tenant"

    id: str = Field(primary_key=True, sa_type=String(200))  # the config's tenant id
    name: str = Field(sa_type=String(500))
    first_seen_at: datetime = Field(sa_type=UTCDateTime)


class CheckRunTable(SQLModel, table=True):
    """One check of one tenant. Written for every check, so kept small (no JSON bodies)."""

    __tablename__ = "check_run"
    __table_args__ = (Index("ix_check_run_tenant_started", "tenant_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200), foreign_key="tenant.id")
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    outcome: str = Field(sa_type=String(16))  # "compliant" | "drift" | "error"
    error_kind: str | None = Field(default=None, sa_type=String(40))
    error_message: str | None = Field(default=None, sa_type=Text)  # str(error): message + fix
    error_detail: str | None = Field(default=None, sa_type=Text)  # JSON of error.as_dict()
    # The snapshot in force after this run; null for error runs.
    snapshot_id: int | None = Field(default=None, foreign_key="snapshot.id")
    credential_mode: str | None = Field(default=None, sa_type=String(16))


class SnapshotTable(SQLModel, table=True):
    """A distinct configuration of a tenant; stored when its hash differs from the latest one."""

    __tablename__ = "snapshot"
    __table_args__ = (Index("ix_snapshot_tenant_observed", "tenant_id", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200), foreign_key="tenant.id")
    observed_at: datetime = Field(sa_type=UTCDateTime)  # first time this content was seen
    content_hash: str = Field(sa_type=String(64))
    body: bytes = Field(sa_type=LargeBinary)  # zlib-compressed JSON of Snapshot.to_dict()


class SettingChangeTable(SQLModel, table=True):
    """A setting that moved between two snapshots; answers "when did X change, and who did it"."""

    __tablename__ = "setting_change"
    __table_args__ = (
        Index("ix_setting_change_tenant_key_observed", "tenant_id", "key", "observed_at"),
        Index("ix_setting_change_tenant_observed", "tenant_id", "observed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200), foreign_key="tenant.id")
    run_id: int = Field(sa_column_args=[ForeignKey("check_run.id")], index=True)
    observed_at: datetime = Field(sa_type=UTCDateTime)
    key: str = Field(sa_type=String(300))
    label: str = Field(sa_type=Text)
    old: str = Field(sa_type=Text)  # JSON of the old value; "null" when absent
    new: str = Field(sa_type=Text)  # JSON of the new value; "null" when absent
    # ConnectWise _info.updatedBy and _info.lastUpdated of the new record, as given.
    changed_by: str | None = Field(default=None, sa_type=String(200))
    changed_at: str | None = Field(default=None, sa_type=String(64))


class FindingStateTable(SQLModel, table=True):
    """The current status of one rule for one tenant (one row per rule, updated in place)."""

    __tablename__ = "finding_state"

    tenant_id: str = Field(primary_key=True, sa_type=String(200), foreign_key="tenant.id")
    rule_id: str = Field(primary_key=True, sa_type=String(200))
    status: str = Field(sa_type=String(16))
    severity: str = Field(sa_type=String(16))
    label: str = Field(sa_type=Text)
    expected: str = Field(sa_type=Text)
    actual: str | None = Field(default=None, sa_type=Text)
    first_failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When this row was last written; an unchanged state is not rewritten on every check (a new
    # row version each time on PostgreSQL), so "last evaluated" is the tenant's last good run.
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_changed_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    keys: str = Field(default="[]", sa_type=Text)  # JSON list of snapshot keys the rule read


class FindingTransitionTable(SQLModel, table=True):
    """Every status change of a finding, kept forever: reports count new/resolved/regressed."""

    __tablename__ = "finding_transition"
    __table_args__ = (
        Index("ix_finding_transition_tenant_at", "tenant_id", "at"),
        Index("ix_finding_transition_tenant_rule_at", "tenant_id", "rule_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200), foreign_key="tenant.id")
    rule_id: str = Field(sa_type=String(200))
    run_id: int = Field(sa_column_args=[ForeignKey("check_run.id")], index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    from_status: str | None = Field(default=None, sa_type=String(16))  # null: first observation
    to_status: str = Field(sa_type=String(16))
    severity: str = Field(sa_type=String(16))
    label: str = Field(sa_type=Text)
    expected: str = Field(sa_type=Text)
    actual: str | None = Field(default=None, sa_type=Text)
