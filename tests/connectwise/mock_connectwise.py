"""ConnectWise behind ``httpx.MockTransport``, for faults the simulator cannot easily produce.

``connectwise(api)`` answers the codebase lookup itself and hands every API request to ``api``;
``client(http, sleep, **overrides)`` is a ConnectWiseClient over it; ``Deadlines`` lets a test
decide when a try's total deadline has passed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.limits import HostLimits

from .conftest import CLIENT_ID, RETRY, RecordingSleep

SITE = "https://cw.example.test"
API = f"{SITE}/v4_6_release/apis/3.0"  # on-premise: no api- host
ON_PREMISE = {"Codebase": "v4_6_release/", "IsCloud": "False"}
PRIVATE = "Priv-Mock-Secret-5e6f"
TOKEN = base64.b64encode(f"acme+pub:{PRIVATE}".encode()).decode()

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def connectwise(api: Handler) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """An httpx client whose transport answers companyinfo, then hands API requests to ``api``."""
    sent: list[httpx.Request] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.startswith("/login/companyinfo/"):
            return httpx.Response(200, json=ON_PREMISE)
        answer = api(request)
        return answer if isinstance(answer, httpx.Response) else await answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handle)), sent


def client(http: httpx.AsyncClient, sleep: RecordingSleep, **overrides: Any) -> ConnectWiseClient:
    args: dict[str, Any] = {
        "http": http,
        "retry": RETRY,
        "sleep": sleep,
        "limits": HostLimits(per_minute=100_000),
        "timeout": 10.0,
    }
    args.update(overrides)
    return ConnectWiseClient(SITE, "acme", "pub", PRIVATE, CLIENT_ID, **args)


def api_requests(sent: list[httpx.Request]) -> list[httpx.Request]:
    return [r for r in sent if not r.url.path.startswith("/login/")]


def api_paths(sent: list[httpx.Request]) -> list[str]:
    return [r.url.path for r in api_requests(sent)]


class Deadlines:
    """``asyncio.timeout`` for the client, plus a hand that moves the current one's clock past
    its deadline (the test decides when time is up; nothing waits)."""

    def __init__(self) -> None:
        self.given: list[float] = []
        self._current: asyncio.Timeout | None = None

    def __call__(self, delay: float) -> asyncio.Timeout:
        self.given.append(delay)
        self._current = asyncio.timeout(delay)
        return self._current

    def pass_it(self) -> None:
        assert self._current is not None
        self._current.reschedule(asyncio.get_running_loop().time())
