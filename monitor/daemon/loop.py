"""The long-running process (``cwdrift run``): a thin loop over single steps tests call directly.

    start()     load the config, migrate, heartbeat, schedule every tenant, dispatch periodically
    check(id)   one scheduled check: run_check(config, tenant), logged, next run recorded
    beat()      refresh this node's row in ``daemon_node``
    reload()    SIGHUP: re-read the config; a bad one is logged (one line) and the old one kept.
                The injected ``before_reload`` sees both configs first (the node previews a
                changed baseline on the stored snapshots and logs who would newly fail)
    shutdown()  SIGTERM/SIGINT: no new checks, in-flight ones finish (or are cancelled after the
                grace period: a check commits once at its end, so a cancelled one writes nothing),
                one last dispatch of pending alerts, mark the node stopped

What a check does (collect, evaluate, store, enqueue alerts) and how alerts are sent are
injected (``monitor.jobs`` provides both), so this module knows only *when* things run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import Session

from monitor import __version__
from monitor.clock import utcnow
from monitor.daemon.identity import new_node_id
from monitor.daemon.scheduler import ApsCheckScheduler, CheckScheduler
from monitor.errors import ConfigError, CwdriftError
from monitor.settings import LoadedConfig, Schedule, TenantConfig, load_config
from monitor.store.daemon_tables import (
    BEAT_INTERVAL,
    last_check_times,
    prune_nodes,
    record_beat,
    record_stop,
    write_next_runs,
)

log = logging.getLogger("cwdrift.daemon")

RunCheck = Callable[[LoadedConfig, TenantConfig], Awaitable[None]]
Dispatch = Callable[[LoadedConfig], Awaitable[None]]
# Other periodic work (weekly report, retention): (job id, interval or cron, step). The step gets
# the config in force when it runs, so a SIGHUP reload reaches it too.
PeriodicJob = tuple[str, "timedelta | str", Callable[[LoadedConfig], Awaitable[None]]]
Clock = Callable[[], datetime]
# (config in force, new config), before the new one applies; a ConfigError keeps the old one.
BeforeReload = Callable[[LoadedConfig, LoadedConfig], Awaitable[None]]

DEFAULT_GRACE = timedelta(seconds=30)
# Rows of daemons silent this long are deleted at start; every restart adds one.
NODE_RETENTION = timedelta(days=7)
ROLE = "single"  # one process runs clock and checks; see docs/scheduling for multi-node


class DaemonDatabase(Protocol):
    """What the daemon needs of :class:`monitor.store.Database`."""

    def migrate(self) -> None: ...

    def session(self) -> AbstractContextManager[Session]: ...

    def dispose(self) -> None: ...


class SchedulerFactory(Protocol):
    def __call__(
        self,
        run_check: Callable[[str], Awaitable[None]],
        *,
        max_in_flight: int,
        clock: Clock,
    ) -> CheckScheduler: ...


def schedules_of(loaded: LoadedConfig) -> dict[str, Schedule]:
    """Tenant id -> its schedule (its own, or the daemon default)."""
    config = loaded.config
    return {tenant.id: config.schedule_for(tenant) for tenant in config.tenants}


class Daemon:
    """One scheduling process. ``run()`` is the loop; every step is a method tests call."""

    def __init__(
        self,
        config_path: Path,
        *,
        run_check: RunCheck,
        dispatch: Dispatch,
        open_db: Callable[[str], DaemonDatabase],
        scheduler_factory: SchedulerFactory = ApsCheckScheduler,
        clock: Clock = utcnow,
        grace: timedelta = DEFAULT_GRACE,
        beat_every: timedelta = BEAT_INTERVAL,
        periodic: Sequence[PeriodicJob] = (),
        node_id: str | None = None,
        before_reload: BeforeReload | None = None,
        loaded: LoadedConfig | None = None,
    ) -> None:
        """``loaded``: the config as the caller already loaded it from ``config_path`` (its
        warnings are logged at start); without it, start() loads the file."""
        self.config_path = config_path
        self._preloaded = loaded
        self._periodic = tuple(periodic)
        self._before_reload = before_reload
        self._run_check = run_check
        self._dispatch = dispatch
        self._open_db = open_db
        self._scheduler_factory = scheduler_factory
        self._clock = clock
        self._grace = grace
        self._beat_every = beat_every
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.node_id = node_id or new_node_id()
        self._loaded: LoadedConfig | None = None
        self._db: DaemonDatabase | None = None
        self._scheduler: CheckScheduler | None = None
        self._started_at: datetime | None = None
        self._stop_requested = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._shutdown_done = False
        self._signal_tasks: set[asyncio.Task[Any]] = set()

    # -- state the steps share -------------------------------------------------------------------

    @property
    def loaded(self) -> LoadedConfig:
        if self._loaded is None:
            raise RuntimeError("the daemon is not started")
        return self._loaded

    @property
    def in_force(self) -> LoadedConfig | None:
        """The config in force (after reloads), or None before ``start()`` loaded one."""
        return self._loaded

    @property
    def db(self) -> DaemonDatabase:
        if self._db is None:
            raise RuntimeError("the daemon is not started")
        return self._db

    @property
    def scheduler(self) -> CheckScheduler:
        if self._scheduler is None:
            raise RuntimeError("the daemon is not started")
        return self._scheduler

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start, then serve until SIGTERM/SIGINT; SIGHUP reloads the config."""
        loop = asyncio.get_running_loop()
        # Installed before start(): a SIGTERM while starting still shuts down cleanly, and a
        # SIGHUP never meets the default action (which would kill the process).
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            log.info(
                "daemon running node=%s tenants=%d", self.node_id, len(self.loaded.config.tenants)
            )
            await self._stop_requested.wait()
        finally:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.shutdown()

    # -- the steps -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load and migrate, then schedule: paused, reconciled with the config, resumed."""
        loaded = self._preloaded or load_config(self.config_path, require_tenants=True)
        self._preloaded = None
        for warning in loaded.warnings:
            log.warning("%s", warning)
        self._loaded = loaded
        self._db = self._open_db(loaded.config.database)
        await asyncio.to_thread(self.db.migrate)
        self._started_at = self._clock()
        await self.beat()
        await asyncio.to_thread(self._in_session, prune_nodes, self._clock() - NODE_RETENTION)
        last_checks = await asyncio.to_thread(self._in_session, last_check_times)
        scheduler = self._scheduler_factory(
            self.check,
            max_in_flight=loaded.config.daemon.tenants_in_flight,
            clock=self._clock,
        )
        scheduler.reconcile(schedules_of(loaded), last_checks)
        scheduler.add_periodic("dispatch", loaded.config.daemon.dispatch_every, self.dispatch)
        scheduler.add_periodic("heartbeat", self._beat_every, self.beat)
        for job_id, every, step in self._periodic:
            scheduler.add_periodic(job_id, every, self._periodic_step(job_id, step))
        self._scheduler = scheduler
        scheduler.start()
        await self._record_next_runs(prune=True)
        log.info("daemon started node=%s config=%s", self.node_id, self.config_path)

    def _periodic_step(
        self, job_id: str, step: Callable[[LoadedConfig], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await step(self.loaded)
            except CwdriftError as exc:  # logged and retried at the next period
                log.error("periodic job %s failed: %s", job_id, exc)

        return run

    async def check(self, tenant_id: str) -> None:
        """One scheduled check. A failure is logged and isolated: other tenants carry on."""
        loaded = self.loaded
        try:
            tenant = loaded.config.tenant(tenant_id)
        except ConfigError:
            log.warning("check skipped tenant=%s: no longer in the config", tenant_id)
            return
        log.info("check started tenant=%s", tenant_id)
        try:
            await self._run_check(loaded, tenant)
        except asyncio.CancelledError:
            log.warning("check cancelled tenant=%s: nothing was recorded", tenant_id)
            raise
        except Exception:
            # run_check records a tenant's own failures as data; reaching here is a bug or a
            # store outage. Log it with the traceback and keep the daemon serving other tenants.
            log.exception("check failed tenant=%s", tenant_id)
        else:
            log.info("check finished tenant=%s", tenant_id)
        await self._record_next_runs(only=tenant_id)

    async def beat(self) -> None:
        """Refresh this node's heartbeat row. A database outage is logged, never fatal."""
        try:
            await asyncio.to_thread(self._beat_now)
        except CwdriftError as exc:
            log.warning("heartbeat not recorded node=%s: %s", self.node_id, exc)

    async def dispatch(self) -> None:
        """Send pending alerts (the outbox lives in the database, so nothing is lost on exit)."""
        try:
            await self._dispatch(self.loaded)
        except Exception:
            # Dispatch records per-message failures itself; this guards the periodic job.
            log.exception("alert dispatch failed; pending alerts stay in the outbox")

    async def reload(self) -> bool:
        """Re-read the config and reconcile the schedules; any failure keeps the old config.

        Whatever goes wrong is logged as one line (every problem of a bad file, joined) and
        the daemon carries on with the config it had: a reload never stops a running monitor.
        """
        if self._scheduler is None:
            log.warning("reload ignored: the daemon is still starting")
            return False
        async with self._reload_lock:
            try:
                # In a thread: a config of thousands of tenants takes seconds to validate.
                loaded = await asyncio.to_thread(
                    load_config, self.config_path, require_tenants=True
                )
                await self._look_before_reload(loaded)
                last_checks = await asyncio.to_thread(self._in_session, last_check_times)
                self.scheduler.reconcile(schedules_of(loaded), last_checks)
            except CwdriftError as exc:
                problems = str(exc).splitlines()
                summary = (
                    problems[0]
                    if len(problems) == 1
                    else (f"{len(problems)} problems: " + "; ".join(problems))
                )
                log.error("reload failed, keeping the previous config: %s", summary)
                return False
            except Exception:  # a bug: keep serving with the config that worked
                log.exception("reload failed (a bug in cwdrift), keeping the previous config")
                return False
            previous, self._loaded = self.loaded, loaded
            for warning in loaded.warnings:
                log.warning("%s", warning)
            self._warn_restart_needed(previous, loaded)
            await self._record_next_runs(prune=True)
            log.info("config reloaded tenants=%d", len(loaded.config.tenants))
            return True

    def request_stop(self) -> None:
        """SIGTERM/SIGINT: ``run()`` leaves its wait and shuts down."""
        log.info("stop requested node=%s", self.node_id)
        self._stop_requested.set()

    async def shutdown(self) -> None:
        """Stop checks (waiting up to the grace period, then cancelling), dispatch, mark stopped."""
        if self._shutdown_done:
            return
        self._shutdown_done = True
        if self._scheduler is None:  # start() failed before scheduling anything
            if self._db is not None:
                self._db.dispose()
            return
        grace = self._grace.total_seconds()
        log.info("shutting down: waiting up to %.0fs for in-flight checks", grace)
        stopping = asyncio.ensure_future(self.scheduler.stop(wait=True))
        done, _ = await asyncio.wait({stopping}, timeout=grace)
        if not done:
            log.warning("grace period over: cancelling the checks still in flight")
            await self.scheduler.stop(wait=False)
        await stopping
        try:
            await asyncio.wait_for(self.dispatch(), timeout=grace)
        except TimeoutError:
            log.warning("final dispatch timed out; pending alerts stay in the outbox")
        try:
            await asyncio.to_thread(self._in_session, record_stop, self.node_id, self._clock())
        except CwdriftError as exc:
            log.warning("could not mark node=%s stopped: %s", self.node_id, exc)
        self.db.dispose()
        log.info("daemon stopped node=%s", self.node_id)

    # -- helpers ---------------------------------------------------------------------------------

    async def _look_before_reload(self, loaded: LoadedConfig) -> None:
        """The injected look at the new config; only a ConfigError stops the reload."""
        if self._before_reload is None:
            return
        try:
            await self._before_reload(self.loaded, loaded)
        except ConfigError:
            raise
        except CwdriftError as exc:  # e.g. the store is down: the preview is advice, not a gate
            log.warning("could not preview the reloaded config: %s", exc)
        except Exception:
            # A bug in the look must not cost the operator the reload they asked for.
            log.exception("could not preview the reloaded config")

    def _on_sighup(self) -> None:
        task = asyncio.ensure_future(self.reload())
        self._signal_tasks.add(task)
        task.add_done_callback(self._reload_done)

    def _reload_done(self, task: asyncio.Task[Any]) -> None:
        """Retrieve the reload's outcome, so asyncio never reports an unretrieved exception."""
        self._signal_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("reload failed, keeping the previous config: %r", task.exception())

    def _in_session(self, func: Callable[..., Any], *args: Any) -> Any:
        with self.db.session() as session:
            return func(session, *args)

    def _beat_now(self) -> None:
        with self.db.session() as session:
            record_beat(
                session,
                node_id=self.node_id,
                hostname=self.hostname,
                pid=self.pid,
                started_at=self._started_at or self._clock(),
                version=__version__,
                role=ROLE,
                now=self._clock(),
            )

    async def _record_next_runs(self, *, only: str | None = None, prune: bool = False) -> None:
        """Write next runs to ``tenant_schedule`` for ``cwdrift status``; failures only logged."""
        runs: Mapping[str, datetime | None]
        if only is not None:
            run = self.scheduler.next_run(only)
            if run is None:
                return  # removed by a reload while its check ran: leave no row behind
            runs = {only: run}
        else:
            runs = self.scheduler.next_runs()
        keep = list(schedules_of(self.loaded)) if prune else None
        try:
            await asyncio.to_thread(self._write_next_runs, runs, keep)
        except CwdriftError as exc:
            log.warning("next runs not recorded: %s", exc)

    def _write_next_runs(
        self, runs: Mapping[str, datetime | None], keep: Sequence[str] | None
    ) -> None:
        with self.db.session() as session:
            write_next_runs(
                session, node_id=self.node_id, next_runs=runs, now=self._clock(), keep_only=keep
            )

    @staticmethod
    def _warn_restart_needed(previous: LoadedConfig, current: LoadedConfig) -> None:
        before, after = previous.config, current.config
        if before.database != after.database:
            log.warning("'database' changed: takes effect after a restart")
        if before.daemon.tenants_in_flight != after.daemon.tenants_in_flight:
            log.warning("'daemon.tenants_in_flight' changed: takes effect after a restart")
        if before.daemon.dispatch_every != after.daemon.dispatch_every:
            log.warning("'daemon.dispatch_every' changed: takes effect after a restart")
