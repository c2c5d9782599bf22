"""From a lifecycle plan to the messages each channel must get (pure).

``plan_alerts`` decides which alerts open, repeat or resolve; this routes the plan's group to
channels, records which channels heard an opening, and builds each channel's payload with its
channel type. The caller writes the states that moved and queues the messages, in the check's
own transaction (see ``monitor.jobs.check``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from monitor.alerts.channels import CHANNEL_TYPES, channel_configs
from monitor.alerts.config import NotifyConfig
from monitor.alerts.lifecycle import Plan
from monitor.alerts.model import AlertState, NotificationGroup
from monitor.alerts.routing import opened_channels, route_group


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One fully built message for one channel: the outbox stores it, a sender transmits it."""

    channel: str
    kind: str  # channel type
    summary: str  # one line for `cwdrift status`
    payload: dict[str, Any]
    group: NotificationGroup | None = None  # what it says, to rebuild it late; None: a report


@dataclass(frozen=True, slots=True)
class Notifications:
    states: dict[str, AlertState]  # alert key -> state after this check, channels recorded
    messages: list[QueuedMessage]


def notifications(planned: Plan, policy: NotifyConfig) -> Notifications:
    """The plan's states with the channels that heard each opening, and one message per channel."""
    states = {state.alert_key: state for state in planned.states}
    messages: list[QueuedMessage] = []
    if planned.group is None:
        return Notifications(states, messages)
    routed = route_group(planned.group, states, policy)
    for key, channels in opened_channels(routed).items():
        told = dict.fromkeys((*states[key].channels, *channels))
        states[key] = replace(states[key], channels=tuple(told))
    configs: Mapping[str, tuple[str, Any]] = channel_configs(policy)
    for channel, group in routed.items():
        kind, config = configs[channel]
        channel_type = CHANNEL_TYPES[kind]
        payload = channel_type.build(group, config)
        messages.append(
            QueuedMessage(channel, kind, channel_type.summarize(payload), payload, group)
        )
    return Notifications(states, messages)
