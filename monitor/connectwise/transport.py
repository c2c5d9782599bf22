"""The httpx client cwdrift reaches ConnectWise with: httpx on top, aiohttp's pooled sockets below.

The ConnectWise client speaks httpx (one public type, ``httpx.MockTransport`` in tests).
Underneath, the ``httpx-aiohttp`` transport (by the httpx maintainer; the OpenAI Python SDK uses
it the same way) sends each request through an aiohttp session: less CPU per request than
httpx's own transport, and keep-alive connections that every tenant on a host shares
(bench/RESULTS.md). This is the one module that imports aiohttp.

What a client built here guarantees to every tenant that shares it:

* TLS verified with one context per process (building one costs ~30 ms of CPU);
* no cookies at either layer, so nothing of one tenant's session rides along with another's
  request to the same host;
* ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` honoured, as httpx mounts built here rather than by
  httpx's ``trust_env``, which would also read ``~/.netrc`` and add credentials of its own;
* failures below httpx raised as httpx exceptions of the right kind: httpx-aiohttp 0.2 reports
  any aiohttp connection error as ``ConnectTimeout``, so a refused or reset connection would
  read as a timeout, and lets some aiohttp errors through unmapped;
* every response's status (or "error" when none came back) reported to ``on_response``, so
  the daemon counts them for /metrics without the ConnectWise client knowing about metrics.
"""

from __future__ import annotations

import functools
import http.cookiejar
import ipaddress
import logging
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import certifi
import httpx
from httpx_aiohttp import AiohttpTransport

log = logging.getLogger("cwdrift.connectwise")

