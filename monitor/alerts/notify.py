"""From a lifecycle plan to the messages each channel must get (pure).

``plan_alerts`` decides which alerts open, repeat or resolve; this routes the plan's group to
channels, records which channels heard an opening, and builds each channel's payload with its
channel type. A ticket channel keeps state of its own, its incidents (one ticket each, see
:mod:`monitor.alerts.tickets`): its share is planned with them, and the incidents it moves are
returned to store. The caller writes the states and incidents that moved and queues the
messages, in the check's own transaction (see ``monitor.jobs.check``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitor.alerts.channels import CHANNEL_TYPES, channel_configs
from monitor.alerts.config import NotifyConfig, TicketChannel
from monitor.alerts.lifecycle import Plan
from monitor.alerts.model import AlertState, NotificationGroup, TenantRef
from monitor.alerts.routing import opened_channels, route_group
from monitor.alerts.tickets import Incident, plan_tickets


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
    incidents: list[Incident] = field(default_factory=list)  # ticket incidents that moved


def notifications(
    planned: Plan,
    policy: NotifyConfig,
    incidents: Sequence[Incident] = (),
    *,
    tenant: TenantRef | None = None,
    now: datetime | None = None,
) -> Notifications:
    """The plan's states with the channels that heard each opening, and one message per channel.

    ``incidents`` are the tenant's stored ticket incidents (needed only when a ticket channel
    is configured). With ``tenant`` and ``now``, a ticket channel that hears nothing this check
    still closes an incident whose alerts all closed unheard (a silence swallowed them).
    """
    states = {state.alert_key: state for state in planned.states}
    messages: list[QueuedMessage] = []
    moved: list[Incident] = []
    routed: dict[str, NotificationGroup] = {}
    if planned.group is not None:
        routed = route_group(planned.group, states, policy)
        for key, channels in opened_channels(routed).items():
            told = dict.fromkeys((*states[key].channels, *channels))
            states[key] = replace(states[key], channels=tuple(told))
    configs: Mapping[str, tuple[str, Any]] = channel_configs(policy)
    open_keys = frozenset(key for key, state in states.items() if state.is_open)
    unrouted = [
        (config.name, NotificationGroup(tenant=tenant, checked_at=now))
        for config in policy.connectwise_ticket
        if config.name not in routed
        and tenant is not None
        and now is not None
        and any(i.channel == config.name and i.is_open for i in incidents)
    ]
    for channel, group in [*routed.items(), *unrouted]:
        kind, config = configs[channel]
        channel_type = CHANNEL_TYPES[kind]
        if isinstance(config, TicketChannel):
            theirs = [i for i in incidents if i.channel == channel]
            ticket = plan_tickets(group, config, theirs, open_keys)
            moved.extend(ticket.incidents)
            if ticket.message is None:
                continue
            payload = ticket.message.to_dict()
        else:
            payload = channel_type.build(group, config)
        messages.append(
            QueuedMessage(channel, kind, channel_type.summarize(payload), payload, group)
        )
    return Notifications(states, messages, moved)
