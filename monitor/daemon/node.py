"""A cwdrift node with everything wired: the daemon, the engine the mode picks, health, metrics.

The composition root of the long-running process. ``cwdrift run`` is its one entry point (single
or cluster mode alike); its cluster tuning options (``--ping-every`` ...) let the multi-node
tests and benchmarks recover a killed node in seconds.

With ``daemon.health_port`` set, the node serves the web app (:mod:`monitor.web`) in its own
event loop: ``/healthz`` from its scheduler, database, baseline and templates; ``/readyz`` also
from what its checks did (:class:`~monitor.observability.CheckWatch`); ``/metrics``; and the
pages (fleet, tenants, timelines, alerts, reports) under the rules of ``web:``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from monitor.clock import utcnow
from monitor.connectwise.session import SharedHttp
from monitor.daemon.cluster.tuning import DEFAULT_TUNING, ClusterTuning
from monitor.daemon.identity import new_node_id
from monitor.daemon.loop import Daemon
from monitor.daemon.mode import SchedulerFactory, leads, scheduler_running
from monitor.daemon.scheduler import longest_gap
from monitor.errors import ConfigError
from monitor.jobs.deliver import dispatch as dispatch_outbox
from monitor.jobs.fix import check_and_fix
from monitor.jobs.housekeeping import fleet_standing, prune
from monitor.jobs.preview import preview_reload
from monitor.jobs.report import send_report_if_due
from monitor.jobs.runtime import Runtime
from monitor.observability import (
    TENANT_GAUGES,
    CheckWatch,
    TenantGauge,
    WatchVerdict,
    log_context,
    record_check,
    record_connectwise_response,
    record_fleet_checks,
    record_open_findings,
    watch_host_limits,
)
from monitor.settings import LoadedConfig, TenantConfig
from monitor.store import Database
from monitor.web.app import RunningServer, TLSFiles, create_app, start_server
from monitor.web.health import (
    Health,
    Probe,
    baseline_probe,
    database_probe,
    health_routes,
    templates_probe,
)
from monitor.web.serve import tls_for, web_app_for

log = logging.getLogger("cwdrift.node")

REPORT_POLL = timedelta(minutes=5)
RETENTION_EVERY = timedelta(hours=6)
METRICS_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NodeParts:
    """A node's daemon, its engine factory, and the gauge refresh its daemon runs every minute
    (exposed so tests need not wait a minute for it)."""

    daemon: Daemon
    factory: SchedulerFactory
    refresh_gauges: Callable[[LoadedConfig], Awaitable[None]]


def node_daemon(
    path: Path,
    *,
    http: SharedHttp,
    tuning: ClusterTuning = DEFAULT_TUNING,
    loaded: LoadedConfig | None = None,
    watch: CheckWatch | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> NodeParts:
    """A daemon wired to the real checks, recording metrics, on the engine its config picks.

    ``http`` (pooled ConnectWise connections) outlives config reloads; the caller closes it.
    ``loaded``: the config of ``path`` when the caller already loaded it (it is not read again).
    ``watch`` hears of every check attempt, a crashed one included, for ``/readyz``.
    """
    current: list[Runtime] = []
    watch = watch or CheckWatch(started_at=clock())

    def runtime(loaded: LoadedConfig) -> Runtime:
        if not current or current[0].loaded is not loaded:
            current[:] = [Runtime.open(loaded, migrate=False, http=http)]
            watch_host_limits(current[0].limits)
        return current[0]

    async def run_check(loaded: LoadedConfig, tenant: TenantConfig) -> None:
        started = time.monotonic()
        try:
            with log_context(tenant=tenant.id):
                # The check, then each failing rule in approve/auto mode planned or fixed.
                result = await check_and_fix(runtime(loaded), tenant)
        except Exception as exc:
            # Not a tenant's own failure (those come back as results): the store, the baseline,
            # a bug. The daemon logs it; the watch must count it, or /readyz would say "ok".
            watch.record(tenant.id, clock(), failure="internal", detail=type(exc).__name__)
            raise
        record_check(result.status, time.monotonic() - started)
        error = result.error
        watch.record(
            tenant.id,
            clock(),
            failure=error.kind if error is not None else None,
            detail=error.message if error is not None else "",
        )

    async def dispatch(loaded: LoadedConfig) -> None:
        await dispatch_outbox(runtime(loaded))

    async def weekly_report(loaded: LoadedConfig) -> None:
        await send_report_if_due(runtime(loaded))

    async def retention(loaded: LoadedConfig) -> None:
        await prune(runtime(loaded))

    async def before_reload(in_force: LoadedConfig, loaded: LoadedConfig) -> None:
        # A changed baseline is previewed on the stored snapshots and its summary logged first.
        await preview_reload(runtime(in_force), loaded)

    node_id = new_node_id()  # one name for the daemon's and the cluster engine's rows
    config = loaded.config if loaded is not None else None
    factory = SchedulerFactory(path, tuning=tuning, config=config, node_id=node_id)

    async def gauges(loaded: LoadedConfig) -> None:
        """The store's fleet-wide numbers (every node shows the same); the per-tenant series
        from one node only, so that Prometheus never sums a tenant twice."""
        fleet = await fleet_standing(runtime(loaded))
        record_open_findings(fleet.open_by_severity)
        record_fleet_checks(failing=fleet.failing, last_success=fleet.last_success)
        if loaded.config.metrics.per_tenant and leads(factory.scheduler):
            TENANT_GAUGES.publish(
                [TenantGauge(t.tenant_id, t.last_success, t.open_findings) for t in fleet.tenants]
            )
        else:
            TENANT_GAUGES.clear()

    daemon = Daemon(
        path,
        run_check=run_check,
        dispatch=dispatch,
        open_db=Database,
        scheduler_factory=factory,
        clock=clock,
        node_id=node_id,
        before_reload=before_reload,
        loaded=loaded,
        periodic=(
            # Polled: the report's slot is in report.timezone, and a missed one catches up.
            ("weekly-report", REPORT_POLL, weekly_report),
            ("retention", RETENTION_EVERY, retention),
            ("metrics", METRICS_EVERY, gauges),
        ),
    )
    return NodeParts(daemon, factory, gauges)


def can_work(loaded: LoadedConfig) -> None:
    """Refuse to start (ConfigError: one line, exit 2) without a loadable baseline and the
    templates: a node that starts anyway checks nothing (``/healthz`` catches later breakage)."""
    for name, probe in (
        ("baseline", baseline_probe(lambda: loaded)),
        ("templates", templates_probe()),
    ):
        why = probe()  # the /healthz probes themselves; these raise ConfigError on their own
        if why:
            raise ConfigError(why, location=name)


@dataclass
class WatchWindow:
    """How long without a successful check ``/readyz`` tolerates: ``health.failing_intervals``
    times the longest gap of any tenant's schedule (cached per config: crons are sampled)."""

    clock: Callable[[], datetime] = utcnow
    _for: LoadedConfig | None = None
    _window: timedelta = timedelta(0)

    def __call__(self, loaded: LoadedConfig) -> timedelta:
        if loaded is not self._for:
            config = loaded.config
            now = self.clock()
            gaps = [longest_gap(config.schedule_for(t), now) for t in config.tenants]
            gap = max(gaps, default=longest_gap(config.daemon.schedule, now))
            self._for, self._window = loaded, gap * config.health.failing_intervals
        return self._window


