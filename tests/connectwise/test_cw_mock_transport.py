"""Transport-level faults the simulator cannot easily produce, through ``httpx.MockTransport``.

The client takes any ``httpx.AsyncClient``; these tests hand it one whose transport is a
function. The simulator over real HTTP stays the main test double (test_cw_client.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from monitor.errors import ConnectionFailed, ConnectWiseError, IncompleteRead

from .conftest import RETRY, RecordingSleep
from .mock_connectwise import API, ON_PREMISE, PRIVATE, TOKEN, api_paths, client, connectwise


class BreaksMidBody(httpx.AsyncByteStream):
    """Half a JSON list, then the connection is reset."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'[{"id": 1}, '
        raise httpx.ReadError("[Errno 104] Connection reset by peer")


async def test_a_reset_mid_body_is_retried_then_a_connection_failure(sleep: RecordingSleep) -> None:
    http, sent = connectwise(lambda _: httpx.Response(200, stream=BreaksMidBody()))
    async with client(http, sleep) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_list("/finance/glCaptions")
    assert caught.value.endpoint == "/finance/glCaptions"
    assert "could not read /finance/glCaptions from cw.example.test: ReadError" in str(caught.value)
    assert "Connection reset by peer" in str(caught.value)
    assert len(api_paths(sent)) == RETRY.attempts
    assert sleep.delays == [0.5, 1.0]


async def test_a_transport_error_on_page_two_is_an_incomplete_read(sleep: RecordingSleep) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        link = f'<{API}/system/mySecurity?pageSize=1000&page=2>; rel="next"'
        return httpx.Response(200, json=[{"id": 1}], headers={"Link": link})

    http, sent = connectwise(api)
    async with client(http, sleep) as cw:
        with pytest.raises(IncompleteRead) as caught:
            await cw.get_list("/system/mySecurity")
    assert caught.value.endpoint == "/system/mySecurity"
    assert "broke at page 2" in caught.value.message
    assert "ConnectError" in caught.value.message
    assert [r.url.params.get("page", "1") for r in sent[1:]] == ["1", "2", "2", "2"]


async def test_a_next_link_httpx_cannot_parse_is_an_incomplete_read(sleep: RecordingSleep) -> None:
    def api(_: httpx.Request) -> httpx.Response:
        link = f'<{API}/system/mySecurity?pageSize=1000&page=\x7f2>; rel="next"'
        return httpx.Response(200, json=[{"id": 1}], headers={"Link": link})

    http, sent = connectwise(api)
    async with client(http, sleep) as cw:
        with pytest.raises(IncompleteRead) as caught:
            await cw.get_list("/system/mySecurity")
    assert "broke at page 2: cannot request /system/mySecurity (page 2)" in caught.value.message
    assert "non-printable" in caught.value.message
    assert len(api_paths(sent)) == 1  # page 2 was never sent


async def test_a_timeout_says_how_long_was_waited(sleep: RecordingSleep) -> None:
    def api(_: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    http, _ = connectwise(api)
    async with client(http, sleep) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_one("/system/info")
    assert "did not answer /system/info within 10s (ReadTimeout) after 3 tries" in str(caught.value)


async def test_a_body_that_cannot_be_decoded_is_a_connection_failure(sleep: RecordingSleep) -> None:
    def api(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})

    http, _ = connectwise(api)
    async with client(http, sleep) as cw:
        with pytest.raises(ConnectionFailed, match="DecodingError"):
            await cw.get_list("/finance/glCaptions")


async def test_secrets_in_a_transport_error_are_scrubbed(sleep: RecordingSleep) -> None:
    def api(_: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError(f"proxy refused 'Authorization: Basic {TOKEN}' key={PRIVATE}")

    http, _ = connectwise(api)
    async with client(http, sleep) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.get_list("/finance/glCaptions")
    text = str(caught.value)
    assert "ProxyError proxy refused 'Authorization: Basic ***' key=***" in text
    assert TOKEN not in text
    assert PRIVATE not in text


async def test_the_given_clients_cookies_auth_headers_and_redirects_are_not_used(
    sleep: RecordingSleep,
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.host == "evil.example":
            return httpx.Response(200, json=[])
        return httpx.Response(302, headers={"Location": "https://evil.example/steal"})

    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.startswith("/login/companyinfo/"):
            return httpx.Response(200, json=ON_PREMISE)
        return api(request)

    http = httpx.AsyncClient(
        transport=httpx.MockTransport(handle),
        cookies={"session": "another-tenant"},
        auth=("someone", "else"),
        headers={"X-Other": "1"},
        follow_redirects=True,
    )
    async with client(http, sleep) as cw:
        with pytest.raises(ConnectWiseError, match="answered 302"):
            await cw.get_list("/finance/glCaptions")
    assert [r.url.host for r in sent] == ["cw.example.test", "cw.example.test"]
    for request in sent:
        assert request.headers["authorization"] == f"Basic {TOKEN}"
        assert "cookie" not in request.headers
        assert "x-other" not in request.headers
    assert sleep.delays == []  # a redirect is not retried either
