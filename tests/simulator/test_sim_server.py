"""``serve_asgi`` is a generic loopback server: reachable inside the block, gone after it."""

from __future__ import annotations

import httpx
import pytest
from sim_support import ACME, demo_scenario
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from monitor.simulator.server import running_simulator, serve_asgi


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.query_params.get('name', 'world')}")


def test_serve_asgi_serves_any_app_then_shuts_down() -> None:
    app = Starlette(routes=[Route("/hello", hello)])
    with serve_asgi(app) as url:
        answer = httpx.get(f"{url}/hello", params={"name": "slack"})
    assert url.startswith("http://127.0.0.1:")
    assert answer.text == "hello slack"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/hello")


def test_two_servers_get_different_ports() -> None:
    app = Starlette(routes=[Route("/hello", hello)])
    with serve_asgi(app) as first, serve_asgi(app) as second:
        assert first != second
        assert httpx.get(f"{second}/hello").status_code == 200


def test_running_simulator_accepts_a_scenario_and_exposes_state() -> None:
    with running_simulator(demo_scenario()) as sim:
        response = httpx.get(f"{sim.api_url('acme')}/system/info", headers=ACME.headers())
        logged = sim.state.requests
    assert response.status_code == 200
    assert sim.api_url("acme") == f"{sim.url}/v2025_1/apis/3.0"
    assert [r.path for r in logged] == ["/system/info"]


async def test_app_works_in_process_through_asgi_transport() -> None:
    from monitor.simulator.app import create_app
    from monitor.simulator.state import SimulatorState

    transport = httpx.ASGITransport(app=create_app(SimulatorState(demo_scenario())))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        response = await client.get("/v2025_1/apis/3.0/system/mySecurity", headers=ACME.headers())
    assert response.status_code == 200
    assert 'rel="next"' in response.headers["Link"]
    assert response.headers["Link"].startswith("<http://sim/v2025_1/apis/3.0/system/mySecurity?")
