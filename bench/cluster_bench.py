"""Two and three nodes against one PostgreSQL, one node SIGKILLed in the middle of a cycle.

Real node processes (``cwdrift run``, cluster mode) check TENANTS simulated
tenants (100 ms per request) due at once; when a third of them are checked, the node holding
the clock is killed. Printed: tenants checked exactly once / more than once / never in the
interval, the wall time to a complete cycle, how long the clock took to fail over, and the
checks recovered from the dead node. Timings are shortened for the run (worker heartbeat 1 s,
stalled after 5 s; production defaults are 10 s and 30 s).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from bench.fleet import fresh_postgres, machine, simulator_process, write_fleet_config
from monitor.clock import utcnow
from monitor.daemon.cluster.status import ClusterStatus, cluster_status
from monitor.store.database import Database
from monitor.store.tables import CheckRunTable

TENANTS = 100
LATENCY = 0.1
TUNING = ["--ping-every", "0.5", "--worker-heartbeat", "1", "--stalled-after", "5"]
DEADLINE = 150.0


def status(db: Database) -> ClusterStatus | None:
    try:
        with db.session() as session:
            return cluster_status(session, utcnow())
    except Exception:  # before the first node created the schema
        return None


def counts(db: Database) -> dict[str, int]:
    try:
        with db.session() as session:
            rows = session.execute(
                select(CheckRunTable.tenant_id, func.count()).group_by(CheckRunTable.tenant_id)
            ).all()
    except Exception:
        return {}
    return {tenant: n for tenant, n in rows}


def queue(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")
        ).all()
    return {state: n for state, n in rows}


def wait(condition, what: str, deadline: float):  # type: ignore[no-untyped-def]
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def run(nodes: int, url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, fresh_postgres(f"cluster{nodes}") as database:
        config = write_fleet_config(
            Path(tmp) / "cwdrift.yaml",
            TENANTS,
            url,
            database,
            daemon={
                "mode": "cluster",
                "tenants_in_flight": 8,
                "schedule": {"every": "1h", "jitter": "0s"},
            },
            connectwise={"concurrency_per_host": 32, "requests_per_minute": 1000},
        )
        db = Database(database)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(config), "run", *TUNING],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(nodes)
        ]
        deadline = time.monotonic() + DEADLINE
        try:
            wait(lambda: counts(db), "the first check", deadline)
            started = time.monotonic()
            wait(lambda: len(counts(db)) >= TENANTS // 3, "a third of the tenants", deadline)
            before = wait(lambda: (s := status(db)) and s.leader and s, "a leader", deadline)
            victim = next(n for n in before.nodes if n.leader)
            next(p for p in procs if p.pid == victim.pid).send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            wait(
                lambda: (s := status(db)) and s.leader not in (None, victim.node_id),
                "a new leader",
                deadline,
            )
            failover = time.monotonic() - killed_at

            def complete() -> bool:
                q = queue(db)
                return len(counts(db)) == TENANTS and not q.get("todo") and not q.get("doing")

            wait(complete, "every tenant checked", deadline)
            wall = time.monotonic() - started
            per_tenant = counts(db)
            recovered = queue(db).get("failed", 0)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            db.dispose()
    once = sum(1 for n in per_tenant.values() if n == 1)
    twice = sum(1 for n in per_tenant.values() if n > 1)
    never = TENANTS - len(per_tenant)
    verdict = "OK" if once == TENANTS else "FAILED"
    print(
        f"{nodes} nodes, leader SIGKILLed mid-cycle: {once}/{TENANTS} tenants checked exactly "
        f"once, {twice} more than once, {never} never ({verdict}); cycle {wall:.1f} s; clock "
        f"failover {failover:.1f} s; {recovered} checks recovered from the dead node"
    )


def main() -> None:
    print(f"# cluster_bench: {machine()}")
    with simulator_process(TENANTS, LATENCY) as url:
        for nodes in (2, 3):
            run(nodes, url)


if __name__ == "__main__":
    main()
