"""Routing (pure): which channels hear a tenant's notification group.

Routes are tried in order, Alertmanager style: a route matches when the tenant is in its
``tenants`` (or it lists none), has one of its ``tags`` (or it lists none), and the group's
severity -- its worst opening item's -- is at least ``min_severity``. The first match wins
unless it says ``continue: true``. A group no route matches goes to every channel (the default
route), so a gap in the routes never loses an alert.

Closing items (resolved, recovered) go to the channels that heard the opening, recorded on the
alert state, so the people who were told something broke are the ones told it is fixed.

Critical never waits: there is no digest batching in this design. Every check's group is
written to the outbox in the check's own transaction and sent by the next dispatcher pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.alerts.config import NotifyConfig, Route
from monitor.alerts.model import AlertState, NotificationGroup, TenantRef
from monitor.core.findings import Severity


def match_routes(
    tenant: TenantRef, severity: Severity, routes: Sequence[Route], all_channels: Sequence[str]
) -> list[str]:
    """Channel names for a group of ``severity`` about ``tenant``, in configuration order."""
    chosen: list[str] = []
    matched = False
    for route in routes:
        if not _matches(route, tenant, severity):
            continue
        matched = True
        chosen.extend(c for c in route.channels if c not in chosen)
        if not route.continue_:
            break
    return chosen if matched else list(all_channels)


def _matches(route: Route, tenant: TenantRef, severity: Severity) -> bool:
    if route.tenants and tenant.id not in route.tenants:
        return False
    if route.tags and not set(route.tags) & set(tenant.tags):
        return False
    return severity.at_least(route.min_severity)


def route_group(
    group: NotificationGroup, states: Mapping[str, AlertState], policy: NotifyConfig
) -> dict[str, NotificationGroup]:
    """Split ``group`` into one sub-group per channel (one message per tenant per channel).

    ``states`` are the alert states after the lifecycle ran, keyed by alert key; a closing item
    whose opening channels are unknown or no longer configured is routed like an opening.
    """
    configured = policy.channel_names
    opening = tuple(e for e in group.events if e.kind.opens)
    per_channel: dict[str, list[int]] = {}
    if opening:
        severity = group.only(opening).severity
        for channel in match_routes(group.tenant, severity, policy.routes, configured):
            per_channel.setdefault(channel, []).extend(
                i for i, e in enumerate(group.events) if e.kind.opens
            )
    for index, event in enumerate(group.events):
        if event.kind.opens:
            continue
        state = states.get(event.alert_key)
        told = [c for c in (state.channels if state else ()) if c in configured]
        targets = told or match_routes(group.tenant, event.severity, policy.routes, configured)
        for channel in targets:
            per_channel.setdefault(channel, []).append(index)
    return {
        channel: group.only(tuple(group.events[i] for i in sorted(indexes)))
        for channel, indexes in sorted(per_channel.items(), key=lambda kv: configured.index(kv[0]))
    }


def opened_channels(routed: Mapping[str, NotificationGroup]) -> dict[str, tuple[str, ...]]:
    """Alert key -> the channels that heard an opening item of it (to store on the state)."""
    heard: dict[str, list[str]] = {}
    for channel, group in routed.items():
        for event in group.events:
            if event.kind.opens:
                heard.setdefault(event.alert_key, []).append(channel)
    return {key: tuple(channels) for key, channels in heard.items()}
