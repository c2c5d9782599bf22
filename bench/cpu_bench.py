"""CPU milliseconds per tenant check: collect + normalize + evaluate + store.

``time.process_time()`` over sequential checks (one at a time, so nothing overlaps) through an
in-process ASGI transport to the simulator. The simulator's own CPU is measured separately
(a wrapper around its ASGI app sums the process time spent inside it) and subtracted, so the
headline figure is cwdrift's CPU alone. The store is a SQLite file (the single-node default).
Also printed: the same pipeline stage by stage, to show where the time goes.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from bench.fleet import fleet_config, machine
from monitor import jobs
from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.normalize import normalize
from monitor.engine import diff, evaluate
from monitor.simulator.app import create_app
from monitor.simulator.scenario import generate_fleet
from monitor.simulator.state import SimulatorState
from monitor.store.checks import latest_snapshot, latest_snapshot_hash, record_check

TENANTS = 200
TARGET_MS = 5.0

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


class RecordingApp:
    """Records each request's ASGI scope, so the simulator's CPU can be measured alone later."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))
        await self.app(scope, receive, send)

    async def replay_cpu(self) -> float:
        """Process seconds the simulator alone spends answering the recorded requests."""

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_: Any) -> None:
            return None

        started = time.process_time()
        for scope in self.scopes:
            await self.app(scope, receive, send)
        return time.process_time() - started


async def main() -> None:
    print(f"# cpu_bench: {machine()}")
    server = RecordingApp(create_app(SimulatorState(generate_fleet(TENANTS, seed=7))))
    transport = httpx.ASGITransport(app=server)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = fleet_config(TENANTS, "http://127.0.0.1:8900", f"sqlite:///{tmp}/cpu.db")
        rt = jobs.Runtime.open(loaded, transport=transport)
        rt.limits = HostLimits(concurrency=64, per_minute=10_000_000)
        tenants = list(loaded.config.tenants)
        await jobs.check_many(rt, tenants[:10], in_flight=1)  # warm-up: imports, caches

        server.scopes.clear()
        started = time.process_time()
        for tenant in tenants:
            await jobs.check_tenant(rt, tenant)
        total = (time.process_time() - started) / len(tenants) * 1000
        simulator = await server.replay_cpu() / len(tenants) * 1000
        client = total - simulator
        verdict = "meets" if client <= TARGET_MS else "MISSES"
        print(
            f"{len(tenants)} sequential checks: {total:.1f} ms CPU/check in this process, of which "
            f"the simulator {simulator:.1f} ms; cwdrift {client:.1f} ms/check "
            f"(target <= {TARGET_MS:.0f} ms: {verdict}; ratio {client / TARGET_MS:.1f}x target)"
        )
        await stages(rt, tenants, transport, server)
        rt.db.dispose()


async def stages(
    rt: jobs.Runtime, tenants: list[Any], transport: httpx.AsyncBaseTransport, server: RecordingApp
) -> None:
    """The same pipeline, stage by stage (ms of CPU per tenant)."""
    spent = dict.fromkeys(("client setup+collect", "normalize", "evaluate+diff", "store"), 0.0)
    server.scopes.clear()
    for tenant in tenants:
        now = rt.clock()
        t0 = time.process_time()
        async with ConnectWiseClient(
            tenant.site,
            tenant.company_id,
            tenant.public_key,
            tenant.private_key,
            tenant.client_id,
            transport=transport,
            limits=rt.limits,
        ) as client:
            raw = await collect_tenant(
                client, tenant_id=tenant.id, integration_member=tenant.integration_member
            )
        t1 = time.process_time()
        snapshot = normalize(raw, now)
        t2 = time.process_time()
        with rt.db.session() as session:
            # as jobs._record does: decode the last snapshot only when the hash moved
            unchanged = latest_snapshot_hash(session, tenant.id) == snapshot.content_hash
            previous = None if unchanged else latest_snapshot(session, tenant.id)
            t3 = time.process_time()
            findings = evaluate(rt.baseline, snapshot, tenant.options, tenant.waivers, now)
            changes = [] if unchanged else diff(previous, snapshot)
            t4 = time.process_time()
            record_check(
                session,
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                started_at=now,
                finished_at=rt.clock(),
                snapshot=snapshot,
                changes=changes,
                findings=findings,
                error=None,
            )
        t5 = time.process_time()
        spent["client setup+collect"] += t1 - t0
        spent["normalize"] += t2 - t1
        spent["evaluate+diff"] += t4 - t3
        spent["store"] += (t3 - t2) + (t5 - t4)
    spent["client setup+collect"] -= await server.replay_cpu()
    print(
        "  by stage (simulator CPU excluded): "
        + ", ".join(f"{name} {value / len(tenants) * 1000:.1f} ms" for name, value in spent.items())
    )


if __name__ == "__main__":
    asyncio.run(main())
