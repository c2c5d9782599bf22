"""ApsCheckScheduler on a real AsyncIOScheduler: jobs, first runs, concurrency bound, stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from daemon_waits import event, until

from monitor.clock import utcnow
from monitor.daemon.scheduler import ApsCheckScheduler
from monitor.errors import ConfigError
from monitor.settings import Schedule

HOURLY = Schedule(every=timedelta(hours=1), jitter=timedelta(0))
TWO_HOURLY = Schedule(every=timedelta(hours=2), jitter=timedelta(0))
DUE_NOW = Schedule(every=timedelta(hours=1), jitter=timedelta(0))


class Recorder:
    """A run_check that records calls and the peak number running at once; may block on a gate."""

    def __init__(self, *, blocking: bool = False) -> None:
        self.gate = asyncio.Event()
        if not blocking:
            self.gate.set()
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.running = 0
        self.peak = 0
        self.changed = asyncio.Event()

    async def __call__(self, tenant_id: str) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.started.append(tenant_id)
        self.changed.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(tenant_id)
            raise
        finally:
            self.running -= 1
        self.finished.append(tenant_id)


@pytest.fixture
async def make_scheduler():
    made: list[ApsCheckScheduler] = []

    def make(run_check, *, max_in_flight=4, clock=utcnow):
        scheduler = ApsCheckScheduler(run_check, max_in_flight=max_in_flight, clock=clock)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        await scheduler.stop(wait=False)


async def test_reconcile_adds_replaces_only_changed_and_removes(make_scheduler):
    now = utcnow()
    scheduler = make_scheduler(Recorder(), clock=lambda: now)
    ten_minutes_ago = now - timedelta(minutes=10)
    scheduler.reconcile(
        {"a": HOURLY, "b": HOURLY, "c": HOURLY}, dict.fromkeys("abc", ten_minutes_ago)
    )
    scheduler.start()
    assert scheduler.next_runs() == dict.fromkeys("abc", now + timedelta(minutes=50))

    # A later reconcile sees newer last checks: only jobs whose schedule changed pick them up.
    twenty_minutes_ago = now - timedelta(minutes=20)
    scheduler.reconcile(
        {"a": HOURLY, "b": TWO_HOURLY, "d": HOURLY}, dict.fromkeys("abcd", twenty_minutes_ago)
    )
    assert scheduler.next_runs() == {
        "a": now + timedelta(minutes=50),  # unchanged: not replaced
        "b": now + timedelta(minutes=100),  # replaced: 2 h after its last check
        "d": now + timedelta(minutes=40),  # added
    }
    assert scheduler.scheduled == {"a": HOURLY, "b": TWO_HOURLY, "d": HOURLY}
    assert scheduler.next_run("b") == now + timedelta(minutes=100)
    assert scheduler.next_run("c") is None  # removed


async def test_reconcile_before_start_schedules_nothing_until_start(make_scheduler):
    recorder = Recorder()
    scheduler = make_scheduler(recorder)
    scheduler.reconcile({"a": DUE_NOW}, {})
    assert scheduler.next_runs() == {}
    scheduler.start()
    await event(recorder.changed, "the never-checked tenant to run right after start")
    assert recorder.started == ["a"]


async def test_a_bad_cron_changes_nothing(make_scheduler):
    now = utcnow()
    scheduler = make_scheduler(Recorder(), clock=lambda: now)
    scheduler.reconcile({"a": HOURLY}, {"a": now})
    scheduler.start()
    # The config loader rejects such a cron; the scheduler still refuses one built around it.
    bad = Schedule.model_construct(cron="0 25 * * *", every=None, jitter=timedelta(0))
    with pytest.raises(ConfigError, match="'b'"):
        scheduler.reconcile({"b": bad}, {})
    assert scheduler.next_runs() == {"a": now + timedelta(hours=1)}


async def test_never_more_than_max_in_flight_checks_run_at_once(make_scheduler):
    recorder = Recorder(blocking=True)
    scheduler = make_scheduler(recorder, max_in_flight=2)
    tenants = ["t1", "t2", "t3", "t4", "t5"]
    scheduler.reconcile(dict.fromkeys(tenants, DUE_NOW), {})  # never checked: all due at once
    scheduler.start()

    await until(lambda: len(recorder.started) == 2, "two checks to start")
    # All five fired together; the other three wait in the queue, not in run_check.
    await until(
        lambda: all(run > utcnow() for run in scheduler.next_runs().values()),
        "every due job to have fired",
    )
    assert recorder.running == 2
    recorder.gate.set()
    await until(lambda: len(recorder.finished) == 5, "all five checks to finish")
    assert recorder.peak == 2
    assert sorted(recorder.finished) == tenants


async def test_a_burst_of_due_tenants_waits_as_ids_not_as_tasks(make_scheduler):
    # 10,000 tenants due at once held a task each (~17 MB) while they waited for a slot.
    recorder = Recorder(blocking=True)
    scheduler = make_scheduler(recorder, max_in_flight=2)
    tenants = [f"t{index}" for index in range(200)]
    scheduler.reconcile(dict.fromkeys(tenants, DUE_NOW), {})
    tasks_before = len(asyncio.all_tasks())
    scheduler.start()
    await until(
        lambda: all(run > utcnow() for run in scheduler.next_runs().values()),
        "every due job to have fired",
    )
    await until(lambda: len(asyncio.all_tasks()) <= tasks_before + 2, "the firing jobs to end")
    assert recorder.running == 2
    recorder.gate.set()
    await until(lambda: len(recorder.finished) == 200, "every queued check to run")
    assert sorted(recorder.finished) == sorted(tenants)
    assert recorder.peak == 2


async def test_a_tenant_queued_or_running_is_not_queued_again(make_scheduler):
    recorder = Recorder(blocking=True)
    scheduler = make_scheduler(recorder, max_in_flight=1)
    scheduler.reconcile({"a": DUE_NOW, "b": DUE_NOW}, {})
    scheduler.start()
    await until(lambda: all(r > utcnow() for r in scheduler.next_runs().values()), "both fired")
    scheduler.submit("a")  # running
    scheduler.submit("b")  # queued behind it
    await until(lambda: all(r > utcnow() for r in scheduler.next_runs().values()), "refired")
    recorder.gate.set()
    await until(lambda: len(recorder.finished) == 2, "both checks to finish")
    assert recorder.started == ["a", "b"]  # once each


async def test_submit_runs_a_check_now_and_the_next_one_an_interval_later(make_scheduler):
    recorder = Recorder()
    scheduler = make_scheduler(recorder)
    scheduler.reconcile({"a": HOURLY}, {"a": utcnow()})
    scheduler.start()
    assert recorder.started == []

    before = utcnow()
    scheduler.submit("a")
    await event(recorder.changed, "the submitted check to run")
    assert recorder.started == ["a"]
    assert scheduler.next_runs()["a"] >= before + timedelta(hours=1)


async def test_submit_of_an_unknown_tenant_names_it(make_scheduler):
    scheduler = make_scheduler(Recorder())
    scheduler.reconcile({"a": HOURLY}, {})
    scheduler.start()
    with pytest.raises(ConfigError, match="'nope' is not scheduled"):
        scheduler.submit("nope")


async def test_stop_with_wait_lets_the_in_flight_check_finish(make_scheduler):
    recorder = Recorder(blocking=True)
    scheduler = make_scheduler(recorder)
    scheduler.reconcile({"a": DUE_NOW}, {})
    scheduler.start()
    await event(recorder.changed, "the check to start")

    stopping = asyncio.create_task(scheduler.stop(wait=True))
    await asyncio.sleep(0)  # let stop() reach its wait
    assert not stopping.done()
    recorder.gate.set()
    await stopping
    assert recorder.finished == ["a"]
    assert recorder.cancelled == []


async def test_stop_without_wait_cancels_the_in_flight_check(make_scheduler):
    recorder = Recorder(blocking=True)
    scheduler = make_scheduler(recorder)
    scheduler.reconcile({"a": DUE_NOW}, {})
    scheduler.start()
    await event(recorder.changed, "the check to start")

    await scheduler.stop(wait=False)
    assert recorder.cancelled == ["a"]
    assert recorder.finished == []


async def test_checks_queued_behind_the_bound_do_not_start_after_stop(make_scheduler):
    recorder = Recorder(blocking=True)
    scheduler = make_scheduler(recorder, max_in_flight=1)
    scheduler.reconcile({"a": DUE_NOW, "b": DUE_NOW}, {})
    scheduler.start()
    await event(recorder.changed, "one check to start")
    await until(lambda: all(r > utcnow() for r in scheduler.next_runs().values()), "both fired")

    stopping = asyncio.create_task(scheduler.stop(wait=True))
    await asyncio.sleep(0)
    recorder.gate.set()
    await stopping
    assert len(recorder.started) == 1  # the queued one saw the stop and never ran


async def test_periodic_jobs_run_repeatedly(make_scheduler):
    scheduler = make_scheduler(Recorder())
    calls: list[int] = []

    async def tick() -> None:
        calls.append(1)

    scheduler.add_periodic("tick", timedelta(milliseconds=20), tick)
    scheduler.start()
    await until(lambda: len(calls) >= 2, "the periodic job to run twice")
    assert scheduler.periodic_ids() == ["tick"]
    assert scheduler.next_runs() == {}  # periodic jobs are not tenants


async def test_a_failing_check_does_not_stop_the_others(make_scheduler):
    done: list[str] = []

    async def run_check(tenant_id: str) -> None:
        if tenant_id == "bad":
            raise RuntimeError("boom")
        done.append(tenant_id)

    scheduler = make_scheduler(run_check)
    scheduler.reconcile({"bad": DUE_NOW, "good": DUE_NOW}, {})
    scheduler.start()
    await until(lambda: done == ["good"], "the good tenant's check")
