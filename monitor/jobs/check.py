"""Check one tenant, or many: collect (I/O) -> normalize -> evaluate + diff (pure) -> one
transaction that records the run and queues the alerts it causes (outbox).

A check that follows cwdrift's own writes (``fixes``) is their verification: the re-read
decides whether each fix held, and the alerts say so (``monitor.jobs.fix``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from monitor.alerts.config import NotifyConfig, Silence
from monitor.alerts.lifecycle import Plan, plan_alerts
from monitor.alerts.model import FixNote, TenantRef
from monitor.alerts.notify import notifications
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.normalize import normalize
from monitor.connectwise.raw import RawTenant
from monitor.core.evaluate import diff, evaluate
from monitor.core.findings import Change, Finding
from monitor.core.snapshot import CredentialMode, Snapshot
from monitor.errors import ConnectWiseError, CwdriftError
from monitor.jobs.runtime import Runtime
from monitor.settings import TenantConfig
from monitor.store.alert_tables import OutboxMessage
from monitor.store.outbox import load_states, queue_messages, write_states
from monitor.store.runs import latest_snapshot, record_run, stored_tenant
from monitor.store.silences import active_silences
from monitor.store.tickets import load_incidents, save_incidents
from monitor.store.waivers import effective_waivers
from monitor.weblinks import WebLinks, links_for

log = logging.getLogger("cwdrift.jobs")


@dataclass
class TenantResult:
    """One tenant's check, as the CLI prints it and tests assert it."""

    tenant_id: str
    name: str
    checked_at: datetime
    status: str  # "compliant" | "drift" | "error"
    credential_mode: CredentialMode | None = None
    error: CwdriftError | None = None
    findings: list[Finding] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    alerts_queued: int = 0
    run_id: int | None = None
    # What was read, kept only when asked (``keep_raw``): planning fixes needs the records' ids.
    raw: RawTenant | None = field(default=None, repr=False, compare=False)
    snapshot: Snapshot | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "name": self.name,
            "status": self.status,
            "credential_mode": self.credential_mode.value if self.credential_mode else None,
            "error": self.error.as_dict() if self.error else None,
            "findings": [f.to_dict() for f in self.findings],
            "changes": [c.to_dict() for c in self.changes],
        }


async def check_tenant(
    rt: Runtime,
    tenant: TenantConfig,
    *,
    fixes: Mapping[str, FixNote] | None = None,
    keep_raw: bool = False,
) -> TenantResult:
    """Collect, evaluate and record one tenant. Never raises for a tenant's own failure.

    ``fixes`` are the writes cwdrift sent just before this check (rule id -> who), which this
    check verifies; ``keep_raw`` keeps the records read on the result.
    """
    started = rt.clock()
    snapshot: Snapshot | None = None
    raw: RawTenant | None = None
    error: CwdriftError | None = None
    try:
        raw = await collect(rt, tenant)
        snapshot = normalize(raw, started)
    except ConnectWiseError as exc:
        error = exc
    except CwdriftError as exc:  # e.g. a site refused as plain http
        error = exc
    log.info(
        "collected tenant=%s outcome=%s",
        tenant.id,
        "error" if error else "ok",
        extra={"tenant": tenant.id},
    )
    # The store is synchronous; keep the event loop free for other tenants' reads.
    result = await asyncio.to_thread(_record, rt, tenant, started, snapshot, error, fixes)
    if keep_raw:
        result.raw, result.snapshot = raw, snapshot
    return result


async def collect(rt: Runtime, tenant: TenantConfig) -> RawTenant:
    """One complete read of the tenant with its read keys (a typed error otherwise).

    The read cache is loaded first (once per process) and what the read changed in it is
    written after, success or not (a forgotten entry must stay forgotten).
    """
    await rt.read_cache.load()
    try:
        async with rt.client(tenant) as client:
            return await collect_tenant(
                client, tenant_id=tenant.id, integration_member=tenant.integration_member
            )
    finally:
        await rt.read_cache.flush()


