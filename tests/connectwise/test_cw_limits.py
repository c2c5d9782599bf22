"""Per-host limiter and retry policy, on a fake clock (nothing waits)."""

from __future__ import annotations

import asyncio

import pytest

from monitor.connectwise.client import RetryPolicy
from monitor.connectwise.limits import HostLimiter, HostLimits


class FakeTime:
    """A clock whose sleep advances it instantly and records each delay."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


async def test_token_bucket_allows_the_burst_then_paces_to_the_rate() -> None:
    time = FakeTime()
    limiter = HostLimiter(
        "h", concurrency=4, per_minute=60, burst=3, clock=time.clock, sleep=time.sleep
    )
    for _ in range(5):
        async with limiter.slot():
            pass
    # 3 tokens up front, then one per second at 60/min.
    assert time.sleeps == pytest.approx([1.0, 1.0])
    assert limiter.rate_limit_waits == 2
    assert time.now == pytest.approx(2.0)


async def test_tokens_refill_while_idle_up_to_the_burst() -> None:
    time = FakeTime()
    limiter = HostLimiter(
        "h", concurrency=1, per_minute=600, burst=2, clock=time.clock, sleep=time.sleep
    )
    for _ in range(2):
        async with limiter.slot():
            pass
    time.now += 60.0  # idle for a minute: refills to the burst of 2, not 600
    for _ in range(3):
        async with limiter.slot():
            pass
    assert time.sleeps == pytest.approx([0.1])
    assert limiter.rate_limit_waits == 1


async def test_concurrency_is_capped_per_host() -> None:
    limiter = HostLimiter("h", concurrency=2, per_minute=10_000, burst=100)
    inside = 0
    peak = 0
    release = asyncio.Event()
    entered = asyncio.Semaphore(0)

    async def request() -> None:
        nonlocal inside, peak
        async with limiter.slot():
            inside += 1
            peak = max(peak, inside)
            entered.release()
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(request()) for _ in range(5)]
    await entered.acquire()
    await entered.acquire()
    assert inside == 2  # the other three are queued on the semaphore
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 2


def test_registry_shares_one_limiter_per_host_case_insensitively() -> None:
    limits = HostLimits(concurrency=3, per_minute=120)
    first = limits.for_host("API-NA.myconnectwise.net")
    assert limits.for_host("api-na.myconnectwise.net") is first
    assert limits.for_host("api-eu.myconnectwise.net") is not first
    assert (first.concurrency, first.per_minute) == (3, 120)
    assert limits.hosts() == ["api-eu.myconnectwise.net", "api-na.myconnectwise.net"]


@pytest.mark.parametrize(("concurrency", "per_minute"), [(0, 600), (8, 0)])
def test_limiter_refuses_nonsense_settings(concurrency: int, per_minute: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        HostLimiter("h", concurrency=concurrency, per_minute=per_minute)


@pytest.mark.parametrize(
    ("attempt", "draw", "expected"),
    [
        (1, 0.5, 0.25),  # base 0.5 * 2**0 = 0.5, full jitter draws half of it
        (2, 1.0, 1.0),
        (3, 0.25, 0.5),
        (10, 0.5, 15.0),  # capped at 30 before the jitter
        (1, 0.0, 0.0),
    ],
)
def test_backoff_is_exponential_capped_with_full_jitter(
    attempt: int, draw: float, expected: float
) -> None:
    policy = RetryPolicy(base=0.5, cap=30.0, random=lambda: draw)
    assert policy.backoff(attempt) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("100000", 120.0),  # capped
        ("-1", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),  # HTTP-date: fall back to backoff
    ],
)
def test_retry_after_seconds_are_capped(header: str | None, expected: float | None) -> None:
    assert RetryPolicy(retry_after_cap=120.0).retry_after(header) == expected
