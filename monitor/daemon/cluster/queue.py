"""The Procrastinate side of cluster mode: the app, the ``check_tenant`` task, and deferral.

A check is deferred with ``queueing_lock`` and ``lock`` both ``check:<tenant>``:

* ``queueing_lock``: at most one *waiting* check per tenant; a later tick while one waits gets
  ``AlreadyEnqueued``, which is the coalescing we want (one run after a backlog, not N);
* ``lock``: never two checks of one tenant *running* at once, on any node.

The task body is whatever the node's daemon runs for a scheduled check (``Daemon.check``, which
calls ``monitor.jobs.check_tenant``), so checks behave the same as in single-node mode.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

from monitor.errors import ConfigError

log = logging.getLogger("cwdrift.cluster")

TASK_NAME = "cwdrift.check_tenant"
QUEUE = "checks"

RunCheck = Callable[[str], Awaitable[None]]


def lock_for(tenant_id: str) -> str:
    return f"check:{tenant_id}"


def psycopg_conninfo(database_url: str) -> str:
    """The libpq URL of a ``postgresql+psycopg://`` SQLAlchemy URL, for Procrastinate."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            f"cluster mode needs PostgreSQL, the database is {url.get_backend_name()}",
            location="daemon.mode",
            fix="set daemon.mode: single, or move to PostgreSQL (cwdrift db migrate-to URL)",
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(conninfo: str, run_check: RunCheck, *, pool_size: int = 4) -> App:
    """A Procrastinate app whose ``check_tenant`` task awaits ``run_check(tenant_id)``."""
    app = App(
        connector=PsycopgConnector(
            conninfo=conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"application_name": "cwdrift-worker"},
        )
    )

    # No retry: a failed check is recorded as data by the check itself, and the next tick
    # checks again. A retry would also collide with the queueing lock (see scheduling.md).
    @app.task(name=TASK_NAME, queue=QUEUE, retry=False, pass_context=False)
    async def check_tenant(tenant_id: str) -> None:
        await run_check(tenant_id)

    return app


async def defer_check(app: App, tenant_id: str) -> int | None:
    """Queue a check of ``tenant_id``; None when one is already waiting (coalesced)."""
    lock = lock_for(tenant_id)
    try:
        job_id: int = (
            await app.tasks[TASK_NAME]
            .configure(queueing_lock=lock, lock=lock)
            .defer_async(tenant_id=tenant_id)
        )
    except AlreadyEnqueued:
        log.debug("check of tenant=%s already queued: coalesced", tenant_id)
        return None
    return job_id
