"""What every tenant's client shares in one process: pooled HTTP connections and codebase answers.

A check used to open (and close) its own HTTP client: a TCP and TLS handshake per host per check,
and most of a check's CPU (bench/RESULTS.md). :class:`SharedHttp` keeps one aiohttp session per
event loop, so keep-alive connections to a ConnectWise host serve every tenant on that host.

Sharing a session across tenants is safe because the client sends its credentials as an explicit
header on every request and the session keeps **no cookies** (a cookie set for one tenant must
never ride along with another tenant's request to the same host).

:class:`CompanyInfoCache` remembers each company's ``/login/companyinfo`` answer for a while: the
codebase changes only when ConnectWise upgrades the tenant, and the client looks it up again on
a 404 (see ``ConnectWiseClient``), so a check normally costs one request less.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp
import certifi

from monitor.connectwise.site import CompanyInfo

Clock = Callable[[], float]
ResponseObserver = Callable[[str], None]  # called with the status ("200", "429") or "error"

COMPANY_INFO_TTL = 3600.0  # seconds; a stale codebase is also caught by the 404 re-lookup


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (CERT_REQUIRED, hostname checked).

    Building one loads the whole CA bundle, about 30 ms of CPU: per tenant check that was
    most of a check's cost (bench/RESULTS.md).
    """
    return ssl.create_default_context(cafile=certifi.where())


class SharedHttp:
    """One aiohttp session for the event loop in use, created on first use, closed by ``aclose``.

    A process has one loop (the daemon, a CLI run); when a new one starts (a second
    ``asyncio.run``), the old loop's session is let go and a new one made. Not for two loops
    running at once.

    ``on_response`` sees every response's status (or "error" for a failed connection): the
    daemon counts them for /metrics without the client knowing about metrics.
    """

    def __init__(self, *, on_response: ResponseObserver | None = None) -> None:
        self._on_response = on_response
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._forget_other_loop()
            self._session = open_session(on_response=self._on_response)
            self._loop = loop
        return self._session

    def _forget_other_loop(self) -> None:
        # A session belongs to the loop it was made in; that loop (a finished asyncio.run) can no
        # longer close it, so detach it instead of leaking an "Unclosed client session" warning.
        if self._session is not None and not self._session.closed:
            self._session.detach()
        self._session = None

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            if self._loop is asyncio.get_running_loop():
                await session.close()
            else:
                session.detach()


def env_proxy(scheme: str, host: str) -> str | None:
    """The proxy ``HTTPS_PROXY``/``HTTP_PROXY`` name for this host, unless ``NO_PROXY`` exempts it.

    The session does not use aiohttp's ``trust_env``: that also reads ``~/.netrc`` for the
    target host on every request (in a thread), which would clash with our Authorization header.
    """
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme)
    # proxy_bypass_environment is public in urllib.request but missing from typeshed
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxy or bypass(host, proxies):
        return None
    return proxy


def open_session(*, on_response: ResponseObserver | None = None) -> aiohttp.ClientSession:
    """A session for ConnectWise: verified TLS, no cookies, no connection cap of its own.

    The per-host concurrency cap is :class:`monitor.connectwise.limits.HostLimiter`'s job, so the
    connector does not add a second, global one.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=tls_context(), limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[_observing(on_response)] if on_response else None,
    )


def _observing(on_response: ResponseObserver) -> aiohttp.TraceConfig:
    async def ended(
        _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        on_response(str(params.response.status))

    async def failed(
        _: aiohttp.ClientSession, __: SimpleNamespace, ___: aiohttp.TraceRequestExceptionParams
    ) -> None:
        on_response("error")

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(ended)
    trace.on_request_exception.append(failed)
    return trace


@dataclass(frozen=True, slots=True)
class _Cached:
    info: CompanyInfo
    expires: float


class CompanyInfoCache:
    """``(site origin, company id)`` -> the last companyinfo answer, for ``ttl`` seconds."""

    def __init__(self, *, ttl: float = COMPANY_INFO_TTL, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], _Cached] = {}

    def get(self, origin: str, company_id: str) -> CompanyInfo | None:
        entry = self._entries.get((origin, company_id.casefold()))
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.info

    def put(self, origin: str, company_id: str, info: CompanyInfo) -> None:
        self._entries[(origin, company_id.casefold())] = _Cached(info, self._clock() + self.ttl)
