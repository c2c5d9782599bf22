"""Builders for the ticket tests: a ticket channel's config, and checks walked through the real
lifecycle, routing and ticket planning (pure), carrying alert states and incidents along."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.alerts.config import NotifyConfig, Silence
from monitor.alerts.lifecycle import plan_alerts
from monitor.alerts.model import AlertState, FixNote, TenantRef
from monitor.alerts.notify import notifications
from monitor.alerts.tickets import Incident, IncidentKind, TicketMessage
from monitor.core.findings import Finding
from monitor.errors import CwdriftError

CLIENT_ID = "00000000-0000-4000-8000-000000000001"
ACME_TICKETS = TenantRef(id="acme", name="Acme MSP", tags=("accounting",), ticket_company="Acme")


def ticket_channel(site: str = "https://na.myconnectwise.net", **changes: Any) -> dict[str, Any]:
    """The demo MSP's ticket member (config/scenarios/demo.yaml, tenant northwind)."""
    return {
        "name": "psa",
        "site": site,
        "company_id": "northwind",
        "public_key": "northwindtix001",
        "private_key": "fake-northwind-tickets-private-0001",
        "client_id": CLIENT_ID,
        "board": "Alerts",
        **changes,
    }


def ticket_policy(site: str = "https://na.myconnectwise.net", **changes: Any) -> NotifyConfig:
    channel = ticket_channel(site, **changes.pop("channel", {}))
    return NotifyConfig.model_validate({"connectwise_ticket": [channel], **changes})


@dataclass
class Walk:
    """Checks of one tenant, one after another, as the check job chains them."""

    config: NotifyConfig
    tenant: TenantRef = ACME_TICKETS
    states: list[AlertState] = field(default_factory=list)
    incidents: dict[tuple[str, IncidentKind], Incident] = field(default_factory=dict)

    def check(
        self,
        at: datetime,
        findings: Sequence[Finding] | None = None,
        error: CwdriftError | None = None,
        channel: str = "psa",
        silences: Sequence[Silence] = (),
        fixes: Mapping[str, FixNote] | None = None,
    ) -> TicketMessage | None:
        """One check; the ticket message ``channel`` gets (None: nothing)."""
        planned = plan_alerts(
            tenant=self.tenant,
            previous=self.states,
            findings=findings,
            error=error,
            policy=self.config,
            now=at,
            silences=silences,
            fixes=fixes,
        )
        out = notifications(
            planned, self.config, list(self.incidents.values()), tenant=self.tenant, now=at
        )
        self.states = list(out.states.values())
        for incident in out.incidents:
            self.incidents[(incident.channel, incident.kind)] = incident
        payloads = [m.payload for m in out.messages if m.channel == channel]
        return TicketMessage.from_dict(payloads[0]) if payloads else None

    def incident(self, kind: IncidentKind = IncidentKind.DRIFT, channel: str = "psa") -> Incident:
        return self.incidents[(channel, kind)]
