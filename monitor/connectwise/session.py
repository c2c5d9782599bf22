"""What every tenant's client shares in one process: pooled HTTP connections.

A check used to open (and close) its own HTTP client: a TCP and TLS handshake per host per check,
and most of a check's CPU (bench/RESULTS.md). :class:`SharedHttp` keeps one ``httpx.AsyncClient``
per event loop (built in ``transport.py``: httpx over a pooled aiohttp session), so keep-alive
connections to a ConnectWise host serve every tenant on that host.

Sharing a client across tenants is safe because the ConnectWise client sends its credentials as
an explicit header on every request and the shared client keeps **no cookies** (a cookie set for
one tenant must never ride along with another tenant's request to the same host).

Answers that change only with a ConnectWise upgrade (the codebase, the setup-screen catalogue)
are remembered by :class:`~monitor.connectwise.read_cache.ReadCache`, not here.
"""

from __future__ import annotations

import asyncio

import httpx

from monitor.connectwise.transport import PooledClient, ResponseObserver


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
