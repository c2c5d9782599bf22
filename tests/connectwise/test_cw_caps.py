"""Bounded memory and time on any answer: the size cap, the row cap and the total deadline.

Transport-level behaviour (how much of a body is read, when a try is given up) goes through
``httpx.MockTransport`` streams whose every chunk is counted; whether a connection left with
unread bytes is reused goes over real HTTP through the production transport.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from monitor.connectwise.client import MAX_ROWS, ConnectWiseClient
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.transport import PooledClient
from monitor.errors import (
    ConfigError,
    ConnectionFailed,
    MalformedResponse,
    ResponseTooLarge,
    ServerError,
)
from monitor.settings import load_config

from .conftest import CLIENT_ID, RETRY, RecordingSleep
from .fake_http_server import Answer, FakeServer, Request, serve_handler
from .mock_connectwise import API, Deadlines, api_paths, client, connectwise

CAP = 64 * 1024
CHUNK = 1024


class CountedBody(httpx.AsyncByteStream):
    """``total`` bytes of a JSON list in ``CHUNK``-byte pieces, handing control back to the
    event loop between pieces (a slow server); counts what was taken and whether it was closed."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = b"[" + b" " * (self.total - 2) + b"]"
        for start in range(0, self.total, CHUNK):
            await asyncio.sleep(0)  # another task's turn, as between two packets
            piece = body[start : start + CHUNK]
            self.taken += len(piece)
            yield piece

    async def aclose(self) -> None:
        self.closed = True


# -- the size cap ------------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_abandoned_as_soon_as_it_passes_it(
    sleep: RecordingSleep,
) -> None:
    bodies: list[CountedBody] = []

    def api(_: httpx.Request) -> httpx.Response:
        bodies.append(CountedBody(50 * 1024 * 1024))  # 50 MB would arrive; no length announced
        return httpx.Response(200, stream=bodies[-1])

    http, sent = connectwise(api)
    async with client(http, sleep, max_response_bytes=CAP) as cw:
        with pytest.raises(ResponseTooLarge) as caught:
            await cw.get_list("/system/mySecurity")
    assert isinstance(caught.value, MalformedResponse)  # a tenant error, never drift
    assert caught.value.endpoint == "/system/mySecurity"
    assert caught.value.message == (
        "the answer to /system/mySecurity is larger than the 65,536 bytes cap "
        f"(connectwise.max_response_mb): stopped reading after {CAP + CHUNK:,} bytes"
    )
    (body,) = bodies
    assert body.taken == CAP + CHUNK  # one piece past the cap, then no more
    assert body.closed
    assert len(api_paths(sent)) == 1  # not retried: the same answer would come again
    assert sleep.delays == []


async def test_a_content_length_over_the_cap_is_refused_before_reading(
    sleep: RecordingSleep,
) -> None:
    body = CountedBody(CAP * 4)

    def api(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body, headers={"Content-Length": str(CAP * 4)})

    http, _ = connectwise(api)
    async with client(http, sleep, max_response_bytes=CAP) as cw:
        with pytest.raises(ResponseTooLarge) as caught:
            await cw.get_one("/finance/accountingPackageSetup/1")
    assert "announced 262,144 bytes (Content-Length); nothing was read" in caught.value.message
    assert "/finance/accountingPackageSetup/1" in caught.value.message
    assert body.taken == 0
    assert body.closed


async def test_the_pages_of_one_list_share_the_cap(sleep: RecordingSleep) -> None:
    rows = [{"id": n, "text": "x" * 100} for n in range(400)]  # ~46 KB a page

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        link = f'<{API}/system/mySecurity?pageSize=1000&page={page + 1}>; rel="next"'
        return httpx.Response(200, json=rows, headers={"Link": link})

    http, sent = connectwise(api)
    async with client(http, sleep, max_response_bytes=CAP) as cw:
        with pytest.raises(ResponseTooLarge) as caught:  # not IncompleteRead: a size, not a break
            await cw.get_list("/system/mySecurity")
    assert "the answer to /system/mySecurity (pages 1-2 together) is larger" in str(caught.value)
    assert len(api_paths(sent)) == 2


async def test_a_compressed_body_is_measured_unpacked(sleep: RecordingSleep) -> None:
    packed = gzip.compress(b"[" + b" " * (4 * 1024 * 1024) + b"]")  # 4 MB in about 4 KB

    def api(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=packed, headers={"Content-Encoding": "gzip"})

    http, _ = connectwise(api)
    async with client(http, sleep, max_response_bytes=1024 * 1024) as cw:
        with pytest.raises(ResponseTooLarge, match="larger than the 1 MB cap"):
            await cw.get_list("/finance/glCaptions")


async def test_an_error_answer_is_cut_not_refused(sleep: RecordingSleep) -> None:
    bodies: list[CountedBody] = []

    def api(_: httpx.Request) -> httpx.Response:
        bodies.append(CountedBody(10 * 1024 * 1024))
        return httpx.Response(503, stream=bodies[-1])

    http, _ = connectwise(api)
    async with client(http, sleep, max_response_bytes=CAP) as cw:
        with pytest.raises(ServerError, match="failed with 503"):
            await cw.get_list("/finance/glCaptions")
    assert len(bodies) == RETRY.attempts  # a 5xx to a read is still retried
    assert all(b.taken <= 64 * 1024 + CHUNK and b.closed for b in bodies)


