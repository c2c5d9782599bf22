"""Who may read the pages, and the headers every answer carries.

    loopback, no token    open to this machine only (the Host header must name it too, so a
                          web page elsewhere cannot reach the server through DNS rebinding)
    a token configured    every page asks for it: ``Authorization: Bearer <token>``, or a
                          session cookie from the login form (HttpOnly, Secure,
                          SameSite=Strict; an HMAC of its expiry keyed by the token, so the
                          token itself is never stored in a browser, and a new token ends
                          every session). Off loopback a token and TLS are required
                          (:meth:`monitor.settings.WebConfig.exposure_problem`).

``/healthz``, ``/readyz``, ``/metrics`` (Docker, Prometheus) and ``/static`` are always open.
The server is read-only: GET and HEAD everywhere, POST only to ``/login`` (its form carries a
CSRF token that must match a cookie set with the form); anything else is 405, on any path.

Every comparison with the token runs in constant time (HMAC digests compared with
``hmac.compare_digest``). The token never appears in an answer, a log line or an error.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.settings import WebConfig
from monitor.weblinks import LOGIN, STATIC

SESSION_COOKIE = "cwdrift_session"
CSRF_COOKIE = "cwdrift_csrf"
SESSION_HOURS = 12
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/favicon.ico"})
READ_METHODS = frozenset({"GET", "HEAD"})

# No script but our own file, no style but our own sheet, nothing from elsewhere, no framing.
# The weekly report page (the e-mail's HTML, styled inline for mail clients) sets its own,
# allowing inline styles and nothing more (:data:`REPORT_CSP`).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
REPORT_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # other sites learn nothing; our form POST keeps its Origin
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


@dataclass(frozen=True)
class Access:
    """The access rules of one server: its token (None: open, on loopback only), whether it
    speaks TLS itself (then browsers are told to keep to https), and the host names a
    token-less server answers to."""

    token: str | None
    tls: bool = False
    base_host: str | None = None  # web.base_url's host: a loopback server may be proxied
    _session_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = hmac.new(b"cwdrift web session", (self.token or "").encode(), "sha256").digest()
        object.__setattr__(self, "_session_key", key)

    @property
    def open(self) -> bool:
        return self.token is None

    def token_matches(self, given: str) -> bool:
        """Constant time, whatever the lengths: digests of equal length are compared."""
        if self.token is None:
            return False
        return hmac.compare_digest(_digest(given), _digest(self.token))

    def new_session(self, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + SESSION_HOURS * 3600)
        return f"{expires}.{self._sign(str(expires))}"

    def session_valid(self, value: str, now: float | None = None) -> bool:
        expires, _, signature = value.partition(".")
        if not expires.isdigit() or not signature:
            return False
        if not hmac.compare_digest(signature, self._sign(expires)):
            return False
        return int(expires) > (now if now is not None else time.time())

    def _sign(self, text: str) -> str:
        return hmac.new(self._session_key, text.encode(), "sha256").hexdigest()

    def allowed(self, scope: Scope) -> bool:
        """Whether the request may read pages: the token (header or session), or no token."""
        headers = Headers(scope=scope)
        if self.token is None:
            return True
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return self.token_matches(credentials.strip())
        session = cookies(headers).get(SESSION_COOKIE)
        return session is not None and self.session_valid(session)

    def host_allowed(self, scope: Scope) -> bool:
        """A token-less server answers only to names of this machine (or of ``base_url``)."""
        if self.token is not None:
            return True
        host = Headers(scope=scope).get("host", "")
        name = urlsplit(f"//{host}").hostname or ""
        return WebConfig.loopback(name) or (self.base_host is not None and name == self.base_host)

    def cookie(self, name: str, value: str, *, path: str = "/", max_age: int | None = None) -> str:
        """A Set-Cookie value: HttpOnly, Secure, SameSite=Strict, always (browsers treat
        http://127.0.0.1 and http://localhost as secure contexts and keep Secure cookies)."""
        parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "Secure", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return "; ".join(parts)


def cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:  # a malformed header: no cookies
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(STATIC + "/") or path == LOGIN


# Answers a page that refuses the request (built by the pages module: the login form as HTML).
Refusal = Callable[[Request], Awaitable[Response]]


class Guard:
    """ASGI middleware: security headers on every answer, read-only methods, the token.

    ``refuse`` renders the 401 for a browser (the login form); scripts get JSON.
    """

    def __init__(self, app: ASGIApp, *, access: Access, refuse: Refusal | None = None) -> None:
        self.app = app
        self.access = access
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send)
        path: str = scope["path"]
        method: str = scope["method"]
        if method not in READ_METHODS and not (method == "POST" and path == LOGIN):
            allow = "GET, HEAD, POST" if path == LOGIN else "GET, HEAD"
            answer: Response = PlainTextResponse(
                "read-only: only GET and HEAD (and POST to /login)\n",
                status_code=405,
                headers={"allow": allow},
            )
            await answer(scope, receive, send)
            return
        if not self.access.host_allowed(scope):
            answer = PlainTextResponse(
                "this server answers only to this machine's own names (set web.token to serve "
                "it under another)\n",
                status_code=403,
            )
            await answer(scope, receive, send)
            return
        if open_path(path) or self.access.allowed(scope):
            await self.app(scope, receive, send)
            return
        await self._unauthorized(scope, receive, send)

    async def _unauthorized(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        wants_html = "text/html" in request.headers.get("accept", "") and (
            request.query_params.get("format") != "json"
        )
        if wants_html and self.refuse is not None:
            answer = await self.refuse(request)
        else:
            answer = JSONResponse(
                {"error": "unauthorized: give the access token as 'Authorization: Bearer ...'"},
                status_code=401,
            )
        answer.headers["www-authenticate"] = 'Bearer realm="cwdrift"'
        await answer(scope, receive, send)

    def _with_headers(self, send: Send) -> Send:
        tls = self.access.tls

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", CSP)
                headers.setdefault("cache-control", "no-store")
                if tls:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        return sending


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_origin(request: Request) -> bool:
    """A browser's POST names where its page came from; it must be this server."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # an absent Origin (older clients) is allowed; "null" is not
    return urlsplit(origin).netloc == request.headers.get("host", "")


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after logging in: only a path of this server (never ``//host``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


__all__ = [
    "CSP",
    "CSRF_COOKIE",
    "REPORT_CSP",
    "SESSION_COOKIE",
    "Access",
    "Guard",
    "cookies",
    "new_csrf_token",
    "open_path",
    "safe_next",
    "same_origin",
]
