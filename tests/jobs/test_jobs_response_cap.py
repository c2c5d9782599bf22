"""``connectwise.max_response_mb`` reaches every check: an answer past it is a tenant error.

The simulator's ASGI app, wrapped so that one endpoint answers 2 MB, over real HTTP.
"""

from __future__ import annotations

import asyncio
from typing import Any

from monitor.jobs.check import TenantResult, check_tenant
from monitor.jobs.runtime import Runtime
from monitor.simulator.app import create_app
from monitor.simulator.fleet_config import fleet_config
from monitor.simulator.scenario import generate_fleet
from monitor.simulator.server import serve_asgi
from monitor.simulator.state import SimulatorState

PADDING = b" " * (2 * 1024 * 1024)


def with_a_huge_gl_captions(app: Any) -> Any:
    """The simulator, but ``/finance/glCaptions`` padded with 2 MB of (valid JSON) whitespace."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/finance/glCaptions"):
            await app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                parts.append(message.get("body", b""))

        await app(scope, receive, capture)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(parts) + PADDING})

    return wrapped


def check_once(rt: Runtime) -> TenantResult:
    async def run() -> TenantResult:
        async with rt:
            return await check_tenant(rt, rt.config.tenants[0])

    return asyncio.run(run())


def test_an_answer_past_max_response_mb_is_a_tenant_error_never_drift(database_url: str) -> None:
    state = SimulatorState(generate_fleet(1, seed=3))
    with serve_asgi(with_a_huge_gl_captions(create_app(state))) as url:
        capped = Runtime.open(
            fleet_config(1, url, database_url, connectwise={"max_response_mb": 1})
        )
        result = check_once(capped)
        capped.db.dispose()
        roomy = Runtime.open(fleet_config(1, url, database_url, connectwise={"max_response_mb": 3}))
        again = check_once(roomy)
        roomy.db.dispose()
    assert result.status == "error"
    assert result.findings == []
    assert result.error is not None
    assert result.error.as_dict()["kind"] == "malformed"
    assert result.error.as_dict()["endpoint"] == "/finance/glCaptions"
    assert "larger than the 1 MB cap (connectwise.max_response_mb)" in result.error.message
    # With room for it, the same answer is read and the tenant checked as usual.
    assert (again.status, again.error) == ("compliant", None)
