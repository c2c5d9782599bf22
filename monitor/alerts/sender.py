"""What a channel type is: a payload builder plus a sender (see :mod:`monitor.alerts.channels`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from monitor.alerts.model import NotificationGroup

Payload = dict[str, Any]


class Sender(Protocol):
    """Transmits one built payload; raises :class:`monitor.errors.DeliveryError` on failure."""

    name: str
    kind: str

    async def send(self, payload: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class ChannelType:
    kind: str
    build: Callable[[NotificationGroup, Any], Payload]  # (group, channel config) -> payload
    summarize: Callable[[Payload], str]  # one line for `cwdrift status`
    make_sender: Callable[[Any], Sender]  # channel config -> sender


BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    exponent = min(max(attempts - 1, 0), 16)
    delay: timedelta = BACKOFF_FIRST * (2**exponent)
    return min(delay, BACKOFF_MAX)


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """How long a transient failure waits: the channel's Retry-After, else the backoff."""
    return timedelta(seconds=retry_after) if retry_after is not None else backoff(attempts)
