"""What a channel type is: a payload builder plus a sender (see :mod:`monitor.alerts.channels`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from monitor.alerts.model import NotificationGroup

Payload = dict[str, Any]


class Sender(Protocol):
    """Transmits one built payload; raises :class:`monitor.errors.DeliveryError` on failure.

    ``config`` is the channel's config, for rebuilding a message that goes out late.
    """

    name: str
    kind: str
    config: Any

    async def send(self, payload: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class ChannelType:
    kind: str
    build: Callable[[NotificationGroup, Any], Payload]  # (group, channel config) -> payload
    summarize: Callable[[Payload], str]  # one line for `cwdrift status`
    make_sender: Callable[[Any], Sender]  # channel config -> sender
    # A message that failed for good is rebuilt when it goes out late (monitor.alerts.late);
    # False: resent as written (a ticket message's steps are idempotent and ordered by the
    # ticket's own event numbers, so a late one never undoes a newer one).
    rebuild_late: bool = True


BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# A channel's Retry-After is honoured up to this: a huge value (or one meant as a date) must
# never park a channel for years, nor overflow timedelta (whose limit is 999,999,999 days).
RETRY_AFTER_CAP = timedelta(minutes=15)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    exponent = min(max(attempts - 1, 0), 16)
    delay: timedelta = BACKOFF_FIRST * (2**exponent)
    return min(delay, BACKOFF_MAX)


def capped_retry_after(seconds: float | None) -> float | None:
    """A channel's Retry-After in seconds, at most :data:`RETRY_AFTER_CAP`; None if unusable.

    None, NaN and negative values are unusable (the caller falls back to the backoff);
    infinity and anything above the cap become the cap.
    """
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CAP.total_seconds())


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """How long a transient failure waits: the channel's Retry-After (capped), else the backoff."""
    seconds = capped_retry_after(retry_after)
    return timedelta(seconds=seconds) if seconds is not None else backoff(attempts)
