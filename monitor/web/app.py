"""One ASGI app from route groups, and a uvicorn server for it in the running event loop.

``create_app(health_routes(...), page_routes(...))``: each group is a plain list of Starlette
routes, so a new group of pages never touches the health code. ``start_server`` binds the
socket itself first, so a port in use is one clear ConfigError (uvicorn would ``sys.exit``), and
port 0 yields a free port that the caller can read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from monitor.errors import ConfigError

log = logging.getLogger("cwdrift.web")

# How long close() lets open requests finish (a /metrics scrape is milliseconds).
GRACEFUL_SHUTDOWN_SECONDS = 5


def create_app(
    *route_groups: Iterable[BaseRoute], middleware: Sequence[Middleware] = ()
) -> Starlette:
    """The app serving every group's routes; any other path is a short 404 naming what exists.
    ``middleware`` wraps them all (the pages' :class:`~monitor.web.security.Guard`)."""
    routes = [route for group in route_groups for route in group]
    paths = sorted({path for route in routes if (path := getattr(route, "path", None))})

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"not found: try {', '.join(paths)}\n", status_code=404)

    return Starlette(
        routes=routes, exception_handlers={404: not_found}, middleware=list(middleware)
    )


class _Server(uvicorn.Server):
    """uvicorn inside someone else's event loop: it leaves the process's signals alone (the
    daemon owns SIGTERM and SIGHUP), says when it listens, and stops at once when asked."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()
        self._stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):  # keeps uvicorn's Date header current
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()


@dataclass
class RunningServer:
    """A server started by :func:`start_server`; ``await close()`` stops it and frees the port."""

    host: str
    port: int
    _server: _Server
    _task: asyncio.Task[None]
    scheme: str = "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def close(self) -> None:
        self._server.stop()
        await self._task


def bind(host: str, port: int, *, setting: str = "port") -> socket.socket:
    """A listening-ready socket on ``host:port``; a refusal is a ConfigError naming ``setting``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says so; without it small responses wait ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            location=setting,
            fix="choose a free port (each node on one host needs its own), or an address of "
            "this host",
        ) from None
    return sock


@dataclass(frozen=True)
class TLSFiles:
    """A PEM certificate (chain) and its private key: the server speaks https."""

    certfile: Path
    keyfile: Path

    def check(self) -> None:
        """Load them once up front: a wrong path or a key that does not match is one clear
        ConfigError before anything listens (uvicorn would fail inside its task)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ConfigError(
                f"cannot use the TLS certificate {self.certfile} with key {self.keyfile}: {reason}",
                location="web.certfile",
                fix="give PEM files cwdrift may read, the key matching the certificate",
            ) from None


async def start_server(
    app: Starlette,
    host: str,
    port: int,
    *,
    setting: str = "port",
    tls: TLSFiles | None = None,
) -> RunningServer:
    """Serve ``app`` on ``host:port`` in the running event loop; returns once it listens.
    With ``tls``, over https."""
    if tls is not None:
        tls.check()
    sock = bind(host, port, setting=setting)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,  # probes and scrapes every few seconds would drown the log
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        ssl_certfile=str(tls.certfile) if tls else None,
        ssl_keyfile=str(tls.keyfile) if tls else None,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"web-{host}:{bound_port}")
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    if not server.listening.is_set():
        listening.cancel()
        sock.close()
        await task  # re-raises why it could not start
        raise RuntimeError(f"the web server on {host}:{bound_port} stopped while starting")
    running = RunningServer(
        host=host, port=bound_port, _server=server, _task=task, scheme="https" if tls else "http"
    )
    log.info("listening on %s", running.url)
    return running
