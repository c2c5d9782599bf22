"""Housekeeping: retention of redundant check rows, and the numbers behind the /metrics gauges."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from monitor.core.findings import Severity
from monitor.jobs.runtime import Runtime
from monitor.store.health_reads import check_health
from monitor.store.history import open_findings, prune_checks
from monitor.store.runs import Outcome

log = logging.getLogger("cwdrift.jobs")


async def prune(rt: Runtime) -> int:
    """Retention: drop redundant check rows older than the horizon; changes stay forever."""
    cutoff = rt.clock() - rt.config.retention.check_rows

    def run() -> int:
        with rt.db.session() as session:
            return prune_checks(session, older_than=cutoff)

    deleted = await asyncio.to_thread(run)
    log.info("retention pruned %d check rows older than %s", deleted, cutoff.isoformat())
    return deleted


@dataclass(frozen=True)
class TenantStanding:
    tenant_id: str
    failing: bool  # its newest recorded check could not read the tenant
    last_success: datetime | None
    open_findings: dict[str, int]  # every severity, zeros included


@dataclass(frozen=True)
class FleetStanding:
    """The configured tenants' checks and findings as the store has them (all nodes' work)."""

    tenants: list[TenantStanding]
    open_by_severity: dict[str, int]  # the whole store's failing findings, as before

    @property
    def failing(self) -> int:
        return sum(t.failing for t in self.tenants)

    @property
    def last_success(self) -> datetime | None:
        return max((t.last_success for t in self.tenants if t.last_success), default=None)


async def fleet_standing(rt: Runtime) -> FleetStanding:
    """Two reads: each tenant's newest and newest good check, and every failing finding."""
    configured = [tenant.id for tenant in rt.config.tenants]

    def run() -> FleetStanding:
        with rt.db.session() as session:
            checks = {row.tenant_id: row for row in check_health(session)}
            findings = open_findings(session)
        by_tenant: dict[str, Counter[str]] = {tenant: Counter() for tenant in configured}
        for finding in findings:
            if finding.tenant_id in by_tenant:
                by_tenant[finding.tenant_id][finding.severity.value] += 1
        tenants = []
        for tenant in configured:
            row = checks.get(tenant)
            tenants.append(
                TenantStanding(
                    tenant_id=tenant,
                    failing=row is not None and row.last_outcome == Outcome.ERROR,
                    last_success=row.last_success_at if row else None,
                    open_findings={s.value: by_tenant[tenant][s.value] for s in Severity},
                )
            )
        return FleetStanding(
            tenants=tenants,
            open_by_severity=dict(Counter(f.severity.value for f in findings)),
        )

    return await asyncio.to_thread(run)
