"""The web app as a process serves it: in a node (beside its health routes) or alone
(``cwdrift web``, which needs only the database).

:func:`web_app_for` applies the safety rules of ``web:`` to the address actually bound (a node
binds ``daemon.health_host``; ``cwdrift web --host`` may differ from ``web.host``): off loopback
the pages need the token and TLS, or the app is not built (ConfigError naming the fix).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from monitor.clock import utcnow
from monitor.configfile import relative_to
from monitor.errors import ConfigError
from monitor.settings import LoadedConfig
from monitor.store import Database
from monitor.web.app import RunningServer, TLSFiles, start_server
from monitor.web.health import Health, database_probe, health_routes, templates_probe
from monitor.web.pages import web_app
from monitor.web.security import Access
from monitor.web.site import Site


def access_for(loaded: LoadedConfig, host: str) -> Access:
    """The access rules of ``web:`` for a server on ``host``; a ConfigError when serving the
    pages there would not be safe (:meth:`~monitor.settings.WebConfig.exposure_problem`)."""
    web = loaded.config.web
    exposed = web.exposure_problem(host)
    if exposed is not None:
        problem, fix = exposed
        raise ConfigError(problem, location="web", fix=fix)
    return Access(
        token=web.token.get_secret_value() if web.token is not None else None,
        tls=web.tls,
        base_host=urlsplit(web.base_url).hostname if web.base_url else None,
    )


def tls_for(loaded: LoadedConfig) -> TLSFiles | None:
    """``web.certfile``/``web.keyfile``, relative to the config file like every path in it."""
    web = loaded.config.web
    if web.certfile is None or web.keyfile is None:
        return None
    return TLSFiles(relative_to(loaded.path, web.certfile), relative_to(loaded.path, web.keyfile))


def web_app_for(
    config: Callable[[], LoadedConfig],
    db: Database,
    host: str,
    *route_groups: list[BaseRoute],
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The pages over ``db`` for the config ``config()`` returns (the one in force), plus
    ``route_groups``, for a server on ``host``."""
    access = access_for(config(), host)
    return web_app(Site(db=db, config=config, clock=clock), access, *route_groups)


async def serve_web(
    loaded: LoadedConfig,
    db: Database,
    *,
    host: str,
    port: int,
    on_listening: Callable[[RunningServer], None] = lambda server: None,
) -> None:
    """``cwdrift web``: the pages and /healthz, /readyz, /metrics until SIGTERM or SIGINT.

    uvicorn runs inside this loop with its own signal handling off (as in a node), so the
    signals are handled here: either one closes the server, letting open requests finish.
    """
    health = Health({"database": database_probe(db.ping), "templates": templates_probe()})
    app = web_app_for(lambda: loaded, db, host, health_routes(health))
    server = await start_server(app, host, port, setting="web.port", tls=tls_for(loaded))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        on_listening(server)
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
        await server.close()
