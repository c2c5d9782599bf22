"""The web app's health answers and the metrics it serves (parsed by prometheus_client's own
parser), and the logs. A node's own probes are tested in tests/web/test_health.py."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.connectwise.limits import HostLimits
from monitor.connectwise.session import SharedHttp
from monitor.errors import ConfigError
from monitor.observability import (
    configure_logging,
    log_context,
    record_alert,
    record_check,
    record_connectwise_response,
    record_open_findings,
    watch_host_limits,
)
from monitor.simulator.server import serve_asgi
from monitor.web.app import RunningServer, create_app, start_server
from monitor.web.health import Health, Probe, database_probe, health_routes


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


Serve = Callable[[Mapping[str, Probe]], Awaitable[RunningServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start the real app (health routes only) over real HTTP; every server is closed after."""
    servers: list[RunningServer] = []

    async def start(liveness: Mapping[str, Probe]) -> RunningServer:
        app = create_app(health_routes(Health(liveness)))
        server = await start_server(app, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


def fixed(ok: bool) -> Probe:
    return lambda: None if ok else "down"


@pytest.mark.parametrize(
    ("checks", "status", "verdict"),
    [
        ({"scheduler": True, "database": True}, 200, "ok"),
        ({"scheduler": True, "database": False}, 503, "failing"),
        ({"scheduler": False, "database": True}, 503, "failing"),
    ],
)
async def test_healthz_reports_each_check(
    serve: Serve, checks: Mapping[str, bool], status: int, verdict: str
) -> None:
    server = await serve({name: fixed(ok) for name, ok in checks.items()})
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/healthz")
    assert response.status_code == status
    reasons = {name: "down" for name, ok in checks.items() if not ok}
    assert response.json() == {"status": verdict, "checks": dict(checks), "reasons": reasons}


async def test_a_raising_probe_is_unhealthy_and_its_message_not_echoed(serve: Serve) -> None:
    def probe() -> str | None:
        raise RuntimeError("postgresql://user:s3cret@db/cwdrift unreachable")

    def refusing() -> bool:
        raise RuntimeError("postgresql://user:s3cret@db/cwdrift refused")

    server = await serve({"probe": probe, "database": database_probe(refusing)})
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert "s3cret" not in response.text
    assert response.json()["reasons"] == {
        "probe": "RuntimeError (see the log)",
        "database": "RuntimeError (see the log)",
    }


async def test_metrics_page_parses_and_counts_what_was_recorded(serve: Serve) -> None:
    server = await serve({})
    scrape = httpx.AsyncClient()
    before = samples((await scrape.get(f"{server.url}/metrics")).text)

    record_check("drift", 0.4)
    record_check("error", 1.5)
    record_open_findings({"critical": 3, "warning": 1})
    record_alert("slack-ops", delivered=True)
    record_alert("email-ops", delivered=False, permanent=True)

    page = await scrape.get(f"{server.url}/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    after = samples(page.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert grew("cwdrift_checks_total", outcome="drift") == 1
    assert grew("cwdrift_checks_total", outcome="error") == 1
    assert grew("cwdrift_check_duration_seconds_count") == 2
    assert after[("cwdrift_open_findings", (("severity", "critical"),))] == 3
    assert grew("cwdrift_alerts_sent_total", channel="slack-ops") == 1
    assert grew("cwdrift_alerts_failed_total", channel="email-ops", permanent="true") == 1

    record_open_findings({"warning": 2})  # critical fixed: the gauge must drop, not stay at 3
    again = samples((await scrape.get(f"{server.url}/metrics")).text)
    await scrape.aclose()
    assert again[("cwdrift_open_findings", (("severity", "critical"),))] == 0
    assert again[("cwdrift_open_findings", (("severity", "warning"),))] == 2


async def test_unknown_path_is_404_naming_the_routes(serve: Serve) -> None:
    server = await serve({})
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/nope")
    assert response.status_code == 404
    assert response.text == "not found: try /healthz, /metrics, /readyz\n"


async def test_a_port_in_use_is_one_clear_error(serve: Serve) -> None:
    server = await serve({})
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        await start_server(create_app(), "127.0.0.1", server.port, setting="daemon.health_port")


async def test_connectwise_requests_and_rate_limit_waits_are_exposed(serve: Serve) -> None:
    server = await serve({})
    scrape = httpx.AsyncClient()
    statuses = iter([200, 429, 200])
    before = samples((await scrape.get(f"{server.url}/metrics")).text)
    http = SharedHttp(on_response=record_connectwise_response)
    with serve_asgi(answering(statuses)) as url:
        for _ in range(3):
            await http.client().get(url)
    with contextlib.suppress(httpx.TransportError):  # nothing listens there: "error"
        await http.client().get(f"http://127.0.0.1:{closed_port()}/")
    await http.aclose()

    # A bucket of one request per minute and a burst of one: the second request must wait.
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    now = [0.0]
    limits = HostLimits(concurrency=1, per_minute=1, clock=lambda: now[0], sleep=no_sleep)
    watch_host_limits(limits)
    limiter = limits.for_host("api-na.example.test")
    for _ in range(2):
        async with limiter.slot():
            pass

    after = samples((await scrape.get(f"{server.url}/metrics")).text)
    await scrape.aclose()
    key200 = ("cwdrift_connectwise_requests_total", (("status", "200"),))
    key429 = ("cwdrift_connectwise_requests_total", (("status", "429"),))
    assert after[key200] - before.get(key200, 0) == 2
    assert after[key429] - before.get(key429, 0) == 1
    key_error = ("cwdrift_connectwise_requests_total", (("status", "error"),))
    assert after[key_error] - before.get(key_error, 0) == 1
    assert after[("cwdrift_rate_limit_waits_total", (("host", "api-na.example.test"),))] == 1
    assert waits  # the wait really happened (on the injected clock)


def answering(statuses: Iterator[int]) -> Any:
    """An ASGI app answering each request with the next status, empty body."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": next(statuses), "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_logs_are_json_lines_with_the_bound_ids() -> None:
    stream = io.StringIO()  # not a terminal: JSON is the default
    configure_logging(stream=stream)
    log = logging.getLogger("cwdrift.test")
    with log_context(tenant="acme", run_id="r-42"):
        log.info("collected %d rows", 7)
    log.warning("outside", extra={"tenant": "globex"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "collected 7 rows"
    assert (first["tenant"], first["run_id"], first["level"]) == ("acme", "r-42", "info")
    assert second["tenant"] == "globex" and "run_id" not in second


def test_log_context_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown log context"), log_context(password="x"):
        pass
