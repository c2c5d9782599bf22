"""`cwdrift tickets check`: a ticket channel checked against the MSP's ConnectWise, reads only.

For each ``notify.connectwise_ticket`` channel: the board, statuses, type and priorities it
names; the company of every tenant the routes can send to it; the member's own permissions
(``/system/mySecurity``: Service Tickets Add/Edit/Inquire, Company Maintenance Inquire; the row
names are as the simulator and the vendor pages show them, unverified on a real tenant); and the
ticket the next incident would open, built by the real planner from a tenant's open alert (or
the baseline's most severe rule). Nothing is filed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.alerts.config import TicketChannel
from monitor.alerts.model import (
    COLLECTION_KEY,
    AlertEvent,
    AlertState,
    EventKind,
    NotificationGroup,
    TenantRef,
)
from monitor.alerts.ticket_sender import (
    Desk,
    Ref,
    find_company,
    note_body,
    open_client,
    resolve_desk,
    ticket_body,
)
from monitor.alerts.tickets import Incident, plan_tickets
from monitor.connectwise.client import ConnectWiseClient
from monitor.core.baseline import Baseline
from monitor.errors import CwdriftError
from monitor.jobs.runtime import Runtime
from monitor.permissions import (
    COMPANIES_INQUIRE,
    TICKETS_ADD,
    TICKETS_EDIT,
    TICKETS_INQUIRE,
)
from monitor.settings import Config, TenantConfig, routed_channels
from monitor.store.outbox import open_alerts
from monitor.store.tickets import incident_list

# What the ticket member needs [audit-tickets §4.6; the names are unverified on a real tenant].
NEEDED = (TICKETS_ADD, TICKETS_EDIT, TICKETS_INQUIRE, COMPANIES_INQUIRE)


@dataclass
class Problem:
    message: str
    fix: str

    @classmethod
    def of(cls, error: CwdriftError) -> Problem:
        return cls(error.message, error.fix)


@dataclass
class CompanyCheck:
    tenant_id: str
    identifier: str | None
    source: str  # "ticket_company" | "company" | "none"
    company: Ref | None = None
    problem: Problem | None = None


@dataclass
class PermissionCheck:
    permission: str  # e.g. "Service Desk > Service Tickets: Add"
    level: str | None  # None: the member's permission list does not show the row


@dataclass
class ChannelCheck:
    channel: str
    site: str
    desk: Desk | None = None
    companies: list[CompanyCheck] = field(default_factory=list)
    permissions: list[PermissionCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    next_ticket: dict[str, Any] | None = None
    incidents: list[Incident] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and all(c.problem is None for c in self.companies)
            and all(p.level != "None" for p in self.permissions)
        )


async def check_ticket_channels(rt: Runtime, channel: str | None = None) -> list[ChannelCheck]:
    """Check every ticket channel (or one), concurrently; reads only."""
    config = rt.config
    channels = [c for c in config.notify.connectwise_ticket if channel in (None, c.name)]
    with rt.db.session() as session:
        states = open_alerts(session)
        incidents = incident_list(session)
    return list(
        await asyncio.gather(
            *(_check(config, rt.baseline, c, states, incidents, rt.clock()) for c in channels)
        )
    )


async def _check(
    config: Config,
    baseline: Baseline,
    channel: TicketChannel,
    states: Sequence[AlertState],
    incidents: Sequence[Incident],
    now: datetime,
) -> ChannelCheck:
    result = ChannelCheck(
        channel=channel.name,
        site=channel.site,
        incidents=[i for i in incidents if i.channel == channel.name],
    )
    tenants = [
        t
        for t in config.tenants
        if channel.name in routed_channels(_ref(t), channel.min_severity, config)
    ]
    try:
        async with open_client(channel) as cw:
            result.permissions = await _permissions(cw)
            try:
                result.desk = await resolve_desk(cw, channel)
            except CwdriftError as exc:
                result.problems.append(Problem.of(exc))
            for tenant in tenants:
                result.companies.append(await _company(cw, channel, tenant))
    except CwdriftError as exc:  # keys refused, site unreachable, ...
        result.problems.append(Problem.of(exc))
        return result
    result.next_ticket = _next_ticket(channel, tenants, result, states, baseline, now)
    return result


async def _permissions(cw: ConnectWiseClient) -> list[PermissionCheck]:
    """The member's own levels for the rows it needs (every member may read its own)."""
    rows = await cw.get_list("/system/mySecurity")
    found = []
    for permission in NEEDED:
        where, op = permission.rsplit(": ", 1)  # "Module > Function: Level"
        module, function = where.split(" > ", 1)
        row = next((r for r in rows if _is_row(r, module, function)), None)
        level = row.get(f"{op.lower()}Level") if row is not None else None
        found.append(PermissionCheck(permission, None if level is None else str(level)))
    return found


