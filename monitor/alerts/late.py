"""What a message whose delivery failed for good becomes when its channel works again (pure).

A permanent failure (say SMTP 550 while the mail relay is in trouble) parks the message; the
next successful send on the channel, or ``cwdrift alerts retry``, tries it again. Meanwhile
newer messages about the same tenant may have reached the channel (parked messages do not hold
back the ones behind them: a message the channel refuses for its own sake would block its tenant
forever). So the retried message is rebuilt from its notification group:

* an item about an alert that a newer message already told this channel about (resolved,
  regressed, reminded, opened again) is **dropped**: the reader has newer news, and a late
  "new" after the "resolved" would read as a fresh failure;
* if nothing is left the whole message is dropped, and the reason (which newer messages, sent
  when) is recorded on its outbox row;
* otherwise it is sent **marked as late**: when its check wrote it, that it is late, and which
  items were left out.

Messages still in flight (pending, retrying, being sent) are never overtaken: the outbox hands
out a tenant's messages to one channel in the order they were written (see
:func:`monitor.store.outbox.claim_due`). The weekly report carries no group and is resent as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.alerts.messages import format_time
from monitor.alerts.model import LateNote, NotificationGroup


@dataclass(frozen=True, slots=True)
class Newer:
    """A message written after the late one, for the same tenant and channel, already sent."""

    outbox_id: int
    sent_at: datetime
    alert_keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class Superseded:
    """The late message has nothing left to say; ``reason`` goes on its outbox row."""

    reason: str


def resend(
    group: NotificationGroup, *, written_at: datetime, now: datetime, newer: Sequence[Newer]
) -> NotificationGroup | Superseded:
    """The group to send late, without the items newer messages covered; or why not at all."""
    told: dict[str, Newer] = {}
    for message in sorted(newer, key=lambda m: m.outbox_id):
        for key in message.alert_keys:
            told.setdefault(key, message)
    kept = tuple(event for event in group.events if event.alert_key not in told)
    dropped = tuple(event.label for event in group.events if event.alert_key in told)
    if dropped and not kept:
        by = sorted({told[event.alert_key].outbox_id for event in group.events})
        last = max(told[event.alert_key].sent_at for event in group.events)
        return Superseded(
            f"superseded: newer messages ({', '.join(f'#{i}' for i in by)}, the last sent "
            f"{format_time(last)}) already told this channel about every alert in it"
        )
    return replace(
        group.only(kept), late=LateNote(written_at=written_at, sent_at=now, dropped=dropped)
    )