def node_health(
    daemon: Daemon,
    initial: LoadedConfig,
    *,
    scheduler_ok: Callable[[], bool],
    ping: Callable[[], bool],
    watch: CheckWatch,
    clock: Callable[[], datetime] = utcnow,
) -> Health:
    """A node's probes: its scheduler, database, baseline and templates; and its checks."""

    def in_force() -> LoadedConfig:
        return daemon.in_force or initial

    def scheduler() -> str | None:
        return None if scheduler_ok() else "the scheduler is not running"

    window = WatchWindow(clock)

    def watching() -> WatchVerdict:
        loaded = in_force()
        tenants = [t.id for t in loaded.config.tenants]
        return watch.verdict(clock(), window(loaded), tenants)

    liveness: dict[str, Probe] = {
        "scheduler": scheduler,
        "database": database_probe(ping),
        "baseline": baseline_probe(in_force),
        "templates": templates_probe(),
    }
    return Health(liveness, watching=watching)


def node_app(
    daemon: Daemon,
    loaded: LoadedConfig,
    db: Database,
    host: str,
    health: list[BaseRoute],
) -> tuple[Starlette, TLSFiles | None]:
    """The web pages (over the daemon's config in force) and ``health`` on one app; health
    alone, with a warning naming the fix, where ``web:`` does not make the pages safe to
    serve on ``host`` (a container binds 0.0.0.0 for its probes: those must keep working)."""
    try:
        app = web_app_for(lambda: daemon.in_force or loaded, db, host, health)
    except ConfigError as exc:
        log.warning("web pages not served on %s: %s (fix: %s)", host, exc.problem, exc.fix)
        return create_app(health), None
    return app, tls_for(loaded)


async def serve(
    loaded: LoadedConfig,
    *,
    tuning: ClusterTuning = DEFAULT_TUNING,
    health_port: int | None = None,
    health_host: str | None = None,
) -> None:
    """Run one node until SIGTERM: the daemon, plus /healthz, /readyz and /metrics on a port.

    ``loaded`` is the config as ``cwdrift run`` loaded it (read once; SIGHUP re-reads its path).
    """
    can_work(loaded)
    config = loaded.config
    http = SharedHttp(on_response=record_connectwise_response)
    watch = CheckWatch(started_at=utcnow())
    parts = node_daemon(loaded.path, http=http, tuning=tuning, loaded=loaded, watch=watch)
    daemon, factory = parts.daemon, parts.factory
    port = health_port if health_port is not None else config.daemon.health_port
    server: RunningServer | None = None
    probe_db = Database(config.database)
    try:
        if port is not None:
            health = node_health(
                daemon,
                loaded,
                scheduler_ok=lambda: scheduler_running(factory.scheduler),
                ping=probe_db.ping,
                watch=watch,
            )
            host = health_host or config.daemon.health_host
            app, tls = node_app(daemon, loaded, probe_db, host, health_routes(health))
            server = await start_server(app, host, port, setting="daemon.health_port", tls=tls)
        await daemon.run()
    finally:
        await http.aclose()
        if server is not None:
            await server.close()
        probe_db.dispose()
