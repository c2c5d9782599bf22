"""The notifier registry: one line per channel type (STYLE.md habit 4).

A channel type pairs a message builder (pure: group -> JSON payload, run when the outbox row
is written) with a sender factory (config -> object that transmits that payload). Adding a
notifier is its module, a list field in :class:`~monitor.alerts.config.NotifyConfig`, and one
line in ``CHANNEL_TYPES``. The ticket channel is the one stateful type: its payload is planned
with its incidents (:func:`monitor.alerts.notify.notifications`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.alerts import email, slack, ticket_sender, tickets
from monitor.alerts.config import NotifyConfig
from monitor.alerts.sender import ChannelType, Sender

CHANNEL_TYPES: Mapping[str, ChannelType] = {
    "slack": slack.CHANNEL,
    "email": email.CHANNEL,
    tickets.KIND: ticket_sender.CHANNEL,
}


def channel_configs(policy: NotifyConfig) -> dict[str, tuple[str, Any]]:
    """Channel name -> (channel type, its config), in configuration order."""
    found: dict[str, tuple[str, Any]] = {}
    for kind, configs in (
        ("slack", policy.slack),
        ("email", policy.email),
        (tickets.KIND, policy.connectwise_ticket),
    ):
        for config in configs:
            found[config.name] = (kind, config)
    return found


def build_channels(policy: NotifyConfig) -> dict[str, Sender]:
    """One sender per configured channel, for :func:`monitor.jobs.deliver.dispatch_pending`."""
    return {
        name: CHANNEL_TYPES[kind].make_sender(config)
        for name, (kind, config) in channel_configs(policy).items()
    }
