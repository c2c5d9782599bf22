"""The daemon's single steps, called directly: start, check, reload, shutdown, heartbeat."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from bad_configs import CASES, BadConfig
from daemon_config import config_yaml
from daemon_jobs import StoreJobs
from daemon_waits import event, until
from sqlmodel import select

from monitor.clock import utcnow
from monitor.daemon.loop import Daemon
from monitor.errors import ConnectionFailed
from monitor.store import Database
from monitor.store.daemon_tables import (
    DaemonNode,
    TenantSchedule,
    daemon_status,
    last_check_times,
    record_beat,
    record_stop,
)
from monitor.store.tables import CheckRunTable

HOUR = timedelta(hours=1)


@pytest.fixture
def now() -> datetime:
    return utcnow().replace(microsecond=0)


@pytest.fixture
async def daemons():
    """Builds daemons and shuts down whatever a test left running."""
    made: list[Daemon] = []

    def make(config: Path, jobs: StoreJobs, clock, **kwargs) -> Daemon:
        daemon = Daemon(
            config,
            run_check=jobs.run_check,
            dispatch=jobs.dispatch,
            open_db=Database,
            clock=clock,
            **kwargs,
        )
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        await daemon.shutdown()


def seed_last_check(url: str, tenant_id: str, at: datetime) -> None:
    db = Database(url)
    db.migrate()
    db.record_run(
        tenant_id=tenant_id,
        tenant_name=f"Tenant {tenant_id}",
        started_at=at,
        finished_at=at,
        snapshot=None,
        changes=[],
        findings=None,
        error=ConnectionFailed("earlier outage"),
    )
    db.dispose()


def schedule_rows(url: str) -> dict[str, datetime | None]:
    db = Database(url)
    try:
        with db.session() as session:
            return {r.tenant_id: r.next_run_at for r in session.exec(select(TenantSchedule))}
    finally:
        db.dispose()


def check_rows(url: str) -> list[str]:
    db = Database(url)
    try:
        with db.session() as session:
            return [r.tenant_id for r in session.exec(select(CheckRunTable))]
    finally:
        db.dispose()


def status(url: str, at: datetime):
    db = Database(url)
    try:
        with db.session() as session:
            return daemon_status(session, at)
    finally:
        db.dispose()


async def test_start_beats_and_schedules_from_the_last_checks(tmp_path, db_url, now, daemons):
    seed_last_check(db_url, "a", now - timedelta(minutes=10))
    seed_last_check(db_url, "b", now - timedelta(minutes=30))
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(db_url, ["a", "b"]))
    jobs = StoreJobs(lambda: now)
    daemon = daemons(config, jobs, lambda: now)

    await daemon.start()

    expected = {"a": now + timedelta(minutes=50), "b": now + timedelta(minutes=30)}
    assert daemon.scheduler.next_runs() == expected
    assert schedule_rows(db_url) == expected
    seen = status(db_url, now)
    assert seen.alive
    (node,) = seen.nodes
    assert (node.node_id, node.pid, node.role, node.last_beat_at) == (
        daemon.node_id,
        daemon.pid,
        "single",
        now,
    )
    assert seen.next_runs == expected

    await daemon.shutdown()
    after = status(db_url, now)
    assert not after.alive
    assert after.nodes[0].stopped_at == now
    assert jobs.events == ["dispatch"]  # nothing was due; the final dispatch still ran


async def test_a_restart_resumes_from_the_check_the_last_run_recorded(
    tmp_path, sqlite_url, now, daemons
):
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    first_jobs = StoreJobs(lambda: now)
    first = daemons(config, first_jobs, lambda: now)
    await first.start()
    await until(lambda: first_jobs.checks() == ["a"], "the never-checked tenant's first check")
    await first.shutdown()

    later = now + timedelta(minutes=10)
    second = daemons(config, StoreJobs(lambda: later), lambda: later)
    await second.start()
    assert second.scheduler.next_runs() == {"a": now + HOUR}
    assert check_rows(sqlite_url) == ["a"]


async def test_reload_adds_and_removes_tenants_and_keeps_unchanged_jobs(
    tmp_path, sqlite_url, now, daemons
):
    for tenant_id in "ab":
        seed_last_check(sqlite_url, tenant_id, now - timedelta(minutes=10))
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a", "b"]))
    daemon = daemons(config, StoreJobs(lambda: now), lambda: now)
    await daemon.start()

    seed_last_check(sqlite_url, "a", now - timedelta(minutes=5))  # newer, but a is unchanged
    seed_last_check(sqlite_url, "c", now - timedelta(minutes=20))
    config.write_text(
        config_yaml(sqlite_url, {"a": "", "c": "\n    schedule: {every: 2h, jitter: 0s}"})
    )
    assert await daemon.reload()

    expected = {"a": now + timedelta(minutes=50), "c": now + timedelta(minutes=100)}
    assert daemon.scheduler.next_runs() == expected
    assert schedule_rows(sqlite_url) == expected  # b's row is gone
    assert [t.id for t in daemon.loaded.config.tenants] == ["a", "c"]


@pytest.mark.parametrize(
    ("broken", "expected_in_log"),
    [
        ("tenants: [\n", "cwdrift.yaml:"),  # YAML syntax: file and line
        ("database: x\ntenants: []\nbogus: 1\n", "cwdrift.yaml:3"),  # unknown key: its line
        (None, "schedule.cron"),  # a cron APScheduler cannot read: tenant and field
    ],
)
async def test_reload_with_a_bad_config_keeps_the_old_one(
    tmp_path, sqlite_url, now, daemons, caplog, broken, expected_in_log
):
    seed_last_check(sqlite_url, "a", now)
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    daemon = daemons(config, StoreJobs(lambda: now), lambda: now)
    await daemon.start()
    loaded_before = daemon.loaded

    if broken is None:
        broken = config_yaml(sqlite_url, {"a": "", "z": "\n    schedule: {cron: '0 25 * * *'}"})
    config.write_text(broken)
    caplog.set_level(logging.INFO, logger="cwdrift.daemon")
    assert not await daemon.reload()

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "keeping the previous config" in errors[0]
    assert expected_in_log in errors[0]
    assert daemon.loaded is loaded_before
    assert daemon.scheduler.next_runs() == {"a": now + HOUR}
    assert schedule_rows(sqlite_url) == {"a": now + HOUR}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_sighup_with_any_bad_file_logs_one_line_and_keeps_the_config(
    tmp_path, sqlite_url, now, daemons, caplog, case: BadConfig
):
    seed_last_check(sqlite_url, "a", now)
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    daemon = daemons(config, StoreJobs(lambda: now), lambda: now)
    await daemon.start()
    loaded_before = daemon.loaded
    if isinstance(case.content, bytes):
        config.write_bytes(case.content)
    else:
        config.write_text(case.content)
    caplog.set_level(logging.INFO)

    daemon._on_sighup()  # what the SIGHUP handler does: reload in a task of its own
    [task] = daemon._signal_tasks
    await asyncio.wait_for(task, timeout=30)

    assert task.result() is False
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage().count("\n") for r in errors] == [0]  # one line
    message = errors[0].getMessage()
    assert message.startswith("reload failed, keeping the previous config: ")
    assert f"{config}:{case.line}: {case.field}: " in message
    assert errors[0].exc_info is None  # no traceback
    assert daemon.loaded is loaded_before
    assert daemon.scheduler.next_runs() == {"a": now + HOUR}


async def test_shutdown_waits_for_the_in_flight_check_then_dispatches(
    tmp_path, sqlite_url, now, daemons
):
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    jobs = StoreJobs(lambda: now, blocking=True)
    daemon = daemons(config, jobs, lambda: now)
    await daemon.start()
    await event(jobs.started, "the never-checked tenant's check to start")

    stopping = asyncio.create_task(daemon.shutdown())
    await asyncio.sleep(0)
    assert not stopping.done()
    jobs.gate.set()
    await stopping

    assert jobs.events == ["start:a", "done:a", "dispatch"]
    assert check_rows(sqlite_url) == ["a"]
    assert not status(sqlite_url, now).alive


async def test_shutdown_cancels_a_check_past_the_grace_period_and_nothing_is_written(
    tmp_path, sqlite_url, now, daemons, caplog
):
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    jobs = StoreJobs(lambda: now, blocking=True)  # never released
    daemon = daemons(config, jobs, lambda: now, grace=timedelta(milliseconds=50))
    await daemon.start()
    await event(jobs.started, "the check to start")
    caplog.set_level(logging.INFO, logger="cwdrift.daemon")

    await daemon.shutdown()

    assert jobs.events == ["start:a", "cancelled:a", "dispatch"]
    assert check_rows(sqlite_url) == []
    messages = [r.getMessage() for r in caplog.records]
    assert "check cancelled tenant=a: nothing was recorded" in messages
    assert any("grace period over" in m for m in messages)


async def test_one_tenants_failure_is_logged_and_others_still_run(
    tmp_path, sqlite_url, now, daemons, caplog
):
    for tenant_id in "ab":
        seed_last_check(sqlite_url, tenant_id, now)
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a", "b"]))
    jobs = StoreJobs(lambda: now)
    jobs.fail.add("a")
    daemon = daemons(config, jobs, lambda: now)
    await daemon.start()
    caplog.set_level(logging.INFO, logger="cwdrift.daemon")

    await daemon.check("a")
    await daemon.check("b")
    await daemon.check("gone")

    assert jobs.checks("fail") == ["a"]
    assert jobs.checks("done") == ["b"]
    messages = [r.getMessage() for r in caplog.records if r.name == "cwdrift.daemon"]
    assert messages == [
        "check started tenant=a",
        "check failed tenant=a",
        "check started tenant=b",
        "check finished tenant=b",
        "check skipped tenant=gone: no longer in the config",
    ]


async def test_beat_refreshes_the_node_row(tmp_path, sqlite_url, now, daemons):
    clock = [now]
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    daemon = daemons(config, StoreJobs(lambda: clock[0]), lambda: clock[0])
    await daemon.start()
    clock[0] = now + timedelta(seconds=15)
    await daemon.beat()

    db = Database(sqlite_url)
    with db.session() as session:
        node = session.get(DaemonNode, daemon.node_id)
        assert node is not None
        assert (node.started_at, node.last_beat_at) == (now, now + timedelta(seconds=15))
    db.dispose()


@pytest.mark.parametrize(
    ("beat_age", "stopped", "alive"),
    [
        (timedelta(seconds=0), False, True),
        (timedelta(seconds=29), False, True),
        (timedelta(seconds=30), False, True),  # exactly 2 x 15 s
        (timedelta(seconds=31), False, False),
        (timedelta(hours=3), False, False),
        (timedelta(seconds=1), True, False),  # a clean stop is not "alive"
    ],
)
def test_daemon_status_liveness(migrated, now, beat_age, stopped, alive):
    beat = now - beat_age
    with migrated.session() as session:
        record_beat(
            session,
            node_id="host:1:abc",
            hostname="host",
            pid=1,
            started_at=beat - HOUR,
            version="0.1.0",
            role="single",
            now=beat,
        )
    if stopped:
        with migrated.session() as session:
            record_stop(session, "host:1:abc", beat)
    with migrated.session() as session:
        seen = daemon_status(session, now)
    assert [n.alive for n in seen.nodes] == [alive]
    assert seen.alive is alive


def test_last_check_times_takes_each_tenants_latest_start(migrated, now):
    for tenant_id, minutes in [("a", 90), ("a", 10), ("b", 30)]:
        migrated.record_run(
            tenant_id=tenant_id,
            tenant_name=tenant_id,
            started_at=now - timedelta(minutes=minutes),
            finished_at=now,
            snapshot=None,
            changes=[],
            findings=None,
            error=ConnectionFailed("x"),
        )
    with migrated.session() as session:
        assert last_check_times(session) == {
            "a": now - timedelta(minutes=10),
            "b": now - timedelta(minutes=30),
        }


def test_the_entry_point_exits_2_naming_a_missing_config(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(missing), "run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{missing}: file not found" in done.stderr
    assert "Traceback" not in done.stderr


async def test_periodic_jobs_run_with_the_config_in_force_and_failures_stay_isolated(
    tmp_path, sqlite_url, now, daemons
):
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(sqlite_url, ["a"]))
    seen: list[tuple[str, ...]] = []
    ran = asyncio.Event()

    async def report(loaded) -> None:
        seen.append(tuple(t.id for t in loaded.config.tenants))
        ran.set()

    async def broken(loaded) -> None:
        raise ConnectionFailed("the SMTP relay is down")

    daemon = daemons(
        config,
        StoreJobs(lambda: now),
        lambda: now,
        periodic=[
            ("weekly-report", timedelta(milliseconds=50), report),
            ("retention", timedelta(milliseconds=50), broken),
        ],
    )
    await daemon.start()
    await event(ran, "the periodic report step")
    config.write_text(config_yaml(sqlite_url, ["a", "b"]))
    assert await daemon.reload()
    ran.clear()
    await event(ran, "the periodic step after a reload")
    assert seen[-1] == ("a", "b")  # the step sees the reloaded config
    assert daemon.scheduler is not None  # a failing periodic job did not stop the daemon
