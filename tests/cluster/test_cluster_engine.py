"""The cluster engine in one process against a real PostgreSQL: leadership, deferral that
coalesces per tenant, leader-only periodic jobs, and recovery of a check stranded on a dead
worker without locking its tenant out (the trap in scheduling.md)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest
from cluster_waits import until
from sqlalchemy import text

from monitor.clock import utcnow
from monitor.daemon.cluster.queue import (
    TASK_NAME,
    build_app,
    defer_check,
    lock_for,
    psycopg_conninfo,
)
from monitor.daemon.cluster.scheduler import ClusterCheckScheduler
from monitor.daemon.cluster.status import ClusterStatus, cluster_status
from monitor.daemon.cluster.tuning import ClusterTuning
from monitor.errors import ConfigError, ConnectionFailed
from monitor.settings import Schedule
from monitor.store.cluster_tables import check_recorded_since_job_start
from monitor.store.database import Database

pytestmark = pytest.mark.postgres

FAST = ClusterTuning(ping_every=0.1, worker_heartbeat=0.5, stalled_after=2.0, fetch_poll=0.2)
HOURLY = Schedule(every=timedelta(hours=1), jitter=timedelta(0))


@pytest.fixture
def db(fresh_postgres: str) -> Database:
    database = Database(fresh_postgres)
    database.migrate()
    return database


class Checks:
    """The run_check callback a daemon would pass: records which tenants ran, can be held.

    Each run is also recorded as a check (a failed read, to keep ConnectWise out of it) in the
    real store, since a new leader decides who is due from the store's last checks.
    """

    def __init__(self, db: Database | None = None) -> None:
        self.db = db
        self.ran: Counter[str] = Counter()
        self.entered: Counter[str] = Counter()  # checks that started (and may be held)
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, tenant_id: str) -> None:
        self.entered[tenant_id] += 1
        await self.release.wait()
        if self.db is not None:
            await asyncio.to_thread(self._record, tenant_id)
        self.ran[tenant_id] += 1

    def _record(self, tenant_id: str) -> None:
        assert self.db is not None
        now = utcnow()
        self.db.record_run(
            tenant_id=tenant_id,
            tenant_name=tenant_id,
            started_at=now,
            finished_at=now,
            snapshot=None,
            changes=[],
            findings=None,
            error=ConnectionFailed("simulated outage", endpoint="/system/info"),
        )


@pytest.fixture
async def engines(db: Database) -> AsyncIterator[list[ClusterCheckScheduler]]:
    started: list[ClusterCheckScheduler] = []
    yield started
    for engine in started:
        # Bounded: a test that failed while holding a check must not hang the whole suite.
        try:
            await asyncio.wait_for(engine.stop(wait=False), timeout=30)
        except TimeoutError:
            pytest.fail(f"cluster engine {engine.node_id} did not stop within 30 s")
    db.dispose()


def start(
    engines: list[ClusterCheckScheduler], url: str, checks: Checks, tenants: list[str]
) -> ClusterCheckScheduler:
    engine = ClusterCheckScheduler(checks, max_in_flight=4, database_url=url, tuning=FAST)
    engine.reconcile(dict.fromkeys(tenants, HOURLY), {})
    engine.start()
    engines.append(engine)
    return engine


async def test_one_leader_defers_every_tenant_once_and_fails_over(
    db: Database, fresh_postgres: str, engines: list[ClusterCheckScheduler]
) -> None:
    checks = Checks(db)
    tenants = [f"t{i}" for i in range(6)]
    first = start(engines, fresh_postgres, checks, tenants)
    second = start(engines, fresh_postgres, checks, tenants)
    await until(lambda: first.is_leader or second.is_leader, "a leader")
    await until(lambda: sum(checks.ran.values()) == len(tenants), "every tenant checked")
    assert checks.ran == Counter(dict.fromkeys(tenants, 1))
    assert not (first.is_leader and second.is_leader)

    leader, follower = (first, second) if first.is_leader else (second, first)

    def status_now() -> ClusterStatus:
        with db.session() as session:
            return cluster_status(session, utcnow())

    # pg_locks is read from another session: wait for it to show the holder, bounded.
    await until(lambda: status_now().leader == leader.node_id, "pg_locks to show the leader")
    status = status_now()
    assert {n.node_id for n in status.nodes if n.alive} == {first.node_id, second.node_id}

    await leader.stop(wait=True)
    await until(lambda: follower.is_leader, "the follower to take over the clock")
    # The new leader knows every tenant was just checked: the next runs are an hour away.
    next_runs = follower.next_runs()
    assert set(next_runs) == set(tenants)
    assert min(next_runs.values()) > utcnow() + timedelta(minutes=59)
    assert checks.ran == Counter(dict.fromkeys(tenants, 1))


async def test_submit_coalesces_while_a_check_waits(
    fresh_postgres: str, engines: list[ClusterCheckScheduler], db: Database
) -> None:
    checks = Checks()
    engine = start(engines, fresh_postgres, checks, ["acme"])
    await until(lambda: checks.ran["acme"] == 1, "the first scheduled check")
    checks.release.clear()  # the next check holds, so later ones must wait behind it
    engine.submit("acme")
    # Wait for the worker to be inside the submitted check (the first job's row may still read
    # "doing" for a moment after it returned, so the queue table alone is not proof).
    await until(lambda: checks.entered["acme"] == 2, "the submitted check running")
    await until(lambda: running_jobs(db) == 1, "only the submitted check marked running")
    # Another node's view of the queue: the first deferral waits, later ones coalesce into it.
    other = build_app(psycopg_conninfo(fresh_postgres), checks)
    async with other.open_async():
        assert await defer_check(other, "acme") is not None
        for _ in range(3):
            assert await defer_check(other, "acme") is None
    assert waiting_jobs(db) == 1
    checks.release.set()
    await until(lambda: checks.ran["acme"] == 3, "the running and the one coalesced check")
    with pytest.raises(ConfigError, match="not scheduled"):
        engine.submit("nobody")


async def test_periodic_jobs_other_than_dispatch_and_heartbeat_run_on_the_leader_only(
    fresh_postgres: str, engines: list[ClusterCheckScheduler]
) -> None:
    checks = Checks()
    runs: Counter[str] = Counter()
    nodes = [start(engines, fresh_postgres, checks, []) for _ in range(2)]
    for index, node in enumerate(nodes):

        async def report(index: int = index) -> None:
            runs[f"report@{index}"] += 1

        async def dispatch(index: int = index) -> None:
            runs[f"dispatch@{index}"] += 1

        node.add_periodic("report", timedelta(seconds=0.2), report)
        node.add_periodic("dispatch", timedelta(seconds=0.2), dispatch)
    await until(lambda: runs["dispatch@0"] and runs["dispatch@1"], "dispatch on both nodes")
    leader = next(i for i, node in enumerate(nodes) if node.is_leader)
    await until(lambda: runs[f"report@{leader}"] >= 2, "the report on the leader")
    assert runs[f"report@{1 - leader}"] == 0


def running_jobs(db: Database) -> int:
    return count_jobs(db, "doing")


def waiting_jobs(db: Database) -> int:
    return count_jobs(db, "todo")


def count_jobs(db: Database, status: str) -> int:
    with db.session() as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status = :s"), {"s": status}
            ).scalar_one()
        )


async def test_a_check_stranded_on_a_dead_worker_is_failed_and_the_tenant_checked_again(
    db: Database, fresh_postgres: str, engines: list[ClusterCheckScheduler]
) -> None:
    # A worker that died mid-check: registered, heartbeat long gone, its job still 'doing' and
    # holding the tenant's lock; a newer check of the same tenant already waits behind it.
    # Retrying the stranded job would collide with the waiting one's queueing lock.
    lock = lock_for("acme")
    async with await psycopg.AsyncConnection.connect(
        psycopg_conninfo(fresh_postgres), autocommit=True
    ) as conn:
        worker = await (
            await conn.execute(
                "INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - interval '1 hour') RETURNING id"
            )
        ).fetchone()
        assert worker is not None
        for status, worker_id in (("doing", worker[0]), ("todo", None)):
            await conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, "
                "args, status, worker_id) VALUES ('checks', %s, %s, %s, %s, %s, %s)",
                (TASK_NAME, lock, lock, '{"tenant_id": "acme"}', status, worker_id),
            )
    checks = Checks()
    # Schedule acme as checked just now, so only the recovery path can run it.
    engine = ClusterCheckScheduler(
        checks, max_in_flight=2, database_url=fresh_postgres, tuning=FAST
    )
    engine.reconcile({"acme": HOURLY}, {"acme": utcnow()})
    engine.start()
    engines.append(engine)

    await until(lambda: checks.ran["acme"] >= 1, "acme checked again after the dead worker")
    await until(lambda: running_jobs(db) == 0 and waiting_jobs(db) == 0, "an idle queue")
    with db.session() as session:
        statuses = Counter(
            session.execute(text("SELECT status::text FROM procrastinate_jobs")).scalars()
        )
    assert statuses["failed"] == 1  # the stranded job, finished as failed rather than retried
    assert checks.ran["acme"] == 1  # the waiting check ran; the recovery's own was coalesced


@pytest.mark.parametrize(("run_after_start", "expected"), [(True, True), (False, False)])
async def test_a_stranded_check_that_had_committed_is_not_run_again(
    db: Database, fresh_postgres: str, run_after_start: bool, expected: bool
) -> None:
    """A worker can die between committing its check and telling Procrastinate: the leader then
    finds the tenant's run recorded after the job started, and does not check it twice."""
    async with await psycopg.AsyncConnection.connect(
        psycopg_conninfo(fresh_postgres), autocommit=True
    ) as conn:
        job = await (
            await conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, "
                "args, status) VALUES ('checks', %s, %s, %s, %s, 'doing') RETURNING id",
                (TASK_NAME, lock_for("acme"), lock_for("acme"), '{"tenant_id": "acme"}'),
            )
        ).fetchone()
        assert job is not None
        started = await (
            await conn.execute(
                "INSERT INTO procrastinate_events (job_id, type) VALUES (%s, 'started') "
                "RETURNING at",
                (job[0],),
            )
        ).fetchone()
        assert started is not None
    at = started[0] + (timedelta(seconds=1) if run_after_start else -timedelta(minutes=5))
    db.record_run(
        tenant_id="acme",
        tenant_name="acme",
        started_at=at,
        finished_at=at,
        snapshot=None,
        changes=[],
        findings=None,
        error=ConnectionFailed("simulated outage", endpoint="/system/info"),
    )
    with db.session() as session:
        assert check_recorded_since_job_start(session, job[0], "acme") is expected
        assert check_recorded_since_job_start(session, job[0], "globex") is False