ResponseObserver = Callable[[str], None]  # called with the status ("200", "429") or "error"
Mounts = dict[str, httpx.AsyncBaseTransport | None]  # None: the client's direct transport


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (CERT_REQUIRED, hostname checked).

    Building one loads the whole CA bundle, about 30 ms of CPU: per tenant check that was
    most of a check's cost (bench/RESULTS.md).
    """
    return ssl.create_default_context(cafile=certifi.where())


class PooledClient:
    """An ``httpx.AsyncClient`` over its own aiohttp connection pool, and the pool's lifetime.

    ``http.aclose()`` closes the pool too; :meth:`abandon` lets go of a pool whose event loop
    has ended (only that loop could close it).
    """

    def __init__(self, *, on_response: ResponseObserver | None = None) -> None:
        # No connection cap of its own: the per-host cap is HostLimiter's job (limits.py).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls_context(), limit=0),
            cookie_jar=aiohttp.DummyCookieJar(),  # aiohttp would otherwise keep them below httpx
        )

        def transport(proxy: httpx.Proxy | None = None) -> _Transport:
            return _Transport(self._session, proxy=proxy, on_response=on_response)

        self.http: httpx.AsyncClient = _CookielessClient(
            transport=transport(),
            mounts=proxy_mounts(transport),
            follow_redirects=False,  # a redirect must not carry the keys to another host
            trust_env=False,  # see proxy_mounts
        )

    @property
    def closed(self) -> bool:
        """Whether the connection pool is closed (closing ``http`` closes it)."""
        return self._session.closed

    async def aclose(self) -> None:
        await self.http.aclose()

    def abandon(self) -> None:
        # Detach rather than leak an "Unclosed client session" warning from a finished loop.
        if not self._session.closed:
            self._session.detach()


def open_client(*, on_response: ResponseObserver | None = None) -> httpx.AsyncClient:
    """A private client with its own pool (one ConnectWiseClient, a CLI run); ``aclose`` it."""
    return PooledClient(on_response=on_response).http


class _NoCookieJar(http.cookiejar.CookieJar):
    """A cookie jar that keeps no cookie, so there is never one to send."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class _NoCookies(httpx.Cookies):
    """httpx's cookie store over :class:`_NoCookieJar`, ignoring Set-Cookie without parsing it."""

    def __init__(self) -> None:
        super().__init__(_NoCookieJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        # httpx offers every response here; turning it into urllib objects only for the jar to
        # drop the cookies cost ~0.25 ms of CPU per check (bench/RESULTS.md).
        return None


class _CookielessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose cookie store is :class:`_NoCookies`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("the ConnectWise client keeps no cookies")


# -- proxies -------------------------------------------------------------------------------------


def proxy_mounts(transport: Callable[[httpx.Proxy], httpx.AsyncBaseTransport]) -> Mounts:
    """httpx mounts for the proxies ``HTTPS_PROXY``/``HTTP_PROXY`` name, minus ``NO_PROXY``.

    Read with ``urllib.request.getproxies_environment`` (lower- and upper-case names, and the
    CGI rule for ``HTTP_PROXY``); ``NO_PROXY`` entries follow ``proxy_bypass_environment``:
    leading dots dropped, a name matches itself and its subdomains, ``host:port`` that port
    only, ``*`` every host.
    """
    proxies = urllib.request.getproxies_environment()
    mounts: Mounts = {}
    for scheme in ("http", "https"):
        url = proxies.get(scheme)
        if url:
            proxy = httpx.Proxy(url if "://" in url else f"http://{url}")
            mounts[f"{scheme}://"] = transport(proxy)
    if not mounts:
        return mounts
    no_proxy = proxies.get("no", "")
    if no_proxy.strip() == "*":
        return {}
    for name in no_proxy.split(","):
        pattern = _bypass_pattern(name)
        if pattern is not None:
            mounts[pattern] = None
    return mounts


def _bypass_pattern(entry: str) -> str | None:
    name = entry.strip().lstrip(".").lower()
    if not name or "/" in name:  # CIDR ranges: proxy_bypass_environment never matches them
        return None
    try:
        ipaddress.IPv6Address(name.strip("[]"))
    except ValueError:
        pattern = f"all://*{name}"  # the name itself or any subdomain of it
    else:
        pattern = f"all://[{name.strip('[]')}]"
    try:
        httpx.URL(pattern)
    except httpx.InvalidURL:
        log.warning("NO_PROXY entry %r is not a host name; ignored", entry.strip())
        return None
    return pattern


# -- the transport -------------------------------------------------------------------------------


class _Transport(AiohttpTransport):
    """httpx-aiohttp over a shared session, with truthful errors and a response observer."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        proxy: httpx.Proxy | None,
        on_response: ResponseObserver | None,
    ) -> None:
        # verify: the context is used as is, so no second CA bundle is loaded per transport.
        super().__init__(verify=tls_context(), trust_env=False, proxy=proxy, client=session)
        self._on_response = on_response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            with _httpx_errors():
                response = await super().handle_async_request(request)
        except httpx.TransportError:
            if self._on_response is not None:
                self._on_response("error")
            raise
        if self._on_response is not None:
            self._on_response(str(response.status_code))
        assert isinstance(response.stream, httpx.AsyncByteStream)  # httpx-aiohttp's body stream
        response.stream = _Body(response.stream)
        return response


class _Body(httpx.AsyncByteStream):
    """The response body, with a reset or timeout mid-body raised as the httpx error it is."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _httpx_errors():
            await self._stream.aclose()


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
        # httpx-aiohttp chains its (often wrong) httpx error to aiohttp's: classify the cause.
        cause = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
        error = _as_httpx(cause) if isinstance(cause, Exception) else None
        if error is None:
            raise
        raise error from cause


def _as_httpx(cause: Exception) -> httpx.TransportError | None:
    """The httpx exception for an aiohttp failure or a timeout; None for anything else."""
    text = str(cause)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(cause, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
        return httpx.ReadTimeout(text)
    if isinstance(cause, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(text)
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, DNS, TLS
        return httpx.ConnectError(text)
    if isinstance(
        cause,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):
        return httpx.RemoteProtocolError(text)
    if isinstance(cause, aiohttp.ClientOSError):  # e.g. reset by peer while reading
        return httpx.ReadError(text)
    if isinstance(cause, aiohttp.ClientError):
        return httpx.TransportError(text)
    return None
