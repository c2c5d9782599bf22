"""A local Slack-compatible endpoint: incoming webhooks and the Web API's ``chat.postMessage``.

The demo points cwdrift's Slack channel at it (so people see alerts arrive without a Slack
workspace) and tests point slack-sdk at it. It answers as Slack documents:

- ``POST /services/<anything>`` (incoming webhook): ``200 ok``; a revoked hook answers
  ``404 no_service`` and a throttled one ``429`` with ``Retry-After``
  (https://api.slack.com/messaging/webhooks#handling_errors);
- ``POST /api/chat.postMessage`` (Web API, bearer token): ``{"ok": true, "ts": ...}`` or
  ``{"ok": false, "error": "invalid_token"}``; throttling is ``429`` + ``Retry-After``
  (https://api.slack.com/docs/rate-limits).

``GET /messages`` lists what arrived (JSON), and ``echo`` shows each message as it arrives: the
compose trial serves the sink from the simulator (``cwdrift simulate --slack-sink``), so a
person sees alerts in its log.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class SlackSink:
    """What the endpoint received, and the faults it should answer with next (thread-safe)."""

    valid_tokens: set[str] = field(default_factory=lambda: {"xoxb-local-test-token"})
    messages: list[dict[str, Any]] = field(default_factory=list)
    revoked: bool = False  # webhook answers 404 no_service from now on
    throttle: list[int] = field(default_factory=list)  # Retry-After seconds for the next requests
    # While set, webhook requests hang unanswered (a sender that dies mid-send); ``held`` counts
    # them, and a held request is never counted as delivered, even after ``release()``.
    hold: threading.Event = field(default_factory=threading.Event, repr=False)
    held: int = 0
    echo: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def record(self, kind: str, payload: dict[str, Any]) -> None:
        message = {"via": kind, **payload}
        with self._lock:
            self.messages.append(message)
        if self.echo is not None:
            self.echo(message)

    def next_throttle(self) -> int | None:
        with self._lock:
            return self.throttle.pop(0) if self.throttle else None

    def texts(self) -> list[str]:
        with self._lock:
            return [str(m.get("text", "")) for m in self.messages]


def create_slack_app(sink: SlackSink) -> Starlette:
    async def webhook(request: Request) -> Response:
        if sink.hold.is_set():
            with sink._lock:
                sink.held += 1
            await asyncio.to_thread(sink._released.wait)
            return PlainTextResponse("held", status_code=503)
        retry_after = sink.next_throttle()
        if retry_after is not None:
            return PlainTextResponse(
                "rate_limited", status_code=429, headers={"Retry-After": str(retry_after)}
            )
        if sink.revoked:
            return PlainTextResponse("no_service", status_code=404)
        try:
            payload = json.loads(await request.body())
        except json.JSONDecodeError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return PlainTextResponse("no_text", status_code=400)
        sink.record("webhook", payload)
        return PlainTextResponse("ok")

    async def post_message(request: Request) -> Response:
        retry_after = sink.next_throttle()
        if retry_after is not None:
            return JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in sink.valid_tokens:
            return JSONResponse(
                {"ok": False, "error": "invalid_auth" if not token else "invalid_token"}
            )
        if request.headers.get("content-type", "").startswith("application/json"):
            payload = json.loads(await request.body())
        else:
            payload = dict(await request.form())
        if not payload.get("channel"):
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        sink.record("chat.postMessage", payload)
        return JSONResponse({"ok": True, "channel": payload["channel"], "ts": "1700000000.000100"})

    async def received(request: Request) -> Response:
        with sink._lock:
            return JSONResponse({"messages": list(sink.messages)})

    return Starlette(
        routes=[
            Route("/services/{path:path}", webhook, methods=["POST"]),
            Route("/api/chat.postMessage", post_message, methods=["POST"]),
            Route("/messages", received, methods=["GET"]),
        ]
    )
