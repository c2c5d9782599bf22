"""Database helpers for the alert tests: enqueue one check, read the outbox back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alert_builders import ACME, T0, finding
from sqlmodel import col, select

from monitor.alerts.config import NotifyConfig
from monitor.alerts.model import TenantRef
from monitor.core.findings import Finding
from monitor.errors import CwdriftError
from monitor.jobs.check import queue_alerts
from monitor.store.alert_tables import ChannelStatusRow, OutboxMessage
from monitor.store.database import Database


def enqueue(
    db: Database,
    config: NotifyConfig,
    *,
    findings: Sequence[Finding] | None = None,
    error: CwdriftError | None = None,
    now: datetime = T0,
    tenant: TenantRef = ACME,
) -> list[dict[str, Any]]:
    """One check's alerts, committed; returns the payloads written."""
    if findings is None and error is None:
        findings = [finding()]
    with db.session() as session:
        rows = queue_alerts(
            session,
            tenant=tenant,
            findings=findings,
            error=error,
            changes=[],
            who={},
            now=now,
            policy=config,
        )
        return [json.loads(row.payload) for row in rows]


def outbox(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def channel_row(db: Database, name: str) -> ChannelStatusRow | None:
    with db.session() as session:
        return session.get(ChannelStatusRow, name)
