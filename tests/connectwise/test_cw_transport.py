"""The httpx client over aiohttp (transport.py), over real HTTP: proxies, errors, the observer."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator

import pytest

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.transport import PooledClient
from monitor.errors import ConnectionFailed
from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator

from .conftest import CLIENT_ID, RETRY, ClientFactory, RecordingSleep
from .fake_http_server import Answer, FakeServer, Request, serve_handler

CLOSED = "http://127.0.0.1:9"  # nothing listens there
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy")


def connectwise(request: Request) -> Answer:
    """companyinfo, then one row for any list; a forward proxy sees absolute-form targets."""
    if "/login/companyinfo/" in request.path:
        return Answer.json({"Codebase": "v2025_1/", "IsCloud": "False"})
    return Answer.json([{"id": 1}])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def proxy() -> Iterator[FakeServer]:
    with serve_handler(connectwise) as server:
        yield server


@pytest.fixture(scope="module")
def site() -> Iterator[FakeServer]:
    with serve_handler(connectwise) as server:
        yield server


# -- proxies ---------------------------------------------------------------------------------


async def test_requests_go_through_the_proxy_the_environment_names(
    clean_env: pytest.MonkeyPatch, proxy: FakeServer
) -> None:
    proxy.requests.clear()
    clean_env.setenv("HTTP_PROXY", proxy.url)
    async with ConnectWiseClient(CLOSED, "acme", "pub", "priv", CLIENT_ID) as cw:
        assert await cw.get_list("/finance/glCaptions") == [{"id": 1}]
    assert [r.path for r in proxy.requests] == [
        f"{CLOSED}/login/companyinfo/acme",
        f"{CLOSED}/v2025_1/apis/3.0/finance/glCaptions",
    ]


async def test_a_proxy_for_https_only_leaves_http_direct(
    clean_env: pytest.MonkeyPatch, proxy: FakeServer, site: FakeServer
) -> None:
    proxy.requests.clear()
    site.requests.clear()
    clean_env.setenv("HTTPS_PROXY", proxy.url)  # a proxy for https only; the site is http
    async with ConnectWiseClient(site.url, "acme", "pub", "priv", CLIENT_ID) as cw:
        await cw.get_list("/finance/glCaptions")
    assert (len(site.requests), len(proxy.requests)) == (2, 0)


# (NO_PROXY, the site's host, whether requests go direct); {port} is the site's port.
NO_PROXY_CASES = [
    ("localhost", "localhost", True),
    (".localhost", "localhost", True),  # leading dots are dropped
    ("LOCALHOST", "localhost", True),
    ("127.0.0.1", "127.0.0.1", True),
    ("0.0.1", "127.0.0.1", True),  # a suffix on a dot boundary
    ("27.0.0.1", "127.0.0.1", False),  # not on a dot boundary
    ("cw.internal.example, localhost", "localhost", True),
    ("cw.internal.example", "localhost", False),
    ("localhost:{port}", "localhost", True),
    ("localhost:1", "localhost", False),  # another port
    ("10.0.0.0/8", "127.0.0.1", False),  # CIDR is not understood, as urllib does not
    ("*", "127.0.0.1", True),
]


@pytest.mark.parametrize(("no_proxy", "host", "direct"), NO_PROXY_CASES)
async def test_no_proxy_exempts_the_hosts_urllib_would(
    clean_env: pytest.MonkeyPatch,
    proxy: FakeServer,
    site: FakeServer,
    no_proxy: str,
    host: str,
    direct: bool,
) -> None:
    port = site.url.rsplit(":", 1)[1]
    no_proxy = no_proxy.format(port=port)
    clean_env.setenv("HTTP_PROXY", proxy.url)
    clean_env.setenv("NO_PROXY", no_proxy)
    # The table agrees with the standard library's own rule ...
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed
    assert bypass(f"{host}:{port}") is direct
    # ... and so does where the requests really went.
    proxy.requests.clear()
    site.requests.clear()
    async with ConnectWiseClient(f"http://{host}:{port}", "acme", "pub", "priv", CLIENT_ID) as cw:
        await cw.get_list("/finance/glCaptions")
    went = (len(site.requests), len(proxy.requests))
    assert went == ((2, 0) if direct else (0, 2))


# -- errors: named for what happened, not as httpx-aiohttp 0.2 would -------------------------


async def test_a_refused_connection_is_a_connect_error_not_a_timeout(
    clean_env: pytest.MonkeyPatch, sleep: RecordingSleep
) -> None:
    client = ConnectWiseClient(
        CLOSED, "acme", "pub", "priv", CLIENT_ID, retry=RETRY, sleep=sleep, limits=HostLimits()
    )
    with pytest.raises(ConnectionFailed) as caught:
        async with client:
            pass
    assert caught.value.endpoint == "/login/companyinfo/acme"
    said = caught.value.message
    assert "could not read /login/companyinfo/acme from 127.0.0.1: ConnectError" in said
    assert "Timeout" not in said
    assert len(sleep.delays) == RETRY.attempts - 1


async def test_a_reset_mid_body_is_a_protocol_error_not_a_timeout(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    sim.state.add_fault("acme", Fault(kind="connection_reset", endpoint="/finance/glCaptions"))
    async with make_client() as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_list("/finance/glCaptions")
    assert "RemoteProtocolError Response payload is not completed" in caught.value.message
    assert "Timeout" not in caught.value.message


def no_deadline(_: float) -> asyncio.Timeout:
    """The client's whole-request deadline switched off, to see the transport's own timeout."""
    return asyncio.timeout(None)


async def test_a_slow_answer_is_a_read_timeout(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    sim.state.add_fault("acme", Fault(kind="latency", seconds=0.6, endpoint="/finance/glCaptions"))
    # The total deadline (as long as the read timeout, and started first) would win the race.
    async with make_client(timeout=0.1, deadline=no_deadline) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_list("/finance/glCaptions")
    assert "did not answer /finance/glCaptions within 0.1s (ReadTimeout)" in caught.value.message


async def test_a_slow_answer_meets_the_deadline_first(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    sim.state.add_fault("acme", Fault(kind="latency", seconds=0.6, endpoint="/finance/glCaptions"))
    async with make_client(timeout=0.1) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_list("/finance/glCaptions")
    assert "did not answer /finance/glCaptions within 0.1s (deadline)" in caught.value.message


# -- the observer ----------------------------------------------------------------------------


async def test_every_response_and_every_failed_connection_is_observed(
    clean_env: pytest.MonkeyPatch, site: FakeServer, sleep: RecordingSleep
) -> None:
    seen: list[str] = []
    pooled = PooledClient(on_response=seen.append)
    reached = ConnectWiseClient(site.url, "acme", "pub", "priv", CLIENT_ID, http=pooled.http)
    async with reached as cw:
        await cw.get_list("/finance/glCaptions")
    refused = ConnectWiseClient(
        CLOSED, "acme", "pub", "priv", CLIENT_ID, http=pooled.http, retry=RETRY, sleep=sleep
    )
    with pytest.raises(ConnectionFailed):
        async with refused:
            pass
    await pooled.aclose()
    assert seen == ["200", "200"] + ["error"] * RETRY.attempts
    assert pooled.closed
