"""Cluster mode: a :class:`~monitor.daemon.scheduler.CheckScheduler` spread over nodes on
PostgreSQL.

Every node runs the same daemon (``monitor.daemon.loop``) with this engine in place of the
single-node one. Each node:

* runs a Procrastinate **worker** executing ``check_tenant`` jobs (at most ``max_in_flight``
  at once) by calling the daemon's own ``check``;
* loops on the **leader lock** (:mod:`monitor.daemon.cluster.leader`): the one holder runs the
  **clock**, an :class:`~monitor.daemon.scheduler.ApsCheckScheduler` whose jobs only *defer* checks;
* runs the periodic jobs safe on every node (heartbeat; alert dispatch, whose outbox claim is
  ``FOR UPDATE SKIP LOCKED``) itself, and leaves every other periodic job (the weekly report)
  to the leader's clock, so it runs once per cluster.

Recovery (the trap in docs/scheduling.md): a check running on a node that died stays
``doing`` and holds its tenant's ``lock``. Procrastinate's own stalled-job *retry* would put it
back to ``todo``, colliding with the queueing lock when a newer check already waits, which
locks the tenant out for good. The leader instead finishes such a job as *failed* and defers a
fresh check (coalesced with any already waiting), so the tenant is checked again promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate.jobs import Status
from procrastinate.worker import Worker

from monitor.clock import utcnow
from monitor.daemon.cluster.leader import LeaderLock
from monitor.daemon.cluster.queue import TASK_NAME, build_app, defer_check, psycopg_conninfo
from monitor.daemon.cluster.tuning import DEFAULT_TUNING, ClusterTuning
from monitor.daemon.identity import new_node_id
from monitor.daemon.scheduler import ApsCheckScheduler, validate_schedules
from monitor.errors import ConfigError, CwdriftError
from monitor.observability import CLUSTER_LEADER
from monitor.settings import Schedule
from monitor.store.cluster_tables import (
    check_recorded_since_job_start,
    pending_jobs,
    record_node,
    recorded_next_runs,
)
from monitor.store.daemon_tables import last_check_times, write_next_runs
from monitor.store.database import Database

log = logging.getLogger("cwdrift.cluster")

Clock = Callable[[], datetime]
RunCheck = Callable[[str], Awaitable[None]]

# Periodic jobs every node runs itself; any other id runs on the leader only (once per cluster).
# Everything else (weekly report, retention) runs on the leader only, so it happens once.
EVERY_NODE_JOBS = frozenset({"heartbeat", "dispatch", "metrics"})
# How often the leader writes every tenant's next run for `cwdrift status`.
NEXT_RUNS_EVERY = timedelta(seconds=15)


class ClusterCheckScheduler:
    """The cluster engine. Build it with :func:`cluster_scheduler_factory` for the daemon."""

    def __init__(
        self,
        run_check: RunCheck,
        *,
        max_in_flight: int,
        clock: Clock = utcnow,
        database_url: str,
        tuning: ClusterTuning = DEFAULT_TUNING,
        node_id: str | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._run_check = run_check
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._tuning = tuning
        self.node_id = node_id or new_node_id()
        conninfo = psycopg_conninfo(database_url)
        self._db = Database(database_url)
        self._app = build_app(conninfo, self._execute)
        self._lock = LeaderLock(conninfo, self.node_id)
        self._local = ApsCheckScheduler(self._no_check, max_in_flight=1, clock=clock)
        self._leader_periodic: dict[str, tuple[str | timedelta, Callable[[], Awaitable[None]]]] = {}
        self._desired: dict[str, Schedule] = {}
        self._last_checks: dict[str, datetime] = {}
        self._leader_clock: ApsCheckScheduler | None = None
        self._cached_next_runs: dict[str, datetime] = {}
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._stopping = asyncio.Event()
        self._started_at = clock()
        self._next_runs_written = datetime.min.replace(tzinfo=UTC)

    # -- the CheckScheduler interface ------------------------------------------------------

    def reconcile(
        self, schedules: Mapping[str, Schedule], last_checks: Mapping[str, datetime]
    ) -> None:
        validate_schedules(schedules)  # a bad cron fails on every node, not only the leader
        self._desired = dict(schedules)
        self._last_checks = dict(last_checks)
        if self._leader_clock is not None:
            self._leader_clock.reconcile(schedules, last_checks)

    def start(self) -> None:
        self._local.start()
        self._loop_task = asyncio.get_running_loop().create_task(
            self._serve(), name=f"cluster-node {self.node_id}"
        )

    async def stop(self, *, wait: bool) -> None:
        self._stopping.set()
        if not wait:
            for task in list(self._in_flight):
                task.cancel()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await self._local.stop(wait=wait)

    def submit(self, tenant_id: str) -> None:
        if tenant_id not in self._desired:
            known = ", ".join(sorted(self._desired)) or "none"
            raise ConfigError(
                f"tenant {tenant_id!r} is not scheduled (scheduled: {known})",
                fix="check the tenant id, or add the tenant to the config and reload (SIGHUP)",
            )
        task = asyncio.get_running_loop().create_task(self._defer(tenant_id))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def next_runs(self) -> dict[str, datetime]:
        if self._leader_clock is not None:
            return self._leader_clock.next_runs()
        return dict(self._cached_next_runs)

    def next_run(self, tenant_id: str) -> datetime | None:
        if self._leader_clock is not None:
            return self._leader_clock.next_run(tenant_id)
        return self._cached_next_runs.get(tenant_id)

    def add_periodic(
        self, job_id: str, every: str | timedelta, func: Callable[[], Awaitable[None]]
    ) -> None:
        if job_id in EVERY_NODE_JOBS:
            self._local.add_periodic(job_id, every, func)
            return
        self._leader_periodic[job_id] = (every, func)
        if self._leader_clock is not None:
            self._leader_clock.add_periodic(job_id, every, func)

    # -- inspection (health probe, tests) --------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the node's loop and worker are alive (for ``/healthz``)."""
        return all(
            task is not None and not task.done() for task in (self._loop_task, self._worker_task)
        )

    @property
    def is_leader(self) -> bool:
        return self._leader_clock is not None

    @property
    def worker_id(self) -> int | None:
        return self._worker.worker_id if self._worker is not None else None

    # -- the node's loop -------------------------------------------------------------------

    async def _serve(self) -> None:
        await self._app.open_async()
        try:
            self._worker = Worker(
                self._app,
                queues=None,
                name=self.node_id,
                concurrency=self._max_in_flight,
                install_signal_handlers=False,
                update_heartbeat_interval=self._tuning.worker_heartbeat,
                stalled_worker_timeout=self._tuning.stalled_after,
                fetch_job_polling_interval=self._tuning.fetch_poll,
                delete_jobs="successful",  # keeps the queue table small; history is ours
            )
            self._worker_task = asyncio.create_task(
                self._worker.run(),  # type: ignore[no-untyped-call]  # Procrastinate is untyped here
                name="cluster-worker",
            )
            while not self._stopping.is_set():
                await self._tick()
                with contextlib.suppress(TimeoutError):  # the ping interval passed
                    await asyncio.wait_for(self._stopping.wait(), self._tuning.ping_every)
        finally:
            await self._shutdown()

    async def _tick(self) -> None:
        """One leadership round; a database outage is logged and retried next round."""
        try:
            if self._leader_clock is None:
                if await self._lock.try_acquire():
                    await self._lead()
            elif not await self._lock.ping():
                await self._step_down()
            if self._leader_clock is not None:
                await self._recover_stalled()
                if self._clock() - self._next_runs_written >= NEXT_RUNS_EVERY:
                    await asyncio.to_thread(self._write_next_runs, self._leader_clock.next_runs())
                    self._next_runs_written = self._clock()
            else:
                await asyncio.to_thread(self._refresh_next_runs)
            await asyncio.to_thread(self._record_node)
        except (CwdriftError, OSError) as exc:
            log.warning("cluster round failed node=%s: %s", self.node_id, exc)
        except Exception:
            # Procrastinate and psycopg raise their own types; keep the node serving.
            log.exception("cluster round failed node=%s", self.node_id)

    async def _lead(self) -> None:
        """Won the lock: start the clock from the database's view of who is due."""
        last_checks = await asyncio.to_thread(self._due_basis)
        clock = ApsCheckScheduler(
            self._defer, max_in_flight=self._tuning.clock_in_flight, clock=self._clock
        )
        clock.reconcile(self._desired, last_checks)
        for job_id, (every, func) in self._leader_periodic.items():
            clock.add_periodic(job_id, every, func)
        clock.start()
        self._leader_clock = clock
        CLUSTER_LEADER.set(1)
        log.info("node=%s leads the cluster clock (%d tenants)", self.node_id, len(self._desired))

    async def _step_down(self) -> None:
        clock, self._leader_clock = self._leader_clock, None
        CLUSTER_LEADER.set(0)
        if clock is not None:
            await clock.stop(wait=False)  # deferrals only: nothing worth waiting for
        log.warning("node=%s no longer leads the cluster clock", self.node_id)

    def _due_basis(self) -> dict[str, datetime]:
        """Last check per tenant; a tenant with a check queued or running counts as checked now.

        A new leader must not defer a second check of a tenant whose check is already running
        on another node (the queueing lock only stops a second *waiting* check).
        """
        now = self._clock()
        with self._db.session() as session:
            basis = last_check_times(session)
            for _, _, tenant_id in pending_jobs(session, TASK_NAME):
                if tenant_id is not None:
                    basis[tenant_id] = now
        return basis

    async def _recover_stalled(self) -> None:
        manager = self._app.job_manager
        stalled = await manager.get_stalled_jobs(
            task_name=TASK_NAME, seconds_since_heartbeat=self._tuning.stalled_after
        )
        for job in stalled:
            if job.id is None:
                continue
            tenant_id = str(job.task_kwargs.get("tenant_id", ""))
            # Failed, not retried: see the module docstring.
            await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            # A worker can die after its check committed but before Procrastinate heard the job
            # finish: that tenant is checked already, and a second check would only repeat it.
            done = bool(tenant_id) and await asyncio.to_thread(
                self._checked_since_start, job.id, tenant_id
            )
            log.warning(
                "check of tenant=%s was running on a dead worker (job %s): marked failed, %s",
                tenant_id,
                job.id,
                "its check had been recorded" if done else "checking again",
            )
            if tenant_id and not done:
                await self._defer(tenant_id)
        if stalled:
            await manager.prune_stalled_workers(self._tuning.stalled_after)

    def _checked_since_start(self, job_id: int, tenant_id: str) -> bool:
        with self._db.session() as session:
            return check_recorded_since_job_start(session, job_id, tenant_id)

    async def _defer(self, tenant_id: str) -> None:
        try:
            await defer_check(self._app, tenant_id)
        except Exception:
            # A tick lost to a database outage is not fatal: the next tick defers again.
            log.exception("could not queue the check of tenant=%s", tenant_id)

    async def _execute(self, tenant_id: str) -> None:
        """The ``check_tenant`` task body on this node's worker."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._run_check(tenant_id)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    @staticmethod
    async def _no_check(tenant_id: str) -> None:  # the local scheduler holds no check jobs
        raise RuntimeError(f"unexpected local check of {tenant_id}")

    async def _shutdown(self) -> None:
        if self._leader_clock is not None:
            await self._step_down()
        await self._lock.release()
        if self._worker is not None and self._worker_task is not None:
            self._worker.stop()  # type: ignore[no-untyped-call]
            await asyncio.gather(self._worker_task, return_exceptions=True)
        try:
            await asyncio.to_thread(self._record_node, stopped=True)
        except CwdriftError as exc:
            log.warning("could not mark node=%s stopped: %s", self.node_id, exc)
        await self._app.close_async()
        self._db.dispose()

    # -- the node's row, for `cwdrift status` ----------------------------------------------

    def _record_node(self, *, stopped: bool = False) -> None:
        host, pid, _ = (
            self.node_id.split(":", 2)
            if self.node_id.count(":") >= 2
            else (socket.gethostname(), str(os.getpid()), "")
        )
        with self._db.session() as session:
            record_node(
                session,
                node_id=self.node_id,
                hostname=host,
                pid=int(pid) if pid.isdigit() else os.getpid(),
                started_at=self._started_at,
                worker_id=self.worker_id,
                is_leader=self.is_leader,
                now=self._clock(),
                stopped=stopped,
            )

    def _write_next_runs(self, runs: Mapping[str, datetime]) -> None:
        with self._db.session() as session:
            write_next_runs(session, node_id=self.node_id, next_runs=runs, now=self._clock())

    def _refresh_next_runs(self) -> None:
        """Followers show the leader's schedule (it writes ``tenant_schedule``)."""
        with self._db.session() as session:
            self._cached_next_runs = recorded_next_runs(session)
