"""Bounded waits on a condition, never a fixed sleep; a timeout fails naming what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

TIMEOUT = 10.0  # generous: only reached when something is broken


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` on the event loop until it holds; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {TIMEOUT:.0f}s waiting for: {what}")
        await asyncio.sleep(0.01)


async def event(flag: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(flag.wait(), TIMEOUT)
    except TimeoutError:
        pytest.fail(f"timed out after {TIMEOUT:.0f}s waiting for: {what}")


def until_sync(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """The same for a test driving a subprocess (no event loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for: {what}")
        time.sleep(0.05)
