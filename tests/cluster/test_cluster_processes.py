"""Three real node processes on one PostgreSQL; the leader is SIGKILLed while checks run.

Every tenant must still be checked exactly once in the interval: the clock fails over to a
surviving node, the checks that died with the leader are finished as failed and run again
elsewhere, and no tenant is checked twice or locked out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_fleet import write_fleet_config
from cluster_waits import until_sync
from sqlalchemy import func, select, text

from monitor.clock import utcnow
from monitor.daemon.cluster.status import ClusterStatus, cluster_status
from monitor.simulator.scenario import generate_fleet
from monitor.simulator.server import running_simulator
from monitor.store.daemon_tables import DaemonNode
from monitor.store.database import Database
from monitor.store.tables import CheckRunTable

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TENANTS = 12
FAST = [
    "--ping-every", "0.2", "--worker-heartbeat", "0.5",
    "--stalled-after", "2", "--fetch-poll", "0.5",
]  # fmt: skip


class Nodes:
    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, count: int) -> None:
        for index in range(count):
            log = (self.logs / f"node{index}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "monitor",
                        "--config",
                        str(self.config),
                        "run",
                        *FAST,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def by_pid(self, pid: int) -> subprocess.Popen[bytes]:
        return next(p for p in self.procs if p.pid == pid)

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:])
            for path in sorted(self.logs.glob("node*.log"))
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def nodes(tmp_path: Path, fresh_postgres: str) -> Iterator[tuple[Nodes, Database]]:
    # 0.3 s per request: a check takes a few seconds, long enough to be killed mid-way.
    with running_simulator(generate_fleet(TENANTS, seed=1, latency=0.3)) as sim:
        config = write_fleet_config(
            tmp_path / "cwdrift.yaml",
            TENANTS,
            sim.url,
            fresh_postgres,
            daemon={
                "mode": "cluster",
                "tenants_in_flight": 2,
                "schedule": {"every": "1h", "jitter": "0s"},
            },
        )
        group = Nodes(config, tmp_path)
        db = Database(fresh_postgres)
        try:
            yield group, db
        finally:
            group.stop()
            db.dispose()
            if os.environ.get("CWDRIFT_TEST_SHOW_NODE_LOGS"):
                print(group.log_tails())


def status(db: Database) -> ClusterStatus | None:
    try:
        with db.session() as session:
            return cluster_status(session, utcnow())
    except Exception:  # the schema may not exist until the first node migrated
        return None


def checks_per_tenant(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            select(CheckRunTable.tenant_id, func.count()).group_by(CheckRunTable.tenant_id)
        ).all()
    return {tenant: count for tenant, count in rows}


def daemon_node_ids(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.execute(select(DaemonNode.node_id)).scalars())


def job_statuses(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")
        ).all()
    return {state: count for state, count in rows}


def test_leader_killed_mid_checks_every_tenant_checked_exactly_once(
    nodes: tuple[Nodes, Database],
) -> None:
    group, db = nodes
    group.start(3)

    def leader_running_checks() -> ClusterStatus | None:
        current = status(db)
        if current is None or current.leader is None:
            return None
        lead = next(n for n in current.nodes if n.node_id == current.leader)
        return current if lead.running and sum(n.alive for n in current.nodes) == 3 else None

    def same_names() -> bool:
        # `cwdrift status` lists daemons and cluster workers: each node under one name in both.
        current = status(db)
        workers = {n.node_id for n in current.nodes} if current else set()
        return len(workers) == 3 and daemon_node_ids(db) == workers

    until_sync(same_names, "3 daemons named as their cluster workers")
    before = until_sync(leader_running_checks, "3 nodes up and the leader running checks")
    killed = next(n for n in before.nodes if n.leader)
    assert len(killed.running) >= 1
    group.by_pid(killed.pid).send_signal(signal.SIGKILL)
    group.by_pid(killed.pid).wait(timeout=10)

    after = until_sync(
        lambda: (s := status(db)) is not None and s.leader not in (None, killed.node_id) and s,
        "a surviving node to take over the clock",
    )
    assert after.leader != killed.node_id

    def all_checked() -> bool:
        jobs = job_statuses(db)
        return (
            len(checks_per_tenant(db)) == TENANTS
            and jobs.get("todo", 0) == 0
            and jobs.get("doing", 0) == 0
        )

    until_sync(all_checked, f"all {TENANTS} tenants checked and the queue idle", timeout=90)
    counts = checks_per_tenant(db)
    assert counts == {f"t{i:05d}": 1 for i in range(TENANTS)}, group.log_tails()
    # The checks that died with the leader were finished as failed, never retried. The leader
    # may have started one more between the status read and the kill (tenants_in_flight is 2).
    assert len(killed.running) <= job_statuses(db).get("failed", 0) <= 2
    assert all(p.poll() is None for p in group.procs if p.pid != killed.pid)
