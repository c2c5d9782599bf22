"""Full check cycles over 100, 500 and 2,000 simulated tenants with 100 ms per request.

Prints wall time, requests per second, the ratio of the ideal bound
(tenants x requests x latency / concurrency) to the wall time, and the speedup over a
sequential client (the same checks with one request at a time: one tenant in flight and a
per-host concurrency of 1, as a user's script would read) measured on 100 tenants in this run.

Each size runs two cycles on a fresh database: the first (every tenant's first snapshot is
stored whole, codebases looked up) is printed for reference; the second is the steady state
every later interval costs (nothing changed; codebase answers cached), and carries the ratio.
The sequential client is timed on a steady cycle too, so both sides do the same work.

The simulator runs in its own process and counts the requests it answers. Every tenant here
sits on ONE simulator host, so the per-host limits are set explicitly for the benchmark
(concurrency CONCURRENCY, no rate cap); in reality tenants sit on different hosts, each with its
own limits. Checks use the production path (one pooled session shared by every tenant, the
codebase cache) and store into a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import os
import time

from bench.fleet import fleet_config, fresh_postgres, machine, served_requests, simulator_process
from monitor.connectwise.limits import HostLimits
from monitor.jobs.check import check_many
from monitor.jobs.runtime import Runtime

LATENCY = 0.1
CONCURRENCY = int(os.environ.get("CWDRIFT_BENCH_CONCURRENCY", "48"))  # config allows up to 64
SIZES = tuple(int(s) for s in os.environ.get("CWDRIFT_BENCH_SIZES", "100,500,2000").split(","))
SEQUENTIAL_TENANTS = 100


Timing = tuple[float, int]  # wall seconds, requests served


async def cycles(url: str, n: int, *, concurrency: int, in_flight: int) -> tuple[Timing, Timing]:
    """The first and the steady (second) cycle over ``n`` tenants on a fresh database."""
    with fresh_postgres(f"cycle{n}") as database:
        loaded = fleet_config(n, url, database)
        rt = Runtime.open(loaded)
        # Benchmark-only limits: every tenant shares one host here (see module docstring).
        rt.limits = HostLimits(concurrency=CONCURRENCY, per_minute=10_000_000)
        first = await timed_cycle(rt, url, in_flight=2 * CONCURRENCY)
        rt.limits = HostLimits(concurrency=concurrency, per_minute=10_000_000)
        steady = await timed_cycle(rt, url, in_flight=in_flight)
        await rt.aclose()
        rt.db.dispose()
    return first, steady


async def timed_cycle(rt: Runtime, url: str, *, in_flight: int) -> Timing:
    before = await asyncio.to_thread(served_requests, url)
    started = time.perf_counter()
    results = await check_many(rt, rt.config.tenants, in_flight=in_flight)
    wall = time.perf_counter() - started
    requests = await asyncio.to_thread(served_requests, url) - before
    errors = [r for r in results if r.status == "error"]
    if errors:
        raise SystemExit(f"{len(errors)} checks failed, e.g. {errors[0].error}")
    return wall, requests


def line(label: str, n: int, timing: Timing) -> str:
    wall, requests = timing
    per_tenant = requests / n
    bound = n * per_tenant * LATENCY / CONCURRENCY
    return (
        f"{n:5d} tenants, {label}: {wall:7.2f} s wall, {requests / wall:6.0f} req/s, "
        f"{per_tenant:.1f} req/tenant, bound {bound:6.2f} s, ratio bound/wall {bound / wall:.2f}"
    )


async def main() -> None:
    print(f"# cycle_bench: {machine()}")
    print(f"latency {LATENCY * 1000:.0f} ms/request, per-host concurrency {CONCURRENCY}")
    with simulator_process(max(SIZES), LATENCY) as url:
        per_tenant: dict[int, float] = {}
        for n in SIZES:
            first, steady = await cycles(url, n, concurrency=CONCURRENCY, in_flight=2 * CONCURRENCY)
            print(line("first cycle ", n, first))
            print(line("steady cycle", n, steady))
            per_tenant[n] = steady[0] / n
        _, (sequential, _) = await cycles(url, SEQUENTIAL_TENANTS, concurrency=1, in_flight=1)
        concurrent = per_tenant.get(SEQUENTIAL_TENANTS)
        speedup = f"{sequential / SEQUENTIAL_TENANTS / concurrent:.1f}x" if concurrent else "n/a"
        print(
            f"sequential client ({SEQUENTIAL_TENANTS} tenants, one request at a time): "
            f"{sequential:.2f} s; speedup of the concurrent {SEQUENTIAL_TENANTS}-tenant cycle "
            f"{speedup}"
        )


if __name__ == "__main__":
    asyncio.run(main())
