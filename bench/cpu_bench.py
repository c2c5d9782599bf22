"""CPU milliseconds per tenant check: collect + normalize + evaluate + store.

``time.process_time()`` of this process over sequential checks (one at a time, so nothing
overlaps) against the simulator running in its own process over real HTTP, so the simulator's
CPU is not counted and nothing has to be subtracted. The checks use the production path
(``check_tenant``: the shared connection pool, the codebase cache, the store in a worker
thread, which ``process_time`` counts too). The store is a SQLite file (the single-node default).

The first pass (every tenant's first check: whole snapshots stored) is printed apart from the
steady state (later checks; nothing changed), which is what every interval costs.
Also printed: the steady state stage by stage, to show where the time goes.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import Any

from bench.fleet import fleet_config, machine, simulator_process
from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.normalize import normalize
from monitor.core.evaluate import diff, evaluate
from monitor.jobs.check import check_tenant
from monitor.jobs.runtime import Runtime
from monitor.store.runs import latest_snapshot, record_run, stored_tenant

TENANTS = 200
TARGET_MS = 5.0


async def main() -> None:
    print(f"# cpu_bench: {machine()}")
    with simulator_process(TENANTS, 0.0) as url, tempfile.TemporaryDirectory() as tmp:
        loaded = fleet_config(TENANTS, url, f"sqlite:///{tmp}/cpu.db")
        rt = Runtime.open(loaded)
        rt.limits = HostLimits(concurrency=64, per_minute=10_000_000)
        tenants = list(loaded.config.tenants)
        first = await per_check_cpu(rt, tenants)
        steady = min([await per_check_cpu(rt, tenants) for _ in range(3)])
        verdict = "meets" if steady <= TARGET_MS else "MISSES"
        print(
            f"{len(tenants)} sequential checks, simulator in its own process: first checks "
            f"{first:.1f} ms CPU/check; steady state {steady:.1f} ms CPU/check "
            f"(target <= {TARGET_MS:.0f} ms: {verdict}; ratio {steady / TARGET_MS:.2f} of target)"
        )
        await stages(rt, tenants)
        await rt.aclose()
        rt.db.dispose()


async def per_check_cpu(rt: Runtime, tenants: list[Any]) -> float:
    """CPU ms of this process per check, checks one at a time."""
    started = time.process_time()
    for tenant in tenants:
        result = await check_tenant(rt, tenant)
        if result.status == "error":
            raise SystemExit(f"{tenant.id}: {result.error}")
    return (time.process_time() - started) / len(tenants) * 1000


async def stages(rt: Runtime, tenants: list[Any]) -> None:
    """The same pipeline, stage by stage (ms of CPU per tenant), all in this thread."""
    spent = dict.fromkeys(("collect", "normalize", "evaluate+diff", "store"), 0.0)
    for tenant in tenants:
        now = rt.clock()
        t0 = time.process_time()
        async with ConnectWiseClient(
            tenant.site,
            tenant.company_id,
            tenant.public_key,
            tenant.private_key,
            tenant.client_id,
            http=rt.http.client(),
            read_cache=rt.read_cache,
            limits=rt.limits,
        ) as client:
            raw = await collect_tenant(
                client, tenant_id=tenant.id, integration_member=tenant.integration_member
            )
        t1 = time.process_time()
        snapshot = normalize(raw, now)
        t2 = time.process_time()
        with rt.db.session() as session:
            # as jobs.check._record does: read the tenant once, decode the last snapshot only when
            # the hash moved, and hand what was read to record_run
            stored = stored_tenant(session, tenant.id)
            unchanged = stored.content_hash == snapshot.content_hash
            previous = None if unchanged else latest_snapshot(session, tenant.id)
            t3 = time.process_time()
            findings = evaluate(rt.baseline, snapshot, tenant.options, tenant.waivers, now)
            changes = [] if unchanged else diff(previous, snapshot)
            t4 = time.process_time()
            record_run(
                session,
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                started_at=now,
                finished_at=rt.clock(),
                snapshot=snapshot,
                changes=changes,
                findings=findings,
                error=None,
                stored=stored,
            )
        t5 = time.process_time()
        spent["collect"] += t1 - t0
        spent["normalize"] += t2 - t1
        spent["evaluate+diff"] += t4 - t3
        spent["store"] += (t3 - t2) + (t5 - t4)
    print(
        "  steady state by stage: "
        + ", ".join(f"{name} {value / len(tenants) * 1000:.1f} ms" for name, value in spent.items())
        + " (the store here without the alert outbox, which check_tenant also runs)"
    )


if __name__ == "__main__":
    asyncio.run(main())
