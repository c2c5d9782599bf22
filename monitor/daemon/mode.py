"""Which scheduling engine a daemon runs: the mode follows the database URL and one setting.

    daemon.mode: auto      SQLite -> single, PostgreSQL -> cluster   (the default)
    daemon.mode: single    the embedded APScheduler engine; exactly ONE daemon per database
    daemon.mode: cluster   Procrastinate workers on every node, one leader clock (PostgreSQL only)

Why ``auto`` picks cluster on PostgreSQL: two single-mode daemons on one database would both
check every tenant and send every alert twice, silently, whereas cluster mode on a lone node
costs nothing but its Procrastinate tables (created by the normal migration) and adds no
service to run. SQLite cannot be shared by several hosts, so there it is always single.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

from monitor.daemon.cluster.scheduler import ClusterCheckScheduler
from monitor.daemon.cluster.tuning import DEFAULT_TUNING, ClusterTuning
from monitor.daemon.scheduler import ApsCheckScheduler, CheckScheduler
from monitor.errors import ConfigError
from monitor.settings import Config, load_config

Mode = Literal["single", "cluster"]


def resolve_mode(config: Config) -> Mode:
    """The engine for ``config``; ConfigError for cluster mode on SQLite."""
    postgres = make_url(config.database).get_backend_name() == "postgresql"
    wanted = config.daemon.mode
    if wanted == "cluster" and not postgres:
        raise ConfigError(
            "daemon.mode is 'cluster' but the database is not PostgreSQL",
            location="daemon.mode",
            fix="use daemon.mode: single (or auto) on SQLite, or move the history to "
            "PostgreSQL with `cwdrift db migrate-to postgresql+psycopg://...`",
        )
    if wanted == "auto":
        return "cluster" if postgres else "single"
    return wanted


class SchedulerFactory:
    """A daemon ``scheduler_factory`` that picks the engine from the config file at start.

    The daemon builds its scheduler after loading the config, but is constructed before, so
    this reads the same file when called, unless the caller already loaded it (``config``):
    with thousands of tenants a load takes seconds. Wire it as
    ``Daemon(path, ..., scheduler_factory=SchedulerFactory(path))``.
    """

    def __init__(
        self,
        config_path: Path,
        *,
        tuning: ClusterTuning = DEFAULT_TUNING,
        config: Config | None = None,
        node_id: str | None = None,
    ) -> None:
        self._config_path = config_path
        self._tuning = tuning
        self._config = config
        self._node_id = node_id  # the daemon's, so `status` names each node once
        self.mode: Mode | None = None
        self.scheduler: CheckScheduler | None = None

    def __call__(
        self,
        run_check: Callable[[str], Awaitable[None]],
        *,
        max_in_flight: int,
        clock: Callable[[], datetime],
    ) -> CheckScheduler:
        config = self._config or load_config(self._config_path).config
        self.mode = resolve_mode(config)
        build = (
            partial(
                ClusterCheckScheduler,
                database_url=config.database,
                tuning=self._tuning,
                node_id=self._node_id,
            )
            if self.mode == "cluster"
            else ApsCheckScheduler
        )
        scheduler: CheckScheduler = build(run_check, max_in_flight=max_in_flight, clock=clock)
        self.scheduler = scheduler
        return scheduler


def scheduler_running(scheduler: CheckScheduler | None) -> bool:
    """For the health probe: the engine is started and (in cluster mode) its loops are alive."""
    if scheduler is None:
        return False
    if isinstance(scheduler, ClusterCheckScheduler):
        return scheduler.running
    return True


def leads(scheduler: CheckScheduler | None) -> bool:
    """Whether this node speaks for the cluster (the per-tenant gauges): always in single mode."""
    if isinstance(scheduler, ClusterCheckScheduler):
        return scheduler.is_leader
    return scheduler is not None
