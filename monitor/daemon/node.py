"""A cwdrift node with everything wired: the daemon, the engine the mode picks, health, metrics.

The composition root of the long-running process. ``cwdrift run`` is its one entry point (single
or cluster mode alike); its cluster tuning options (``--ping-every`` ...) let the multi-node
tests and benchmarks recover a killed node in seconds.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from monitor.connectwise.session import SharedHttp
from monitor.daemon.cluster.scheduler import DEFAULT_TUNING, ClusterTuning
from monitor.daemon.identity import new_node_id
from monitor.daemon.loop import Daemon
from monitor.daemon.mode import SchedulerFactory, scheduler_running
from monitor.jobs.deliver import dispatch as dispatch_outbox
from monitor.jobs.fix import check_and_fix
from monitor.jobs.housekeeping import open_findings_by_severity, prune
from monitor.jobs.preview import preview_reload
from monitor.jobs.report import send_report_if_due
from monitor.jobs.runtime import Runtime
from monitor.observability import (
    daemon_probe,
    log_context,
    record_check,
    record_connectwise_response,
    record_open_findings,
    start_health_server,
    watch_host_limits,
)
from monitor.settings import LoadedConfig, TenantConfig
from monitor.store import Database

log = logging.getLogger("cwdrift.node")

REPORT_POLL = timedelta(minutes=5)
RETENTION_EVERY = timedelta(hours=6)
METRICS_EVERY = timedelta(minutes=1)


def node_daemon(
    path: Path,
    *,
    http: SharedHttp,
    tuning: ClusterTuning = DEFAULT_TUNING,
    loaded: LoadedConfig | None = None,
) -> tuple[Daemon, SchedulerFactory]:
    """A daemon wired to the real checks, recording metrics, on the engine its config picks.

    ``http`` (pooled ConnectWise connections) outlives config reloads; the caller closes it.
    ``loaded``: the config of ``path`` when the caller already loaded it (it is not read again).
    """
    current: list[Runtime] = []

    def runtime(loaded: LoadedConfig) -> Runtime:
        if not current or current[0].loaded is not loaded:
            current[:] = [Runtime.open(loaded, migrate=False, http=http)]
            watch_host_limits(current[0].limits)
        return current[0]

    async def run_check(loaded: LoadedConfig, tenant: TenantConfig) -> None:
        started = time.monotonic()
        with log_context(tenant=tenant.id):
            # The check, then each failing rule in approve/auto mode planned or fixed.
            result = await check_and_fix(runtime(loaded), tenant)
        record_check(result.status, time.monotonic() - started)

    async def dispatch(loaded: LoadedConfig) -> None:
        await dispatch_outbox(runtime(loaded))

    async def weekly_report(loaded: LoadedConfig) -> None:
        await send_report_if_due(runtime(loaded))

    async def retention(loaded: LoadedConfig) -> None:
        await prune(runtime(loaded))

    async def findings_gauge(loaded: LoadedConfig) -> None:
        record_open_findings(await open_findings_by_severity(runtime(loaded)))

    async def before_reload(in_force: LoadedConfig, loaded: LoadedConfig) -> None:
        # A changed baseline is previewed on the stored snapshots and its summary logged first.
        await preview_reload(runtime(in_force), loaded)

    node_id = new_node_id()  # one name for the daemon's and the cluster engine's rows
    config = loaded.config if loaded is not None else None
    factory = SchedulerFactory(path, tuning=tuning, config=config, node_id=node_id)
    daemon = Daemon(
        path,
        run_check=run_check,
        dispatch=dispatch,
        open_db=Database,
        scheduler_factory=factory,
        node_id=node_id,
        before_reload=before_reload,
        loaded=loaded,
        periodic=(
            # Polled: the report's slot is in report.timezone, and a missed one catches up.
            ("weekly-report", REPORT_POLL, weekly_report),
            ("retention", RETENTION_EVERY, retention),
            ("metrics", METRICS_EVERY, findings_gauge),
        ),
    )
    return daemon, factory


async def serve(
    loaded: LoadedConfig,
    *,
    tuning: ClusterTuning = DEFAULT_TUNING,
    health_port: int | None = None,
) -> None:
    """Run one node until SIGTERM: the daemon, plus /healthz and /metrics when a port is set.

    ``loaded`` is the config as ``cwdrift run`` loaded it (read once; SIGHUP re-reads its path).
    """
    config = loaded.config
    http = SharedHttp(on_response=record_connectwise_response)
    daemon, factory = node_daemon(loaded.path, http=http, tuning=tuning, loaded=loaded)
    port = health_port if health_port is not None else config.daemon.health_port
    health = None
    if port is not None:
        probe_db = Database(config.database)
        probe = daemon_probe(lambda: scheduler_running(factory.scheduler), probe_db.ping)
        health = start_health_server(config.daemon.health_host, port, probe)
    try:
        await daemon.run()
    finally:
        await http.aclose()
        if health is not None:
            health.close()
            probe_db.dispose()
