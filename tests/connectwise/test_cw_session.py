"""What tenants share: one pooled httpx client (no cookies across tenants) and cached codebases
(the read cache's codebase entry; its other entries are tests/connectwise/test_cw_read_cache.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.read_cache import CODEBASE, ReadCache, tenant_key
from monitor.connectwise.session import SharedHttp
from monitor.connectwise.site import CompanyInfo
from monitor.errors import NotFound
from monitor.simulator.server import RunningSimulator

from .conftest import AUDIT_PRIVATE, AUDIT_PUBLIC, CLIENT_ID, ClientFactory
from .fake_http_server import Answer, Request, serve_handler


def paths(sim: RunningSimulator) -> list[str]:
    return [r.path for r in sim.state.requests]


async def test_a_cached_codebase_saves_the_lookup(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    async with make_client(read_cache=cache) as cw:
        await cw.get_list("/finance/glCaptions")
    sim.state.clear_requests()
    async with make_client(read_cache=cache) as cw:
        await cw.get_list("/finance/glCaptions")
    assert paths(sim) == ["/finance/glCaptions"]


async def test_a_moved_codebase_is_looked_up_again_on_404(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    async with make_client(read_cache=cache) as cw:
        await cw.get_list("/finance/glCaptions")
    # ConnectWise upgraded the tenant; its answers still name the old release (the 404 alone
    # must be enough).
    sim.state.upgrade("acme", "v2026_1/", api_version=sim.state.tenant("acme").api_version)
    sim.state.clear_requests()
    async with make_client(read_cache=cache) as cw:
        rows = await cw.get_list("/finance/glCaptions")
        assert cw.base_url.endswith("/v2026_1/apis/3.0")
    assert rows
    assert paths(sim) == ["/finance/glCaptions", "/login/companyinfo/acme", "/finance/glCaptions"]
    assert [r.status for r in sim.state.requests] == [404, 200, 200]
    assert cache.get(tenant_key(sim.url, "acme"), CODEBASE) == CompanyInfo(
        codebase="v2026_1/", is_cloud=True
    )


async def test_a_404_that_is_not_a_moved_codebase_is_reported(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    keys = {"public_key": AUDIT_PUBLIC, "private_key": AUDIT_PRIVATE}
    async with make_client(read_cache=cache, **keys) as cw:
        await cw.get_list("/finance/glCaptions")  # the codebase works: it is remembered
        sim.state.clear_requests()
        with pytest.raises(NotFound):  # fresh lookup: no second one
            await cw.get_one("/system/securityroles/999999")
        assert paths(sim) == ["/system/securityroles/999999"]
    sim.state.clear_requests()
    async with make_client(read_cache=cache, **keys) as cw:
        with pytest.raises(NotFound):  # cached: looked up once more, same codebase, reported
            await cw.get_one("/system/securityroles/999999")
    assert paths(sim) == ["/system/securityroles/999999", "/login/companyinfo/acme"]


def test_cached_answers_expire() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    now = [start]
    cache = ReadCache(clock=lambda: now[0], ttls={CODEBASE: timedelta(seconds=60)})
    info = CompanyInfo(codebase="v2025_1/", is_cloud=True)
    cache.put(tenant_key("https://na.example", "Acme"), CODEBASE, info, "2025.1")
    # company ids are case-insensitive
    assert cache.get(tenant_key("https://na.example", "acme"), CODEBASE) == info
    now[0] = start + timedelta(seconds=60)
    assert cache.get(tenant_key("https://na.example", "acme"), CODEBASE) is None


async def test_a_codebase_that_never_worked_is_not_remembered(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    keys = {"public_key": AUDIT_PUBLIC, "private_key": AUDIT_PRIVATE}
    with pytest.raises(NotFound):
        async with make_client(read_cache=cache, **keys) as cw:
            await cw.get_one("/system/securityroles/999999")
    assert len(cache) == 0
    async with make_client(read_cache=cache, **keys) as cw:
        await cw.get_list("/finance/glCaptions")
    assert len(cache) == 1


async def test_a_shared_client_never_carries_one_tenants_cookie_to_another() -> None:
    def handler(request: Request) -> Answer:
        if request.path.startswith("/login/companyinfo/"):
            return Answer.json({"Codebase": "v2025_1/", "IsCloud": "False"})
        return Answer.json([], **{"Set-Cookie": "session=tenant-a; Path=/"})

    http = SharedHttp()
    with serve_handler(handler) as server:
        for company in ("tenant-a", "tenant-b"):
            # A host name, not 127.0.0.1: cookie jars refuse cookies set by IP addresses.
            site = server.url.replace("127.0.0.1", "localhost")
            client = ConnectWiseClient(site, company, "pub", "priv", CLIENT_ID, http=http.client())
            async with client as cw:
                await cw.get_list("/finance/glCaptions")
        # Not sent, and not kept either: the jar of the shared httpx client stays empty.
        assert len(http.client().cookies) == 0
    await http.aclose()
    assert len(server.requests) == 4
    assert all("cookie" not in r.headers for r in server.requests)


async def test_the_shared_client_is_reused_and_closed_once() -> None:
    http = SharedHttp()
    client = http.client()
    assert http.client() is client
    await http.aclose()
    assert client.is_closed
    assert http.closed


def test_a_new_event_loop_gets_a_new_client() -> None:
    http = SharedHttp()

    async def one() -> object:
        return http.client()

    first = asyncio.run(one())
    second = asyncio.run(one())
    assert first is not second

    async def close() -> None:
        await http.aclose()

    asyncio.run(close())
