"""Per-host request limits shared by every client that talks to the same ConnectWise host.

ConnectWise publishes no numeric quota, only that integrations sending "over 1,000 requests per
minute" will likely be throttled (Developer Guide, "Rate Limiting"; see
../shared/connectwise-api.md §6). Many tenants share one cloud host (``api-na.myconnectwise.net``),
so the budget is per *host*, not per tenant: every client for that host draws from one
:class:`HostLimiter` found through :meth:`HostLimits.for_host`.

A limiter combines a concurrency cap (a semaphore) and a token bucket for the request rate.
Clock and sleep are injectable so tests never wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_CONCURRENCY = 8
DEFAULT_PER_MINUTE = 600  # well below the ~1,000/min at which ConnectWise says throttling starts


class HostLimiter:
    """Concurrency cap plus token-bucket rate cap for one host.

    asyncio primitives belong to the event loop they were first used in, so the semaphore and
    lock are created per running loop; the bucket itself (tokens, last refill) is shared.
    """

    def __init__(
        self,
        host: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency for {host} must be at least 1, got {concurrency}")
        if per_minute <= 0:
            raise ValueError(f"per_minute for {host} must be positive, got {per_minute}")
        self.host = host
        self.concurrency = concurrency
        self.per_minute = per_minute
        self.capacity = float(burst if burst is not None else concurrency)
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(concurrency)
        self._bucket_lock = asyncio.Lock()
        self.rate_limit_waits = 0  # how often a request had to wait for a token (for metrics)

    def __repr__(self) -> str:
        return (
            f"HostLimiter(host={self.host!r}, concurrency={self.concurrency}, "
            f"per_minute={self.per_minute}, rate_limit_waits={self.rate_limit_waits})"
        )

    def _bind_to_running_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._bucket_lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self._rate)

    async def _take_token(self) -> None:
        # The lock queues waiters so they are served in order instead of all waking at once.
        async with self._bucket_lock:
            waited = False
            while True:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                if not waited:
                    self.rate_limit_waits += 1
                    waited = True
                await self._sleep((1.0 - self._tokens) / self._rate)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the host's concurrent slots and spend one request token."""
        self._bind_to_running_loop()
        semaphore = self._semaphore
        async with semaphore:
            await self._take_token()
            yield


class HostLimits:
    """A registry of limiters keyed by host name (case-insensitive), with shared settings."""

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        per_minute: float = DEFAULT_PER_MINUTE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.concurrency = concurrency
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[str, HostLimiter] = {}

    def for_host(self, host: str) -> HostLimiter:
        key = host.lower()
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = HostLimiter(
                key,
                concurrency=self.concurrency,
                per_minute=self.per_minute,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._limiters[key] = limiter
        return limiter

    def hosts(self) -> list[str]:
        return sorted(self._limiters)


_process_limits: HostLimits | None = None


def default_host_limits() -> HostLimits:
    """The process-wide registry used by clients built without an explicit limiter.

    Created on first use rather than at import, so importing this module has no side effects.
    """
    global _process_limits  # one registry per process is the point
    if _process_limits is None:
        _process_limits = HostLimits()
    return _process_limits
