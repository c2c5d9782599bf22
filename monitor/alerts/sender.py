"""What a channel type is: a payload builder plus a sender (see :mod:`monitor.alerts.channels`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
