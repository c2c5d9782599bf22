"""``cwdrift web``: the web view alone, over the database (no ConnectWise keys, no tenants'
secrets needed), with /healthz, /readyz and /metrics on the same port."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import render
from monitor.cli.common import load, open_database

if TYPE_CHECKING:  # the web view (Starlette, uvicorn, Jinja2) is imported when it is served
    from monitor.web.app import RunningServer

commands = typer.Typer()


@commands.command()
def web(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default web.host, 127.0.0.1). Any other than loopback "
            "needs web.token and TLS (web.certfile/keyfile, or web.behind_tls_proxy)."
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default web.port, 8080; 0 picks a free one).")
    ] = None,
) -> None:
    """Serve the web view: the fleet, each tenant's findings and history, every setting's
    timeline, alerts and weekly reports, read-only, until Ctrl-C or SIGTERM.

    Needs only the database; a node (`cwdrift run`) serves the same pages on its health port.

    Example: cwdrift --config cwdrift.yaml web --port 8080
    """
    import asyncio

    from monitor.web.serve import serve_web

    loaded = load(connectwise=False)  # reads the database only
    web_config = loaded.config.web
    bind_host = host if host is not None else web_config.host
    bind_port = port if port is not None else web_config.port
    db = open_database(loaded)

    def listening(server: RunningServer) -> None:
        render.out.print(
            f"cwdrift web view on {server.url}/ (Ctrl-C to stop)", markup=False, soft_wrap=True
        )
        sys.stdout.flush()  # a pipe (a supervisor, a test) reads the address at once

    try:
        asyncio.run(serve_web(loaded, db, host=bind_host, port=bind_port, on_listening=listening))
    finally:
        db.dispose()
