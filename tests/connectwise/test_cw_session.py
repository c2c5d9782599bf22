"""What tenants share: one pooled httpx client (no cookies across tenants) and cached codebases."""

from __future__ import annotations

import asyncio

import pytest

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.session import CompanyInfoCache, SharedHttp
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
    cache = CompanyInfoCache()
    async with make_client(company_info=cache) as cw:
        await cw.get_list("/finance/glCaptions")
    sim.state.clear_requests()
    async with make_client(company_info=cache) as cw:
        await cw.get_list("/finance/glCaptions")
    assert paths(sim) == ["/finance/glCaptions"]


async def test_a_moved_codebase_is_looked_up_again_on_404(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = CompanyInfoCache()
    async with make_client(company_info=cache) as cw:
        await cw.get_list("/finance/glCaptions")
    with sim.state.locked():
        sim.state.tenant("acme").codebase = "v2026_1/"  # ConnectWise upgraded the tenant
    sim.state.clear_requests()
    async with make_client(company_info=cache) as cw:
        rows = await cw.get_list("/finance/glCaptions")
        assert cw.base_url.endswith("/v2026_1/apis/3.0")
    assert rows
    assert paths(sim) == ["/finance/glCaptions", "/login/companyinfo/acme", "/finance/glCaptions"]
    assert [r.status for r in sim.state.requests] == [404, 200, 200]
    assert cache.get(sim.url, "acme") == CompanyInfo(codebase="v2026_1/", is_cloud=True)


async def test_a_404_that_is_not_a_moved_codebase_is_reported(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = CompanyInfoCache()
    keys = {"public_key": AUDIT_PUBLIC, "private_key": AUDIT_PRIVATE}
    async with make_client(company_info=cache, **keys) as cw:
        sim.state.clear_requests()
        with pytest.raises(NotFound):  # fresh lookup: no second one
            await cw.get_one("/system/securityroles/999999")
        assert paths(sim) == ["/system/securityroles/999999"]
    sim.state.clear_requests()
    async with make_client(company_info=cache, **keys) as cw:
        with pytest.raises(NotFound):  # cached: looked up once more, same codebase, reported
            await cw.get_one("/system/securityroles/999999")
    assert paths(sim) == ["/system/securityroles/999999", "/login/companyinfo/acme"]


def test_cached_answers_expire() -> None:
    now = [0.0]
    cache = CompanyInfoCache(ttl=60, clock=lambda: now[0])
    info = CompanyInfo(codebase="v2025_1/", is_cloud=True)
    cache.put("https://na.example", "Acme", info)
    assert cache.get("https://na.example", "acme") == info  # company ids are case-insensitive
    now[0] = 60.0
    assert cache.get("https://na.example", "acme") is None


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
