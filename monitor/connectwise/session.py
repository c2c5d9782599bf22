"""What every tenant's client shares in one process: pooled HTTP connections and codebase answers.

A check used to open (and close) its own HTTP client: a TCP and TLS handshake per host per check,
and most of a check's CPU (bench/RESULTS.md). :class:`SharedHttp` keeps one ``httpx.AsyncClient``
per event loop (built in ``transport.py``: httpx over a pooled aiohttp session), so keep-alive
connections to a ConnectWise host serve every tenant on that host.

Sharing a client across tenants is safe because the ConnectWise client sends its credentials as
an explicit header on every request and the shared client keeps **no cookies** (a cookie set for
one tenant must never ride along with another tenant's request to the same host).

:class:`CompanyInfoCache` remembers each company's ``/login/companyinfo`` answer for a while: the
codebase changes only when ConnectWise upgrades the tenant, and the client looks it up again on
a 404 (see ``ConnectWiseClient``), so a check normally costs one request less.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from monitor.connectwise.site import CompanyInfo
from monitor.connectwise.transport import PooledClient, ResponseObserver

Clock = Callable[[], float]

COMPANY_INFO_TTL = 3600.0  # seconds; a stale codebase is also caught by the 404 re-lookup


class SharedHttp:
    """One pooled httpx client for the event loop in use, made on first use, closed by ``aclose``.

    A process has one loop (the daemon, a CLI run); when a new one starts (a second
    ``asyncio.run``), the old loop's client is let go and a new one made. Not for two loops
    running at once.

    ``on_response`` sees every response's status (or "error" for a failed connection): the
    daemon counts them for /metrics without the client knowing about metrics.
    """

    def __init__(self, *, on_response: ResponseObserver | None = None) -> None:
        self._on_response = on_response
        self._pooled: PooledClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        """The client for the running loop: pass it as ``ConnectWiseClient(..., http=...)``."""
        loop = asyncio.get_running_loop()
        if self._pooled is None or self._loop is not loop or self._pooled.closed:
            if self._pooled is not None:
                # That loop (a finished asyncio.run) can no longer close it.
                self._pooled.abandon()
            self._pooled = PooledClient(on_response=self._on_response)
            self._loop = loop
        return self._pooled.http

    @property
    def closed(self) -> bool:
        return self._pooled is None or self._pooled.closed

    async def aclose(self) -> None:
        pooled, self._pooled = self._pooled, None
        if pooled is not None and not pooled.closed:
            if self._loop is asyncio.get_running_loop():
                await pooled.aclose()
            else:
                pooled.abandon()


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
