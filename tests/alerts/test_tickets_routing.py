"""Routes, silences and min_severity decide a ticket channel's share exactly as a Slack
channel's: the same table, asserted on what the check job queues for each (real database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alert_builders import T0, finding
from alert_db import enqueue, outbox
from ticket_builders import ACME_TICKETS, ticket_channel

from monitor.alerts.config import NotifyConfig
from monitor.alerts.model import TenantRef
from monitor.core.findings import Finding, Severity
from monitor.store.database import Database

CRITICAL = finding(severity=Severity.CRITICAL)
HIGH = finding(severity=Severity.HIGH)
MEDIUM = finding(severity=Severity.MEDIUM)
EXPIRES = (T0 + timedelta(days=1)).isoformat()
GLOBEX = TenantRef("globex", "Globex", tags=("vip",), ticket_company="Globex")


def config(
    routes: list[dict[str, Any]] | None = None,
    silences: list[dict[str, Any]] | None = None,
    psa: dict[str, Any] | None = None,
) -> NotifyConfig:
    slack = [
        {"name": n, "webhook_url": f"https://hooks.slack.com/services/T/B/{n}"}
        for n in ("ops", "vip")
    ]
    return NotifyConfig.model_validate(
        {
            "slack": slack,
            "connectwise_ticket": [ticket_channel(**(psa or {}))],
            "routes": routes or [],
            "silences": silences or [],
        }
    )


def silence(**target: str) -> dict[str, Any]:
    return {**target, "reason": "maintenance", "author": "ana", "expires": EXPIRES}


CASES = [
    # (id, config, tenant, findings, channels that get a message)
    ("default route: everyone", config(), ACME_TICKETS, [CRITICAL], {"ops", "vip", "psa"}),
    ("below the ticket minimum", config(), ACME_TICKETS, [MEDIUM], {"ops", "vip"}),
    (
        "ticket minimum lowered",
        config(psa={"min_severity": "medium"}),
        ACME_TICKETS,
        [MEDIUM],
        {"ops", "vip", "psa"},
    ),
    (
        "route by tenant, like slack",
        config([{"channels": ["vip", "psa"], "tenants": ["globex"]}, {"channels": ["ops"]}]),
        ACME_TICKETS,
        [CRITICAL],
        {"ops"},
    ),
    (
        "route by tenant, matched",
        config([{"channels": ["vip", "psa"], "tenants": ["globex"]}, {"channels": ["ops"]}]),
        GLOBEX,
        [CRITICAL],
        {"vip", "psa"},
    ),
    (
        "route by tag",
        config([{"channels": ["vip", "psa"], "tags": ["accounting"]}, {"channels": ["ops"]}]),
        ACME_TICKETS,
        [HIGH],
        {"vip", "psa"},
    ),
    (
        "route min_severity not met",
        config(
            [
                {"channels": ["vip", "psa"], "min_severity": "critical"},
                {"channels": ["ops"]},
            ]
        ),
        ACME_TICKETS,
        [HIGH],
        {"ops"},
    ),
    (
        "route min_severity met",
        config(
            [
                {"channels": ["vip", "psa"], "min_severity": "critical", "continue": True},
                {"channels": ["ops"]},
            ]
        ),
        ACME_TICKETS,
        [CRITICAL],
        {"vip", "psa", "ops"},
    ),
    (
        "tenant silenced",
        config(silences=[silence(tenant="acme")]),
        ACME_TICKETS,
        [CRITICAL],
        set(),
    ),
    (
        "rule silenced",
        config(silences=[silence(rule=CRITICAL.rule_id)]),
        ACME_TICKETS,
        [CRITICAL],
        set(),
    ),
    (
        "another tenant silenced",
        config(silences=[silence(tenant="globex")]),
        ACME_TICKETS,
        [CRITICAL],
        {"ops", "vip", "psa"},
    ),
]


@pytest.mark.parametrize(
    ("notify", "tenant", "findings", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_tickets_are_routed_silenced_and_thresholded_like_slack(
    db: Database,
    notify: NotifyConfig,
    tenant: TenantRef,
    findings: list[Finding],
    expected: set[str],
) -> None:
    enqueue(db, notify, findings=findings, tenant=tenant)
    assert {row.channel for row in outbox(db)} == expected
    kinds = {row.channel: row.kind for row in outbox(db)}
    assert all(kinds[c] == ("ticket" if c == "psa" else "slack") for c in kinds)


def test_a_silenced_drift_opens_its_ticket_when_the_silence_ends(db: Database) -> None:
    notify = config(silences=[silence(tenant="acme")])
    enqueue(db, notify, findings=[CRITICAL], tenant=ACME_TICKETS)
    assert outbox(db) == []
    after = T0 + timedelta(days=1, minutes=1)
    enqueue(db, notify, findings=[CRITICAL], tenant=ACME_TICKETS, now=after)
    assert {row.channel for row in outbox(db)} == {"ops", "vip", "psa"}
    psa = next(row for row in outbox(db) if row.channel == "psa")
    assert "was silenced until 2026-03-03 09:00 UTC" in psa.payload
