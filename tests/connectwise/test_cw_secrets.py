"""The private key never appears in errors, reprs or logs (caplog at DEBUG)."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.normalize import normalize
from monitor.errors import ConnectWiseError, MalformedResponse
from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator

from .conftest import (
    AUDIT_PRIVATE,
    AUDIT_PUBLIC,
    CLIENT_ID,
    GOZYNTA_PRIVATE,
    GOZYNTA_PUBLIC,
    ClientFactory,
)
from .fake_http_server import Answer, Request, serve_handler

WRONG_PRIVATE = "Wrong-Private-Key-77"
AT = datetime(2026, 11, 3, tzinfo=UTC)


def secrets_of(company: str, public: str, private: str) -> list[str]:
    token = base64.b64encode(f"{company}+{public}:{private}".encode()).decode()
    return [private, token, f"{public}:{private}"]


SECRETS = [
    *secrets_of("acme", GOZYNTA_PUBLIC, GOZYNTA_PRIVATE),
    *secrets_of("acme", AUDIT_PUBLIC, AUDIT_PRIVATE),
    *secrets_of("acme", GOZYNTA_PUBLIC, WRONG_PRIVATE),
]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize(
    "fault",
    [
        None,
        Fault(kind="status", status=500),
        Fault(kind="rate_limit", retry_after=3),
        Fault(kind="connection_reset"),
        Fault(kind="malformed_json"),
        Fault(kind="html_error", status=200),
        Fault(kind="wrong_shape"),
        Fault(kind="broken_paging"),
        Fault(kind="status", status=403),
    ],
)
@pytest.mark.parametrize(
    ("public", "private"),
    [
        (GOZYNTA_PUBLIC, GOZYNTA_PRIVATE),
        (AUDIT_PUBLIC, SecretStr(AUDIT_PRIVATE)),
        (GOZYNTA_PUBLIC, WRONG_PRIVATE),
    ],
)
async def test_no_secret_in_errors_reprs_or_logs(
    sim: RunningSimulator,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    fault: Fault | None,
    public: str,
    private: str | SecretStr,
) -> None:
    if fault is not None:
        sim.state.add_fault("acme", fault.model_copy(update={"endpoint": "/system/mySecurity"}))
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        client = make_client(public_key=public, private_key=private)
        seen.append(repr(client))
        seen.append(str(client))
        try:
            async with client as cw:
                seen.append(repr(cw))
                raw = await collect_tenant(cw, tenant_id="acme", integration_member="GozyntaAPI")
                seen.append(repr(raw))
                seen.append(str(normalize(raw, AT).to_dict()))
        except ConnectWiseError as exc:
            seen += [str(exc), repr(exc), exc.message, exc.fix, str(exc.as_dict())]
    assert caplog.records, "expected debug lines per request"
    assert any("/system/mySecurity" in r.getMessage() for r in caplog.records)
    assert_clean(caplog.text)
    for text in seen:
        assert_clean(text)


async def test_echoed_secrets_in_a_response_body_are_scrubbed() -> None:
    """A proxy or error page that echoes the Authorization header must not leak it."""
    token = base64.b64encode(f"acme+pub:{GOZYNTA_PRIVATE}".encode()).decode()

    def handler(request: Request) -> Answer:
        if request.path.startswith("/login/companyinfo/"):
            return Answer.json({"Codebase": "v2025_1/", "IsCloud": "False"})
        body = f"<html>Basic {token} key={GOZYNTA_PRIVATE}</html>"
        return Answer(200, body.encode(), {"content-type": "text/html"})

    with serve_handler(handler) as server:
        client = ConnectWiseClient(server.url, "acme", "pub", GOZYNTA_PRIVATE, CLIENT_ID)
        async with client as cw:
            with pytest.raises(MalformedResponse) as caught:
                await cw.get_list("/system/info")
    text = str(caught.value)
    assert "text/html" in text
    assert "<html>Basic ***" in text
    assert GOZYNTA_PRIVATE not in text
    assert token not in text
