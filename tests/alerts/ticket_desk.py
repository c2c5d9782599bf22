"""A ticket rig: the demo simulator's MSP (``northwind``) over real HTTP, a real database, and
checks queued and dispatched exactly as the check job and the dispatcher do."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from ticket_builders import ACME_TICKETS, ticket_policy

from monitor.alerts.channels import build_channels
from monitor.alerts.config import NotifyConfig
from monitor.alerts.model import TenantRef
from monitor.core.findings import Finding
from monitor.errors import CwdriftError
from monitor.jobs.check import queue_alerts
from monitor.jobs.deliver import DispatchReport, dispatch_pending
from monitor.simulator.server import RunningSimulator
from monitor.store.database import Database
from monitor.store.outbox import ChannelHealth, channel_status

MSP = "northwind"


@dataclass
class TicketRig:
    sim: RunningSimulator
    db: Database
    config: NotifyConfig
    tenant: TenantRef = ACME_TICKETS

    @classmethod
    def start(cls, sim: RunningSimulator, db: Database, **changes: Any) -> TicketRig:
        return cls(sim, db, ticket_policy(sim.url, **changes))

    def check(
        self,
        at: datetime,
        findings: Sequence[Finding] | None = None,
        error: CwdriftError | None = None,
        who: Mapping[str, tuple[str | None, str | None]] | None = None,
    ) -> None:
        """One check's alerts queued and committed, as the check job does."""
        with self.db.session() as session:
            queue_alerts(
                session,
                tenant=self.tenant,
                findings=findings,
                error=error,
                changes=[],
                who=who or {},
                now=at,
                policy=self.config,
            )

    def dispatch(self, at: datetime) -> DispatchReport:
        channels = build_channels(self.config)
        return asyncio.run(dispatch_pending(self.db, channels, at, clock=lambda: at))

    def tickets(self) -> list[dict[str, Any]]:
        return self.sim.state.tickets(MSP)

    def ticket(self) -> dict[str, Any]:
        [only] = self.tickets()
        return only

    def notes(self) -> list[str]:
        return [note["text"] for note in self.ticket()["notes"]]

    def health(self, channel: str = "psa") -> ChannelHealth:
        with self.db.session() as session:
            [found] = [c for c in channel_status(session) if c.channel == channel]
        return found

    def writes(self, endpoint: str, method: str = "POST") -> int:
        return self.sim.state.writes(MSP, endpoint=endpoint, method=method)

    def post_ticket(self, xref: str) -> None:
        """A ticket filed by someone else through the API, carrying ``xref``."""
        body = {
            "summary": "copied",
            "company": {"identifier": "Acme"},
            "board": {"name": "Alerts"},
            "externalXRef": xref,
        }
        keys = self.config.connectwise_ticket[0]
        auth = (f"{MSP}+{keys.public_key}", keys.private_key.get_secret_value())
        with httpx.Client() as http:
            answer = http.post(
                f"{self.sim.api_url(MSP)}/service/tickets",
                auth=auth,
                headers={"clientId": keys.client_id},
                json=body,
            )
        answer.raise_for_status()
