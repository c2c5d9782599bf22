"""Accepted deviations managed with ``cwdrift waive`` (revision 0004_waivers), and their log.

    waiver         one row per (tenant, rule) in force or expired; ``waive`` again replaces it
    waiver_event   every add, replace and removal, kept forever (who, when, what, why)

Config-file waivers (``tenants[].waivers``) are not copied here: the file is their record.
No foreign key to ``tenant``: a deviation may be accepted before the tenant's first check.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from monitor.store.tables import UTCDateTime


class WaiverRow(SQLModel, table=True):
    __tablename__ = "waiver"
    __table_args__ = (UniqueConstraint("tenant_id", "rule", name="uq_waiver_tenant_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200))
    rule: str = Field(sa_type=String(200))
    value: str | None = Field(default=None, sa_type=Text)  # the accepted actual value, pinned
    reason: str = Field(sa_type=Text)
    accepted_by: str = Field(sa_type=String(200))
    expires: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class WaiverEventRow(SQLModel, table=True):
    """One change to a database waiver; the fields describe the waiver added or removed."""

    __tablename__ = "waiver_event"
    __table_args__ = (Index("ix_waiver_event_tenant_at", "tenant_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    tenant_id: str = Field(sa_type=String(200))
    rule: str = Field(sa_type=String(200))
    action: str = Field(sa_type=String(16))  # "added" | "replaced" | "removed"
    actor: str = Field(sa_type=String(200))  # who ran the command (--by)
    value: str | None = Field(default=None, sa_type=Text)
    reason: str = Field(sa_type=Text)
    accepted_by: str = Field(sa_type=String(200))
    expires: datetime = Field(sa_type=UTCDateTime)
    note: str = Field(default="", sa_type=Text)  # e.g. why it was removed
