"""Ticket channels' incidents (revision 0009_tickets): one row per channel, tenant and kind.

A row is the channel's latest incident of that kind for the tenant (``drift`` or
``collection``; see :mod:`monitor.alerts.tickets`): its ticket's ``externalXRef``, whether it
is open, which alerts it is about, and the last event number given to a step on its ticket.
Written in the check's transaction, with the outbox rows that carry the steps. No foreign key
to ``tenant``, as for alert state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from monitor.store.tables import UTCDateTime


class TicketIncidentRow(SQLModel, table=True):
    __tablename__ = "ticket_incident"

    channel: str = Field(primary_key=True, sa_type=String(64))
    tenant_id: str = Field(primary_key=True, sa_type=String(200))
    kind: str = Field(primary_key=True, sa_type=String(16))  # "drift" | "collection"
    xref: str = Field(sa_type=String(100))  # the ticket's externalXRef
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None while open
    failing: str = Field(default="[]", sa_type=Text)  # JSON list of alert keys failing now
    alert_keys: str = Field(default="[]", sa_type=Text)  # JSON list: every key ever part of it
    events: int = Field(default=0)  # the last event number given to a step on its ticket