def _is_row(row: dict[str, Any], module: str, function: str) -> bool:
    names = (row.get("moduleName") or row.get("moduleDescription"), row.get("moduleFunctionName"))
    return tuple(str(n or "").casefold() for n in names) == (module.casefold(), function.casefold())


async def _company(
    cw: ConnectWiseClient, channel: TicketChannel, tenant: TenantConfig
) -> CompanyCheck:
    if tenant.ticket_company is not None:
        identifier, source = tenant.ticket_company, "ticket_company"
    elif channel.company is not None:
        identifier, source = channel.company, "company"
    else:  # the config loader refuses this; kept for configs validated before that rule
        return CompanyCheck(
            tenant.id,
            None,
            "none",
            problem=Problem(
                f"tenant {tenant.id!r} has no ticket_company and the channel no company",
                f"set ticket_company on tenant {tenant.id}, or company on the channel",
            ),
        )
    check = CompanyCheck(tenant.id, identifier, source)
    try:
        check.company = await find_company(cw, channel, identifier)
    except CwdriftError as exc:
        check.problem = Problem.of(exc)
    return check


def _next_ticket(
    channel: TicketChannel,
    tenants: Sequence[TenantConfig],
    result: ChannelCheck,
    states: Sequence[AlertState],
    baseline: Baseline,
    now: datetime,
) -> dict[str, Any] | None:
    """What the next incident's ticket would be: the real planner and request bodies, from the
    worst open alert of a routed tenant that has no open ticket yet (else the baseline's most
    severe rule, marked as an example)."""
    if result.desk is None or not tenants:
        return None
    by_id = {t.id: t for t in tenants}
    ticketed = {i.tenant_id for i in result.incidents if i.is_open}
    failing = [
        s
        for s in states
        if s.tenant_id in by_id
        and s.tenant_id not in ticketed  # those get notes on their ticket, not a new one
        and s.alert_key != COLLECTION_KEY
        and s.severity.at_least(channel.min_severity)
    ]
    rules = {rule.id: rule for rule in baseline}
    if failing:
        state = max(failing, key=lambda s: s.severity.rank)
        rule = rules.get(state.alert_key)
        tenant, example = by_id[state.tenant_id], False
        event = AlertEvent(
            kind=EventKind.NEW,
            alert_key=state.alert_key,
            label=state.label,
            severity=state.severity,
            first_seen=state.opened_at,
            remediation=rule.remediation if rule is not None else "",
        )
    else:
        severe = [r for r in baseline if r.severity.at_least(channel.min_severity)]
        if not severe:
            return None
        rule = max(severe, key=lambda r: r.severity.rank)
        tenant, example = tenants[0], True
        event = AlertEvent(
            kind=EventKind.NEW,
            alert_key=rule.id,
            label=rule.label,
            severity=rule.severity,
            remediation=rule.remediation,
            note="an example: this rule is not failing",
        )
    group = NotificationGroup(tenant=_ref(tenant), checked_at=now, events=(event,))
    plan = plan_tickets(group, channel, [])
    assert plan.message is not None  # a NEW event at or above the minimum opens an incident
    step = plan.message.steps[0]
    company = next((c.company for c in result.companies if c.tenant_id == tenant.id), None)
    return {
        "tenant": tenant.id,
        "example": example,
        "ticket": ticket_body(channel, result.desk, company or Ref(0, "?"), step),
        "company": None if company is None else {"id": company.id, "name": company.name},
        "note": note_body(channel, step),
    }


def _ref(tenant: TenantConfig) -> TenantRef:
    return TenantRef(tenant.id, tenant.name, tenant.tags, tenant.ticket_company)