def _record(
    rt: Runtime,
    tenant: TenantConfig,
    started: datetime,
    snapshot: Snapshot | None,
    error: CwdriftError | None,
    fixes: Mapping[str, FixNote] | None = None,
) -> TenantResult:
    """One transaction: the check, its changes, finding states and the alerts they cause."""
    now = rt.clock()
    findings: list[Finding] | None = None
    changes: list[Change] = []
    with rt.db.session() as session:
        stored = stored_tenant(session, tenant.id)
        if snapshot is not None:
            waivers = effective_waivers(session, tenant, now, in_database=stored.has_waivers)
            findings = evaluate(rt.baseline, snapshot, tenant.options, waivers, now)
            # Most checks find nothing changed: compare hashes before decoding the last snapshot.
            if stored.content_hash != snapshot.content_hash:
                changes = diff(latest_snapshot(session, tenant.id), snapshot)
        record = record_run(
            session,
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            started_at=started,
            finished_at=now,
            snapshot=snapshot,
            changes=changes,
            findings=findings,
            error=error,
            stored=stored,
        )
        queued = queue_alerts(
            session,
            tenant=TenantRef(
                id=tenant.id,
                name=tenant.name,
                tags=tuple(tenant.tags),
                ticket_company=tenant.ticket_company,
            ),
            findings=findings,
            error=error,
            changes=changes,
            who=_who_changed(snapshot),
            now=now,
            policy=rt.config.notify,
            fixes=fixes,
            links=links_for(rt.config.web.base_url),
        )
    return TenantResult(
        tenant_id=tenant.id,
        name=tenant.name,
        checked_at=started,
        status=record.outcome,
        credential_mode=snapshot.credential_mode if snapshot else None,
        error=error,
        findings=findings or [],
        changes=changes,
        alerts_queued=len(queued),
        run_id=record.run_id,
    )


def _who_changed(snapshot: Snapshot | None) -> Mapping[str, tuple[str | None, str | None]]:
    """Setting key -> (ConnectWise updatedBy, lastUpdated), for alerts that say who changed it."""
    return {} if snapshot is None else snapshot.provenance()


CheckOne = Callable[[Runtime, TenantConfig], Awaitable[TenantResult]]


async def check_many(
    rt: Runtime,
    tenants: Iterable[TenantConfig],
    *,
    in_flight: int | None = None,
    check: CheckOne | None = None,
    on_done: Callable[[TenantResult], None] | None = None,
) -> list[TenantResult]:
    """Check tenants concurrently, at most ``in_flight`` at once; one failure never stops others.

    ``check`` checks one tenant (default :func:`check_tenant`; the daemon's flow also fixes);
    ``on_done`` hears of each tenant as it finishes (the command line's progress bar).
    """
    limit = asyncio.Semaphore(in_flight or rt.config.daemon.tenants_in_flight)
    check_one: CheckOne = check or check_tenant

    async def one(tenant: TenantConfig) -> TenantResult:
        async with limit:
            result = await check_one(rt, tenant)
        if on_done is not None:
            on_done(result)
        return result

    return list(await asyncio.gather(*(one(t) for t in tenants)))


def queue_alerts(
    session: Session,
    *,
    tenant: TenantRef,
    findings: Sequence[Finding] | None,
    error: CwdriftError | None,
    changes: Sequence[Change],
    who: Mapping[str, tuple[str | None, str | None]],
    now: datetime,
    policy: NotifyConfig,
    fixes: Mapping[str, FixNote] | None = None,
    links: WebLinks | None = None,
) -> list[OutboxMessage]:
    """Advance the tenant's alerts and queue one outbox row per channel that must hear of it.

    Does not commit: the caller's transaction holds the check, the states and the messages, so
    a crash can delay a message, never lose it or send it for a check that was not recorded.
    Only states that moved are written, and a check that notifies nobody writes nothing.
    ``links``: the messages link to the web pages (``web.base_url``).
    """
    stored = {state.alert_key: state for state in load_states(session, tenant.id)}

    def plan(silences: Sequence[Silence]) -> Plan:
        return plan_alerts(
            tenant=tenant,
            previous=stored.values(),
            findings=findings,
            error=error,
            changes=changes,
            who=who,
            policy=policy,
            now=now,
            silences=silences,
            fixes=fixes,
        )

    planned = plan(())
    if planned.consulted_silences:  # most checks never ask, and then need not read them
        planned = plan(active_silences(session, tenant_id=tenant.id, now=now))
    if links is not None and planned.group is not None:
        planned = replace(planned, group=replace(planned.group, links=links))
    # Ticket channels keep incidents: read them only when one is configured.
    incidents = load_incidents(session, tenant.id) if policy.connectwise_ticket else []
    outgoing = notifications(planned, policy, incidents, tenant=tenant, now=now)
    moved = [s for s in outgoing.states.values() if stored.get(s.alert_key) != s]
    write_states(session, moved, stored)
    save_incidents(session, outgoing.incidents)
    return queue_messages(session, tenant.id, outgoing.messages, now)
