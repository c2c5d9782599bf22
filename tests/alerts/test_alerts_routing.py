"""Routing tables: which channels hear which tenant's group."""

from __future__ import annotations

from typing import Any

import pytest
from alert_builders import ACME, EXPENSE_RULE, T0, hours, policy

from monitor.alerts.config import NotifyConfig
from monitor.alerts.model import (
    AlertEvent,
    AlertState,
    AlertStatus,
    EventKind,
    NotificationGroup,
    TenantRef,
)
from monitor.alerts.routing import match_routes, opened_channels, route_group
from monitor.core.findings import Severity

HOOK = "https://hooks.slack.com/services/T0/B0/secret"
CHANNELS: dict[str, Any] = {
    "slack": [{"name": "ops", "webhook_url": HOOK}, {"name": "pager", "webhook_url": HOOK}],
    "email": [
        {
            "name": "finance",
            "host": "smtp.example.com",
            "sender": "cwdrift@example.com",
            "recipients": ["finance@example.com"],
        }
    ],
}
GLOBEX = TenantRef(id="globex", name="Globex", tags=("msp",))


def config(*routes: dict[str, Any]) -> NotifyConfig:
    return policy(**CHANNELS, routes=list(routes))


ROUTING = [
    ("no routes: every channel", config(), ACME, Severity.LOW, ["ops", "pager", "finance"]),
    (
        "first match wins",
        config({"channels": ["ops"]}, {"channels": ["finance"]}),
        ACME,
        Severity.LOW,
        ["ops"],
    ),
    (
        "continue keeps matching",
        config({"channels": ["pager"], "continue": True}, {"channels": ["ops"]}),
        ACME,
        Severity.LOW,
        ["pager", "ops"],
    ),
    (
        "severity below a route's minimum skips it",
        config({"channels": ["pager"], "min_severity": "critical"}, {"channels": ["ops"]}),
        ACME,
        Severity.HIGH,
        ["ops"],
    ),
    (
        "critical reaches the pager and, with continue, the rest",
        config(
            {"channels": ["pager"], "min_severity": "critical", "continue": True},
            {"channels": ["ops"]},
        ),
        ACME,
        Severity.CRITICAL,
        ["pager", "ops"],
    ),
    (
        "by tenant id",
        config({"channels": ["finance"], "tenants": ["globex"]}, {"channels": ["ops"]}),
        GLOBEX,
        Severity.LOW,
        ["finance"],
    ),
    (
        "by tag",
        config({"channels": ["finance"], "tags": ["accounting"]}, {"channels": ["ops"]}),
        ACME,
        Severity.LOW,
        ["finance"],
    ),
    (
        "no route matches: the default route is every channel",
        config({"channels": ["finance"], "tenants": ["globex"]}),
        ACME,
        Severity.LOW,
        ["ops", "pager", "finance"],
    ),
]


@pytest.mark.parametrize(
    ("routes", "tenant", "severity", "expected"),
    [case[1:] for case in ROUTING],
    ids=[case[0] for case in ROUTING],
)
def test_match_routes(
    routes: NotifyConfig, tenant: TenantRef, severity: Severity, expected: list[str]
) -> None:
    assert match_routes(tenant, severity, routes.routes, routes.channel_names) == expected


def event(
    kind: EventKind, key: str = EXPENSE_RULE, severity: Severity = Severity.LOW
) -> AlertEvent:
    return AlertEvent(kind=kind, alert_key=key, label=key, severity=severity)


def test_group_goes_by_its_worst_item_and_one_message_per_channel() -> None:
    routes = config({"channels": ["pager"], "min_severity": "critical"}, {"channels": ["ops"]})
    group = NotificationGroup(
        ACME,
        T0,
        (event(EventKind.NEW, "a", Severity.CRITICAL), event(EventKind.NEW, "b", Severity.LOW)),
    )
    routed = route_group(group, {}, routes)
    assert list(routed) == ["pager"]
    assert [e.alert_key for e in routed["pager"].events] == ["a", "b"]
    assert opened_channels(routed) == {"a": ("pager",), "b": ("pager",)}


def test_resolution_goes_where_the_opening_went() -> None:
    routes = config({"channels": ["ops"]})
    state = AlertState(
        tenant_id="acme",
        alert_key=EXPENSE_RULE,
        status=AlertStatus.RESOLVED,
        label="x",
        severity=Severity.CRITICAL,
        opened_at=T0,
        resolved_at=hours(1),
        channels=("pager", "finance"),
    )
    group = NotificationGroup(ACME, hours(1), (event(EventKind.RESOLVED),))
    routed = route_group(group, {EXPENSE_RULE: state}, routes)
    assert list(routed) == ["pager", "finance"]


def test_resolution_with_unknown_opening_channels_is_routed_like_an_opening() -> None:
    routes = config({"channels": ["ops"]})
    group = NotificationGroup(ACME, hours(1), (event(EventKind.RESOLVED),))
    assert list(route_group(group, {}, routes)) == ["ops"]
