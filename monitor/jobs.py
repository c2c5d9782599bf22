"""The use cases, orchestration only: check one tenant, check many, send pending alerts.

    collect (I/O) -> normalize -> evaluate + diff (pure) -> one transaction: record the check and
    enqueue its alerts (outbox) -> dispatch (I/O)

The CLI, the daemon and the benchmarks all call these functions; none of them knows how a
check is scheduled.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.alerts.channels import build_channels
from monitor.alerts.dispatch import DispatchReport, dispatch_pending
from monitor.alerts.outbox import TenantRef, enqueue_for_check
from monitor.clock import utcnow
from monitor.connectwise.client import ConnectWiseClient, RetryPolicy
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.normalize import normalize
from monitor.connectwise.session import CompanyInfoCache, SharedHttp
from monitor.core.baseline import Baseline, load_baseline
from monitor.core.evaluate import diff, evaluate
from monitor.core.findings import Change, Finding
from monitor.core.snapshot import CredentialMode, Snapshot
from monitor.errors import ConnectWiseError, CwdriftError
from monitor.reports.send import report_due, send_weekly
from monitor.settings import Config, LoadedConfig, TenantConfig
from monitor.store.checks import latest_snapshot, record_check, stored_tenant
from monitor.store.database import Database
from monitor.store.history import open_findings, prune_checks
from monitor.store.waivers import effective_waivers

log = logging.getLogger("cwdrift.jobs")

Clock = Callable[[], datetime]


@dataclass
class Runtime:
    """What checks share within one process: config, baseline, database, host limits, and the
    pooled HTTP connections and codebase answers (``aclose`` when done with ConnectWise)."""

    loaded: LoadedConfig
    baseline: Baseline
    db: Database
    limits: HostLimits
    http: SharedHttp = field(default_factory=SharedHttp)
    company_info: CompanyInfoCache = field(default_factory=CompanyInfoCache)
    clock: Clock = utcnow

    @classmethod
    def open(
        cls,
        loaded: LoadedConfig,
        *,
        http: SharedHttp | None = None,
        clock: Clock = utcnow,
        migrate: bool = True,
    ) -> Runtime:
        db = Database(loaded.config.database)
        if migrate:
            db.migrate()
        cw = loaded.config.connectwise
        baseline = load_baseline(loaded.baseline_path)
        loaded.check_rules_exist(baseline.ids)
        return cls(
            loaded=loaded,
            baseline=baseline,
            db=db,
            limits=HostLimits(
                concurrency=cw.concurrency_per_host, per_minute=cw.requests_per_minute
            ),
            http=http or SharedHttp(),
            clock=clock,
        )

    async def aclose(self) -> None:
        """Close the pooled ConnectWise connections (the database stays usable)."""
        await self.http.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *_: object) -> None:
        # ``async with runtime:`` around checks run under their own asyncio.run, so the pooled
        # connections are closed while their event loop still runs.
        await self.aclose()

    @property
    def config(self) -> Config:
        return self.loaded.config


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


async def check_tenant(rt: Runtime, tenant: TenantConfig) -> TenantResult:
    """Collect, evaluate and record one tenant. Never raises for a tenant's own failure."""
    started = rt.clock()
    snapshot: Snapshot | None = None
    error: CwdriftError | None = None
    try:
        snapshot = await _collect(rt, tenant, started)
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
    return await asyncio.to_thread(_record, rt, tenant, started, snapshot, error)


async def _collect(rt: Runtime, tenant: TenantConfig, started: datetime) -> Snapshot:
    cw = rt.config.connectwise
    async with ConnectWiseClient(
        tenant.site,
        tenant.company_id,
        tenant.public_key,
        tenant.private_key,
        tenant.client_id,
        http=rt.http.client(),
        company_info=rt.company_info,
        limits=rt.limits,
        retry=RetryPolicy(attempts=cw.max_attempts),
        timeout=cw.timeout_seconds,
        tenant=tenant.id,
    ) as client:
        raw = await collect_tenant(
            client, tenant_id=tenant.id, integration_member=tenant.integration_member
        )
    return normalize(raw, started)


def _record(
    rt: Runtime,
    tenant: TenantConfig,
    started: datetime,
    snapshot: Snapshot | None,
    error: CwdriftError | None,
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
        record = record_check(
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
        queued = enqueue_for_check(
            session,
            tenant=TenantRef(id=tenant.id, name=tenant.name, tags=tuple(tenant.tags)),
            findings=findings,
            error=error,
            changes=changes,
            who=_who_changed(snapshot),
            now=now,
            policy=rt.config.notify,
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
    )


def _who_changed(snapshot: Snapshot | None) -> Mapping[str, tuple[str | None, str | None]]:
    """Setting key -> (ConnectWise updatedBy, lastUpdated), for alerts that say who changed it."""
    return {} if snapshot is None else snapshot.provenance()


async def check_many(
    rt: Runtime, tenants: Iterable[TenantConfig], *, in_flight: int | None = None
) -> list[TenantResult]:
    """Check tenants concurrently, at most ``in_flight`` at once; one failure never stops others."""
    limit = asyncio.Semaphore(in_flight or rt.config.daemon.tenants_in_flight)

    async def one(tenant: TenantConfig) -> TenantResult:
        async with limit:
            return await check_tenant(rt, tenant)

    return list(await asyncio.gather(*(one(t) for t in tenants)))


async def dispatch(rt: Runtime) -> DispatchReport:
    """Send every due outbox message to its channel."""
    channels = build_channels(rt.config.notify)
    return await dispatch_pending(rt.db, channels, rt.clock())


async def send_report_if_due(rt: Runtime) -> list[str]:
    """The weekly report, once its slot has passed this week (sending is idempotent per week)."""
    now = rt.clock()
    if not report_due(rt.config.report, now):
        return []
    return await send_weekly(rt, now)


async def prune(rt: Runtime) -> int:
    """Retention: drop redundant check rows older than the horizon; changes stay forever."""
    cutoff = rt.clock() - rt.config.retention.check_rows

    def run() -> int:
        with rt.db.session() as session:
            return prune_checks(session, older_than=cutoff)

    deleted = await asyncio.to_thread(run)
    log.info("retention pruned %d check rows older than %s", deleted, cutoff.isoformat())
    return deleted


async def open_findings_by_severity(rt: Runtime) -> dict[str, int]:
    """Failing findings across the fleet by severity (the /metrics gauge)."""

    def run() -> dict[str, int]:
        with rt.db.session() as session:
            return dict(Counter(f.severity.value for f in open_findings(session)))

    return await asyncio.to_thread(run)


def select_tenants(loaded: LoadedConfig, tenant_ids: Sequence[str] | None) -> list[TenantConfig]:
    """The tenants named (each must exist), or all of them."""
    config = loaded.config
    if not tenant_ids:
        return list(config.tenants)
    return [config.tenant(tenant_id) for tenant_id in tenant_ids]
