"""Bounded waits on a condition (never a fixed sleep), failing with what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

TIMEOUT = 60.0  # generous: only reached when something is broken


def until_sync(condition: Callable[[], T], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for: {what}")
        time.sleep(0.1)


async def until(
    condition: Callable[[], T],
    what: str,
    timeout: float = TIMEOUT,  # noqa: ASYNC109 (a deadline that fails the test with a message)
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for: {what}")
        await asyncio.sleep(0.05)
