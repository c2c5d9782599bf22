"""When checks run: a small interface of ours, and its APScheduler 3.11 implementation.

Nothing else in cwdrift imports APScheduler: collection, evaluation and alerting only see
``run_check(tenant_id)`` being awaited, so a multi-node engine (Procrastinate, see
docs/scheduling.md) can replace :class:`ApsCheckScheduler` without touching them.

The design (single node, see docs/scheduling.md): one ``AsyncIOScheduler`` with a memory job store;
one job per tenant (``check:<tenant>``) with ``coalesce=True`` and ``max_instances=1``. Jobs are
not persisted; each tenant's first run after a start derives from its last check in our own
tables, so a restart resumes where it stopped and the runs missed while down collapse into one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any, Protocol

from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.clock import ensure_utc, utcnow
from monitor.crontab import cron_trigger
from monitor.errors import ConfigError
from monitor.settings import Schedule

log = logging.getLogger("cwdrift.scheduler")

CHECK_PREFIX = "check:"
_QUEUE_EXECUTOR = "queue"

Clock = Callable[[], datetime]
Spread = Callable[[float], float]  # max seconds -> a delay in [0, max]


class CheckScheduler(Protocol):
    """What the daemon needs from a scheduling engine."""

    def reconcile(
        self, schedules: Mapping[str, Schedule], last_checks: Mapping[str, datetime]
    ) -> None:
        """Make the scheduled tenants exactly ``schedules`` (tenant id -> schedule)."""

    def start(self) -> None:
        """Start paused, apply the last reconcile, then resume."""

    async def stop(self, *, wait: bool) -> None:
        """Stop firing; then wait for in-flight runs (``wait``) or cancel them."""

    def submit(self, tenant_id: str) -> None:
        """Run a tenant's check now (its next regular run follows one interval later)."""

    def next_runs(self) -> dict[str, datetime]:
        """Tenant id -> next scheduled run, for tenants with one."""

    def next_run(self, tenant_id: str) -> datetime | None:
        """One tenant's next scheduled run (after each check: not all 10,000 of them)."""

    def add_periodic(
        self, job_id: str, every: str | timedelta, func: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``func`` on a cron expression or an interval (reports, dispatch, pruning)."""


@dataclass(frozen=True)
class ReconcilePlan:
    """What a reconcile changes; tenants whose schedule is unchanged are left alone."""

    add: tuple[str, ...]
    replace: tuple[str, ...]
    remove: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.add or self.replace or self.remove)


def plan_reconcile(
    current: Mapping[str, Schedule], wanted: Mapping[str, Schedule]
) -> ReconcilePlan:
    """Compare the applied schedules with the config's: a job is replaced only when it changed."""
    return ReconcilePlan(
        add=tuple(sorted(t for t in wanted if t not in current)),
        replace=tuple(sorted(t for t in wanted if t in current and current[t] != wanted[t])),
        remove=tuple(sorted(t for t in current if t not in wanted)),
    )


def random_spread(limit: float) -> float:
    """A uniform delay in [0, limit] seconds; spreads overdue tenants instead of a stampede."""
    return random.uniform(0, limit) if limit > 0 else 0.0  # noqa: S311 (not for security)


def first_run_at(
    schedule: Schedule,
    last_check: datetime | None,
    now: datetime,
    *,
    timezone: tzinfo = UTC,
    spread: Spread = random_spread,
) -> datetime:
    """A tenant's first run after a (re)start, from its last check in our tables.

    Never checked, or a run missed while we were down: soon (now + a share of the jitter), and
    only once however many runs were missed. Otherwise the run that was due anyway: the last
    check plus the interval, or the next cron slot after the last check.
    """
    soon = now + timedelta(seconds=spread(schedule.jitter.total_seconds()))
    if last_check is None:
        return soon
    last_check = ensure_utc(last_check)
    if schedule.cron is not None:
        # Without jitter: the trigger adds it again to every later fire.
        slot = cron_trigger(schedule.cron, timezone, jitter=None).get_next_fire_time(
            None, last_check + timedelta(seconds=1)
        )
        due = ensure_utc(slot) if slot is not None else None
    else:
        due = last_check + schedule.interval
    if due is None or due <= now:
        return soon
    return due


def misfire_grace(schedule: Schedule, timezone: tzinfo = UTC) -> int:
    """Seconds a late run may still start: half the interval (a cron's gap between two slots)."""
    if schedule.cron is None:
        return max(1, int(schedule.interval.total_seconds() / 2))
    trigger = cron_trigger(schedule.cron, timezone, jitter=None)
    first = trigger.get_next_fire_time(None, datetime(2030, 1, 1, tzinfo=UTC))
    second = trigger.get_next_fire_time(first, first) if first is not None else None
    if first is None or second is None:
        return 60
    return max(1, int((second - first).total_seconds() / 2))


def check_trigger(schedule: Schedule, timezone: tzinfo = UTC) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger for a tenant's schedule, jitter included."""
    jitter = int(schedule.jitter.total_seconds()) or None
    if schedule.cron is not None:
        return cron_trigger(schedule.cron, timezone, jitter=jitter)
    return IntervalTrigger(
        seconds=int(schedule.interval.total_seconds()), timezone=timezone, jitter=jitter
    )


# How far ahead a cron schedule's fires are compared to find its longest gap: past a weekend,
# and at least a few fires for monthly schedules.
_GAP_SPAN = timedelta(days=8)
_GAP_MIN_FIRES = 3


def longest_gap(schedule: Schedule, now: datetime) -> timedelta:
    """The longest a tenant on ``schedule`` may wait between two checks, jitter included.

    An interval's is the interval; a cron's gaps differ (``0 9 * * 1-5`` waits over the
    weekend), so its fires from ``now`` on are compared. ``/readyz`` counts in these.
    """
    if schedule.cron is None:
        return schedule.interval + schedule.jitter
    trigger = cron_trigger(schedule.cron, UTC, jitter=None)
    fires: list[datetime] = []
    moment = now
    while len(fires) < _GAP_MIN_FIRES or fires[-1] - fires[0] < _GAP_SPAN:
        fire = trigger.get_next_fire_time(fires[-1] if fires else None, moment)
        if fire is None:  # pragma: no cover - a 5-field cron always fires again
            break
        fires.append(fire)
        moment = fire + timedelta(seconds=1)
    gaps = [later - earlier for earlier, later in pairwise(fires)]
    return max(gaps, default=timedelta(days=1)) + schedule.jitter


def validate_schedules(
    schedules: Mapping[str, Schedule], timezone: tzinfo = UTC
) -> dict[str, IntervalTrigger | CronTrigger]:
    """Build every trigger up front so one bad cron fails the whole reconcile, not half of it."""
    triggers: dict[str, IntervalTrigger | CronTrigger] = {}
    for tenant_id, schedule in schedules.items():
        try:
            triggers[tenant_id] = check_trigger(schedule, timezone)
        except ValueError as exc:
            raise ConfigError(
                f"tenant {tenant_id!r}: schedule.cron {schedule.cron!r} is invalid: {exc}",
                location=f"tenants[{tenant_id}].schedule.cron",
                fix="use 5 crontab fields, e.g. '0 * * * *' (minute hour day month weekday)",
            ) from None
    return triggers


class ApsCheckScheduler:
    """:class:`CheckScheduler` on APScheduler 3.11's ``AsyncIOScheduler`` with a memory job store.

    At most ``max_in_flight`` checks run at once: a due job only puts its tenant in a queue
    (first come, first served), and a check starts from it whenever one of the slots is free, so
    a burst queues instead of stampeding ConnectWise. The queue holds tenant ids, not a waiting
    task each: with 10,000 tenants due at once (a first start, or a restart after an outage)
    those tasks were ~17 MB. A tenant already queued or running is not queued again (one
    instance per tenant, as APScheduler's ``max_instances=1`` did when the waiting was its job's).
    """

    def __init__(
        self,
        run_check: Callable[[str], Awaitable[None]],
        *,
        max_in_flight: int,
        timezone: tzinfo = UTC,
        clock: Clock = utcnow,
        spread: Spread = random_spread,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._run_check = run_check
        self._timezone = timezone
        self._clock = clock
        self._spread = spread
        self._max_in_flight = max_in_flight
        self._queue: deque[str] = deque()  # due tenants waiting for a slot
        self._pending: set[str] = set()  # queued or running
        self._checks: set[asyncio.Task[None]] = set()  # running checks
        self._aps = AsyncIOScheduler(timezone=timezone)
        # Check jobs run inline in the scheduler's own pass (they only queue a tenant id): the
        # asyncio executor would make a task per fire, 10,000 at once when every tenant is due.
        self._aps.add_executor(DebugExecutor(), alias=_QUEUE_EXECUTOR)
        self._applied: dict[str, Schedule] = {}
        self._desired: tuple[dict[str, Schedule], dict[str, datetime]] | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._started = False
        self._stopping = False
        self._shut_down = False

    # -- the CheckScheduler interface ----------------------------------------------------------

    def reconcile(
        self, schedules: Mapping[str, Schedule], last_checks: Mapping[str, datetime]
    ) -> None:
        """Add new tenants, replace changed ones, remove deleted ones; before start, remember.

        Raises ConfigError (and changes nothing) when any schedule cannot be turned into a trigger.
        """
        triggers = validate_schedules(schedules, self._timezone)
        self._desired = (dict(schedules), dict(last_checks))
        if not self._started:
            return
        plan = plan_reconcile(self._applied, schedules)
        now = self._clock()
        for tenant_id in plan.remove:
            self._remove_check_job(tenant_id)
        for tenant_id in (*plan.add, *plan.replace):
            schedule = schedules[tenant_id]
            first = first_run_at(
                schedule,
                last_checks.get(tenant_id),
                now,
                timezone=self._timezone,
                spread=self._spread,
            )
            self._aps.add_job(
                self._queue_check,
                trigger=triggers[tenant_id],
                executor=_QUEUE_EXECUTOR,
                args=(tenant_id,),
                id=CHECK_PREFIX + tenant_id,
                name=f"check {tenant_id}",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=misfire_grace(schedule, self._timezone),
                next_run_time=first,
            )
            self._applied[tenant_id] = schedule
        if plan:
            log.info(
                "schedules reconciled: added=%s replaced=%s removed=%s",
                list(plan.add),
                list(plan.replace),
                list(plan.remove),
            )

    def start(self) -> None:
        # Paused first so nothing fires before the tenants in the config are the jobs.
        self._aps.start(paused=True)
        self._started = True
        if self._desired is not None:
            self.reconcile(*self._desired)
        self._aps.resume()

    async def stop(self, *, wait: bool) -> None:
        self._stopping = True
        if self._aps.running:
            self._aps.pause()
        if self._queue:
            # Due, but shutting down: not started, so nothing to cancel or write.
            log.info("%d queued checks not started: shutting down", len(self._queue))
            self._queue.clear()
        pending = self._in_flight | self._checks
        if not wait:
            for task in pending:
                task.cancel()
        if pending:
            await asyncio.wait(pending)
        if self._aps.running and not self._shut_down:
            self._shut_down = True
            # Our own runs are finished above; the executor has nothing left to cancel.
            self._aps.shutdown(wait=False)

    def submit(self, tenant_id: str) -> None:
        try:
            self._aps.modify_job(CHECK_PREFIX + tenant_id, next_run_time=self._clock())
        except JobLookupError:
            known = ", ".join(sorted(self._applied)) or "none"
            raise ConfigError(
                f"tenant {tenant_id!r} is not scheduled (scheduled: {known})",
                fix="check the tenant id, or add the tenant to the config and reload (SIGHUP)",
            ) from None

    def next_runs(self) -> dict[str, datetime]:
        runs: dict[str, datetime] = {}
        for job in self._aps.get_jobs():
            if job.id.startswith(CHECK_PREFIX) and job.next_run_time is not None:
                runs[job.id[len(CHECK_PREFIX) :]] = ensure_utc(job.next_run_time)
        return runs

    def next_run(self, tenant_id: str) -> datetime | None:
        job = self._aps.get_job(CHECK_PREFIX + tenant_id)
        if job is None or job.next_run_time is None:
            return None
        return ensure_utc(job.next_run_time)

    def add_periodic(
        self, job_id: str, every: str | timedelta, func: Callable[[], Awaitable[None]]
    ) -> None:
        if job_id.startswith(CHECK_PREFIX):
            raise ValueError(f"periodic job ids must not start with {CHECK_PREFIX!r}")
        trigger: IntervalTrigger | CronTrigger
        if isinstance(every, timedelta):
            trigger = IntervalTrigger(seconds=every.total_seconds(), timezone=self._timezone)
        else:
            trigger = cron_trigger(every, self._timezone, jitter=None)
        self._aps.add_job(
            self._guarded_periodic,
            trigger=trigger,
            args=(func,),
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,  # a late dispatch or report is still wanted
        )

    # -- inspection for the daemon and tests ---------------------------------------------------

    @property
    def scheduled(self) -> Mapping[str, Schedule]:
        """Tenant id -> the schedule its job was built from."""
        return dict(self._applied)

    def periodic_ids(self) -> list[str]:
        return sorted(j.id for j in self._aps.get_jobs() if not j.id.startswith(CHECK_PREFIX))

    # -- internals ------------------------------------------------------------------------------

    def _remove_check_job(self, tenant_id: str) -> None:
        try:
            self._aps.remove_job(CHECK_PREFIX + tenant_id)
        except JobLookupError:
            log.warning("tenant %s had no job to remove", tenant_id)
        self._applied.pop(tenant_id, None)

    def _queue_check(self, tenant_id: str) -> None:
        """The job APScheduler fires (in the event loop's thread): queue the tenant's check."""
        if self._stopping:
            log.info("check of tenant=%s not started: shutting down", tenant_id)
            return
        if tenant_id in self._pending:
            log.warning(
                "check of tenant=%s skipped: the last one is still queued or running", tenant_id
            )
            return
        self._pending.add(tenant_id)
        self._queue.append(tenant_id)
        self._start_queued()

    def _start_queued(self) -> None:
        """Start queued checks while a slot is free."""
        while self._queue and len(self._checks) < self._max_in_flight and not self._stopping:
            task = asyncio.get_running_loop().create_task(self._check(self._queue.popleft()))
            self._checks.add(task)
            task.add_done_callback(self._check_done)

    async def _check(self, tenant_id: str) -> None:
        try:
            await self._run_check(tenant_id)
        finally:
            self._pending.discard(tenant_id)

    def _check_done(self, task: asyncio.Task[None]) -> None:
        self._checks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # run_check logs its own failures; reaching here is a bug, which must not be lost.
            log.error("check task failed: %r", task.exception())
        self._start_queued()

    async def _guarded_periodic(self, func: Callable[[], Awaitable[None]]) -> None:
        with self._tracked():
            if self._stopping:
                return
            await func()

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        """Register the running task while it is in flight, so ``stop`` can wait or cancel."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - jobs always run in a task
            yield
            return
        self._in_flight.add(task)
        try:
            yield
        finally:
            self._in_flight.discard(task)
