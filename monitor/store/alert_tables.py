"""Alerting's tables: alert state, the outbox, channel status and silences (revision 0002_alerts).

They share ``SQLModel.metadata`` with the store's tables. No foreign key to ``tenant``: alert
state is written in the check's transaction, and silences may name a tenant before its first
check.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from monitor.store.tables import UTCDateTime


class AlertStateRow(SQLModel, table=True):
    """Where one alert of one tenant stands (see :class:`monitor.alerts.model.AlertState`)."""

    __tablename__ = "alert_state"

    tenant_id: str = Field(primary_key=True, sa_type=String(200))
    alert_key: str = Field(primary_key=True, sa_type=String(200))  # rule id or "collection"
    state: str = Field(sa_type=String(16))  # "open" | "resolved"
    label: str = Field(sa_type=Text)
    severity: str = Field(sa_type=String(16))
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    silenced_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_failures: int = Field(default=0)
    channels: str = Field(default="[]", sa_type=Text)  # JSON list: who heard the opening


class OutboxMessage(SQLModel, table=True):
    """One message for one channel, written in the check's transaction, sent by the dispatcher.

    status: "pending" -> "sending" (claimed, committed before the send) -> "sent" | "failed";
    transient errors put it back to "pending" with a later ``next_attempt_at``. A "failed" row
    goes back to "pending" after the channel's next success (or ``cwdrift alerts retry``); if
    it is refused again it becomes "rejected" (only ``alerts retry`` tries it again); a retried
    row whose every item newer messages already covered becomes "superseded", the reason in
    ``last_error`` (revision 0006_delivery; see :mod:`monitor.alerts.late`).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_outbox_tenant_channel", "tenant_id", "channel", "id"),  # order, overtaking
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200))
    channel: str = Field(sa_type=String(64))
    kind: str = Field(sa_type=String(16))  # channel type: "slack" | "email"
    summary: str = Field(default="", sa_type=Text)  # e.g. the email subject, for `cwdrift status`
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # lease start
    attempts: int = Field(default=0)
    status: str = Field(default="pending", sa_type=String(16))
    payload: str = Field(sa_type=Text)  # JSON, fully built: senders only transmit it
    last_error: str | None = Field(default=None, sa_type=Text)  # never contains a secret
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # last permanent failure
    notification: str | None = Field(default=None, sa_type=Text)  # JSON group; None: a report


class ChannelStatusRow(SQLModel, table=True):
    """Delivery health of one channel, for `cwdrift status`."""

    __tablename__ = "channel_status"

    channel: str = Field(primary_key=True, sa_type=String(64))
    kind: str = Field(sa_type=String(16))
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)  # cleared by the next success
    permanent_failure: bool = Field(default=False)  # cleared by the next success


class SilenceRow(SQLModel, table=True):
    """A silence added with `cwdrift silence add`; expiring early sets ``expires`` to then."""

    __tablename__ = "silence"
    __table_args__ = (Index("ix_silence_expires", "expires"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str | None = Field(default=None, sa_type=String(200))
    rule: str | None = Field(default=None, sa_type=String(200))
    reason: str = Field(sa_type=Text)
    author: str = Field(sa_type=String(200))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires: datetime = Field(sa_type=UTCDateTime)
