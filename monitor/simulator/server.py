"""Serve an ASGI app on a loopback port in a background thread (tests, demo, benchmarks, CLI).

``serve_asgi`` is generic: the simulator uses it, and other tests reuse it to stand up a local
Slack-compatible endpoint. Readiness is signalled by an Event set right after uvicorn's own
``startup()`` has bound and started listening, so callers never poll or sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from monitor.clock import utcnow
from monitor.simulator.app import create_app
from monitor.simulator.scenario import Scenario
from monitor.simulator.slack import SlackSink, create_slack_app
from monitor.simulator.state import SimulatorState

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from starlette.types import ASGIApp

# How long to wait for the server thread to come up or go down before giving up loudly.
# A safety net against a wedged thread, not a synchronisation mechanism.
_THREAD_TIMEOUT = 30.0


class _SignallingServer(uvicorn.Server):
    """A uvicorn server that tells the starting thread when it is listening (or has died)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self._wakeup = asyncio.Event()
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        """uvicorn's loop, but woken at once by ``stop()`` instead of on its next 0.1 s tick."""
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            if self._wakeup is None:
                await asyncio.sleep(0.1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), 0.1)

    def stop(self) -> None:
        """Ask the server (from any thread) to shut down."""
        self.should_exit = True
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished in the meantime
                loop.call_soon_threadsafe(wakeup.set)


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting uvicorn so the port (even port 0) is known up front."""
    # IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says so; without it small responses wait ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextmanager
def serve_asgi(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread; yield its base URL, e.g. ``http://127.0.0.1:43121``.

    The server is accepting connections when the URL is yielded, and is shut down (open
    connections closed, thread joined) when the block exits.
    """
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _SignallingServer(config)

    def run() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            server.ready.set()  # a failed start must not leave the caller waiting

    thread = threading.Thread(target=run, name=f"asgi-{host}:{bound_port}", daemon=True)
    thread.start()
    try:
        if not server.ready.wait(_THREAD_TIMEOUT) or not server.started:
            raise RuntimeError(
                f"ASGI server on {host}:{bound_port} did not start; see the uvicorn log above"
            )
        yield f"http://{host}:{bound_port}"
    finally:
        server.stop()
        thread.join(_THREAD_TIMEOUT)
        sock.close()


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator listening on ``url``; mutate ``state`` to change what it returns."""

    url: str
    state: SimulatorState

    def api_url(self, company_id: str) -> str:
        """The REST base of one tenant, ``{url}/{codebase}apis/3.0``, as companyinfo leads to."""
        return f"{self.url}/{self.state.codebase(company_id)}apis/3.0"


@contextmanager
def running_simulator(
    scenario_or_state: Scenario | SimulatorState,
    *,
    now: Callable[[], datetime] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningSimulator]:
    """Serve a scenario (or an existing state) over real HTTP for the duration of the block.

    ``now`` stamps ``_info.lastUpdated`` on mutations (default: the wall clock, freezable);
    it is ignored when a ready-made state is passed.
    """
    if isinstance(scenario_or_state, SimulatorState):
        state = scenario_or_state
    else:
        state = SimulatorState(scenario_or_state, now=now or utcnow)
    with serve_asgi(create_app(state), host=host, port=port) as url:
        yield RunningSimulator(url=url, state=state)


def serve_forever(
    state: SimulatorState,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    slack: SlackSink | None = None,
) -> None:
    """Serve in the foreground until interrupted (``cwdrift simulate --scenario FILE --port N``).

    With ``slack``, a Slack-compatible sink answers under ``/slack`` on the same port: one
    address for the compose trial's nodes, which accept plain http only on their loopback.
    """
    app: ASGIApp = create_app(state)
    if slack is not None:
        app = Starlette(routes=[Mount("/slack", app=create_slack_app(slack)), Mount("", app=app)])
    uvicorn.run(app, host=host, port=port, log_level="info")
