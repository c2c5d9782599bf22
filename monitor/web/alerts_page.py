"""The alerts page: what each channel still owes (pending, failing, rejected messages), each
channel's health, and the silences in force.

Its JSON twin: ``channels`` and ``silences`` as in ``cwdrift status --json``, and ``messages``,
the undelivered outbox rows (oldest first per channel).
"""

from __future__ import annotations

from typing import Any

from monitor.store import Session
from monitor.store.outbox import channel_status
from monitor.store.silences import list_silences, silence_dict
from monitor.store.web_reads import Undelivered, undelivered
from monitor.web.render import View
from monitor.web.site import Site

SHOWN_MESSAGES = 500


def alerts_view(site: Site, session: Session) -> View:
    now = site.clock()
    channels = channel_status(session)
    messages = undelivered(session, limit=SHOWN_MESSAGES)
    silences = [silence_dict(row) for row in list_silences(session, now=now)]
    silences += [silence_dict(s) for s in site.config().config.notify.silences if s.expires > now]
    by_channel: dict[str, list[Undelivered]] = {}
    for message in messages:
        by_channel.setdefault(message.channel, []).append(message)
    configured = site.config().config.notify.channel_names
    data: dict[str, Any] = {
        "channels": [c.to_dict() for c in channels],
        "messages": [m.to_dict() for m in messages],
        "silences": silences,
    }
    context = {
        "channels": channels,
        "by_channel": by_channel,
        "silences": silences,
        "configured": configured,
        "quiet": [name for name in configured if name not in {c.channel for c in channels}],
        "now": now,
        "shown_limit": SHOWN_MESSAGES,
        "message_count": len(messages),
    }
    return View("web/alerts.html.j2", context, data, title="Alerts")
