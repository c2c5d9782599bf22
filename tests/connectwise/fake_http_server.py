"""A stand-in HTTP server for edge cases the simulator does not produce, served over real HTTP.

``serve_handler(handler)`` runs a tiny ASGI app with uvicorn (``monitor.simulator.server``) whose
every answer comes from ``handler(request)``; it yields the base URL. Each request is kept in
``FakeServer.requests`` so tests can assert what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from monitor.simulator.server import serve_asgi


@dataclass(frozen=True)
class Request:
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    peer: str = ""  # the client's "host:port": one per TCP connection


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Answer:
        headers = {"content-type": "application/json", **headers}
        return cls(status, json.dumps(payload).encode(), headers)


Handler = Callable[[Request], Answer]


@dataclass
class FakeServer:
    url: str
    requests: list[Request] = field(default_factory=list)


@contextmanager
def serve_handler(handler: Handler) -> Iterator[FakeServer]:
    served: list[Request] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(
            path=scope["path"],
            query=scope["query_string"].decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            peer=":".join(str(part) for part in scope.get("client") or ()),
        )
        served.append(request)
        answer = handler(request)
        headers = [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    with serve_asgi(app) as url:
        yield FakeServer(url, served)