async def test_a_list_over_the_row_cap_stops_at_the_page_that_passes_it(
    sleep: RecordingSleep,
) -> None:
    page_rows = MAX_ROWS // 2 + 1  # two pages pass the cap

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        link = f'<{API}/system/setupScreens?pageSize=1000&page={page + 1}>; rel="next"'
        body = b"[" + b"{}," * (page_rows - 1) + b"{}]"
        return httpx.Response(200, content=body, headers={"Link": link})

    http, sent = connectwise(api)
    async with client(http, sleep) as cw:
        with pytest.raises(ResponseTooLarge) as caught:
            await cw.get_list("/system/setupScreens")
    assert caught.value.message.startswith(
        f"/system/setupScreens returned more than {MAX_ROWS:,} rows by page 2"
    )
    assert len(api_paths(sent)) == 2


# -- the total deadline ------------------------------------------------------------------------


class Trickle(httpx.AsyncByteStream):
    """A valid body whose first byte comes at once and the rest only after the deadline."""

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        arrived = asyncio.Event()
        self._deadlines.pass_it()  # schedules the deadline's expiry first ...
        asyncio.get_running_loop().call_soon(arrived.set)  # ... and the next byte after it
        await arrived.wait()
        yield b"]"

    async def aclose(self) -> None:
        self.closed = True


async def test_a_body_trickling_past_the_deadline_is_a_timeout(sleep: RecordingSleep) -> None:
    deadlines = Deadlines()
    streams: list[Trickle] = []

    def api(_: httpx.Request) -> httpx.Response:
        streams.append(Trickle(deadlines))
        return httpx.Response(200, stream=streams[-1])

    http, sent = connectwise(api)
    async with client(http, sleep, deadline=deadlines) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_list("/finance/glCaptions")
    assert caught.value.message == (
        "ConnectWise did not answer /finance/glCaptions within 10s (deadline) after 3 tries"
    )
    assert deadlines.given == [10.0] * (1 + RETRY.attempts)  # companyinfo, then each try
    assert len(api_paths(sent)) == RETRY.attempts
    assert all(s.closed for s in streams)
    assert sleep.delays == [0.5, 1.0]


async def test_the_deadline_does_not_count_the_wait_for_the_hosts_slot(
    sleep: RecordingSleep,
) -> None:
    """Waiting behind other tenants for the host's slot is politeness, not ConnectWise's delay."""
    deadlines = Deadlines()
    limits = HostLimits(concurrency=1, per_minute=100_000)
    arrived, release = asyncio.Event(), asyncio.Event()

    async def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/slow"):
            arrived.set()
            await release.wait()
        return httpx.Response(200, json=[{"id": 1}])

    http, _ = connectwise(api)
    async with client(http, sleep, deadline=deadlines, limits=limits) as cw:
        slow = asyncio.create_task(cw.get_list("/slow"))  # takes the only slot ...
        fast = asyncio.create_task(cw.get_list("/fast"))  # ... so this one queues for it
        await arrived.wait()
        await asyncio.sleep(0)  # one more turn for /fast to reach the slot
        assert len(deadlines.given) == 2  # companyinfo, /slow; /fast, queued, has no clock yet
        release.set()
        assert await slow == await fast == [{"id": 1}]
    assert len(deadlines.given) == 3


# -- over real HTTP: a connection left with unread bytes is not pooled -------------------------


def sized(request: Request) -> Answer:
    if "/login/companyinfo/" in request.path:
        return Answer.json({"Codebase": "v2025_1/", "IsCloud": "False"})
    if request.path.endswith("/big"):
        return Answer(200, b"[" + b" " * (4 * 1024 * 1024) + b"]", {"content-type": "text/json"})
    return Answer.json([{"id": 1, "path": request.path}])


@pytest.fixture
def sized_site() -> Iterator[FakeServer]:
    with serve_handler(sized) as server:
        yield server


async def test_after_an_abandoned_body_the_next_request_gets_a_clean_connection(
    sized_site: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    pooled = PooledClient()
    cw = ConnectWiseClient(
        sized_site.url, "acme", "pub", "priv", CLIENT_ID, http=pooled.http, max_response_bytes=CAP
    )
    try:
        async with cw:
            await cw.get_list("/first")
            await cw.get_list("/again")  # keep-alive: the same connection as /first
            with pytest.raises(ResponseTooLarge):
                await cw.get_list("/big")
            assert await cw.get_list("/after") == [{"id": 1, "path": "/v2025_1/apis/3.0/after"}]
    finally:
        await pooled.aclose()
    peers = {r.path.rsplit("/", 1)[1]: r.peer for r in sized_site.requests}
    assert peers["first"] == peers["again"] == peers["big"]  # reuse works ...
    assert peers["after"] != peers["big"]  # ... but not of a connection with bytes left on it


# -- the setting -------------------------------------------------------------------------------


ENV = {"ACME_KEY": "not-a-real-key"}


def _config(tmp_path: Path, connectwise: str) -> Path:
    path = tmp_path / "cwdrift.yaml"
    lines = [
        f"database: sqlite:///{tmp_path}/c.db",
        f"connectwise: {connectwise}",
        "tenants:",
        "  - id: acme",
        "    name: Acme",
        "    site: https://na.myconnectwise.net",
        "    company_id: acme",
        "    public_key: pub",
        "    private_key: ${ACME_KEY}",
        f"    client_id: {CLIENT_ID}",
        "    integration_member: GozyntaAPI",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_max_response_mb_defaults_to_20(tmp_path: Path) -> None:
    loaded = load_config(_config(tmp_path, "{}"), env=ENV)
    assert loaded.config.connectwise.max_response_mb == 20


@pytest.mark.parametrize("value", ["0", "-1", "2048", "lots"])
def test_max_response_mb_out_of_range_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, f"{{max_response_mb: {value}}}"), env=ENV)
    assert "max_response_mb" in str(caught.value)
