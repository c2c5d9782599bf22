"""Alert test servers and databases: local Slack endpoint, real SMTP (aiosmtpd), SQL databases.

Each PostgreSQL test gets its own uniquely named database, created and dropped around it, so
other engineers' tests on the same server never see these rows.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from monitor.simulator.server import serve_asgi

SMTP_USER = "cwdrift"
SMTP_PASSWORD = "hunter2-smtp-password"
GOOD_TOKEN = "xoxb-good-hunter2token"
REVOKED_TOKEN = "xoxb-revoked-hunter2token"
BUSY_TOKEN = "xoxb-busy-hunter2token"
RETRY_AFTER_SECONDS = 7


# -- Slack ------------------------------------------------------------------------------------


@dataclass
class SlackEndpoint:
    """A loopback server speaking the incoming-webhook protocol and ``chat.postMessage``.

    Webhook paths end in a "secret" whose first word picks the answer: ``ok...`` -> 200 "ok",
    ``busy...`` -> 429 with Retry-After, ``revoked...`` -> 403 "invalid_token", ``down...`` ->
    500. Bot tokens pick the Web API answer the same way (see the *_TOKEN constants).
    """

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    retry_after: str = str(RETRY_AFTER_SECONDS)  # what a 429 says; tests set absurd values

    def webhook_url(self, secret: str) -> str:
        return f"{self.url}/services/T000/B000/{secret}"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.received]

    def record(self, path: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.received.append({"path": path, "body": body})

    async def webhook(self, request: Request) -> Response:
        secret = request.path_params["secret"]
        if secret.startswith("busy"):
            return PlainTextResponse(
                "rate_limited", status_code=429, headers={"Retry-After": self.retry_after}
            )
        if secret.startswith("revoked"):
            return PlainTextResponse("invalid_token", status_code=403)
        if secret.startswith("down"):
            return PlainTextResponse("internal error", status_code=500)
        self.record(request.url.path, json.loads(await request.body()))
        return PlainTextResponse("ok")

    async def post_message(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token == BUSY_TOKEN:
            return JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": self.retry_after},
            )
        if token != GOOD_TOKEN:
            return JSONResponse({"ok": False, "error": "invalid_token"})
        body = json.loads(await request.body())
        self.record(request.url.path, body)
        return JSONResponse({"ok": True, "channel": body["channel"], "ts": "1700000000.000100"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/services/{team}/{bot}/{secret}", self.webhook, methods=["POST"]),
                Route("/api/chat.postMessage", self.post_message, methods=["POST"]),
            ]
        )


@pytest.fixture
def slack() -> Iterator[SlackEndpoint]:
    endpoint = SlackEndpoint()
    with serve_asgi(endpoint.app()) as url:
        endpoint.url = url
        yield endpoint


# -- SMTP -------------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler keeping every message it accepted.

    ``refuse`` plays a relay in trouble: while set, DATA is answered with it (say a 550), for
    every message or, with ``refuse_if``, for those whose raw bytes contain that text.
    """

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refused: list[bytes] = []
        self.refuse: str | None = None
        self.refuse_if: bytes | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.content
        if self.refuse is not None and (self.refuse_if is None or self.refuse_if in content):
            self.refused.append(content)
            return self.refuse
        self.messages.append(content)
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticate,
            auth_require_tls=False,  # loopback only: no TLS in this test server
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server with AUTH, on a free port; not started (tests start it when they want)."""
    server = SmtpServer(port=free_port(), inbox=Inbox())
    yield server
    server.stop()
