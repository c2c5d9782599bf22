"""Ticket channels' incidents: read a tenant's, write the ones a check moved (caller's session).

load_incidents(session, tenant_id)       every ticket channel's incidents of one tenant
save_incidents(session, incidents)       insert or update, in the check's transaction
incident_list(session, channel=None)     for `cwdrift tickets check`: where each stands
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlmodel import Session, col, select

from monitor.alerts.tickets import Incident, IncidentKind
from monitor.clock import ensure_utc
from monitor.store.ticket_tables import TicketIncidentRow


def load_incidents(session: Session, tenant_id: str) -> list[Incident]:
    rows = session.exec(select(TicketIncidentRow).where(TicketIncidentRow.tenant_id == tenant_id))
    return [_incident(row) for row in rows]


def save_incidents(session: Session, incidents: Iterable[Incident]) -> None:
    """Store ``incidents``, inserting those that have no row yet. Does not commit."""
    for incident in incidents:
        key = (incident.channel, incident.tenant_id, incident.kind.value)
        row = session.get(TicketIncidentRow, key) or TicketIncidentRow(
            channel=incident.channel,
            tenant_id=incident.tenant_id,
            kind=incident.kind.value,
            xref=incident.xref,
            opened_at=incident.opened_at,
        )
        row.xref = incident.xref
        row.opened_at = incident.opened_at
        row.closed_at = incident.closed_at
        row.failing = json.dumps(list(incident.failing))
        row.alert_keys = json.dumps(list(incident.keys))
        row.events = incident.events
        session.add(row)
    session.flush()


def incident_list(session: Session, channel: str | None = None) -> list[Incident]:
    """Every stored incident (of one channel, or all), by channel, tenant and kind."""
    query = select(TicketIncidentRow)
    if channel is not None:
        query = query.where(TicketIncidentRow.channel == channel)
    query = query.order_by(
        col(TicketIncidentRow.channel),
        col(TicketIncidentRow.tenant_id),
        col(TicketIncidentRow.kind),
    )
    return [_incident(row) for row in session.exec(query)]


def _incident(row: TicketIncidentRow) -> Incident:
    return Incident(
        channel=row.channel,
        tenant_id=row.tenant_id,
        kind=IncidentKind(row.kind),
        xref=row.xref,
        opened_at=ensure_utc(row.opened_at),
        closed_at=None if row.closed_at is None else ensure_utc(row.closed_at),
        failing=tuple(json.loads(row.failing)),
        keys=tuple(json.loads(row.alert_keys)),
        events=row.events,
    )
