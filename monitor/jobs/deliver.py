"""Send what the outbox holds: claim due rows, send each, record what happened. One pass a call.

Delivery is at-least-once and never lossy:

1. claim: in one transaction, mark due rows ``sending`` and COMMIT before sending anything
   (:func:`monitor.store.outbox.claim_due`; a tenant's messages to a channel in order);
2. send each claimed row through its channel's sender; a row that had failed for good is
   first rebuilt as a late message, or dropped if newer messages covered it all
   (:mod:`monitor.alerts.late`);
3. record: ``sent``; ``failed`` for a permanent error (also flagged on the channel); or back to
   ``pending`` with exponential backoff (or the channel's capped Retry-After) for a transient
   one. A success puts the channel's failed rows back to pending, and the pass sends them too.

A crash between 1 and 3 leaves the row ``sending``; once the lease is over it is claimed
again and sent once more, the only case where a channel can see a message twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.alerts.channels import CHANNEL_TYPES, build_channels
from monitor.alerts.late import Superseded, resend
from monitor.alerts.model import NotificationGroup
from monitor.alerts.sender import Sender, retry_delay
from monitor.clock import utcnow
from monitor.errors import DeliveryError
from monitor.jobs.runtime import Runtime
from monitor.observability import record_alert
from monitor.store.database import Database
from monitor.store.outbox import (
    FAILED,
    REJECTED,
    Claim,
    MessageView,
    claim_due,
    outbox_messages,
    record_delivery,
    record_superseded,
    revive_failed,
)

log = logging.getLogger("cwdrift.alerts")

LEASE = timedelta(minutes=5)  # far above a send's timeout, so a live sender is never overtaken
BATCH = 100
# Claim-and-send rounds per call: one, plus one for the messages a success revived. More is
# a safety net: a message refused again after a success is rejected, so revivals run dry.
ROUNDS = 3


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    superseded: int = 0
    errors: list[str] = field(default_factory=list)  # "channel: message (fix: ...)", no secrets
    notes: list[str] = field(default_factory=list)  # why a retried message was dropped


async def dispatch(rt: Runtime) -> DispatchReport:
    """Send every due outbox message to its channel."""
    channels = build_channels(rt.config.notify)
    return await dispatch_pending(rt.db, channels, rt.clock(), clock=rt.clock)


@dataclass
class Retried:
    """What `cwdrift alerts retry` did: the rows it put back, each as it stands after the pass."""

    messages: list[MessageView]
    report: DispatchReport


async def retry_failed(rt: Runtime, channel: str | None = None) -> Retried:
    """Put the messages that failed for good (on ``channel``, or all) back to pending, and send
    them now with everything else that is due."""
    now = rt.clock()
    with rt.db.session() as session:
        ids = revive_failed(session, now, channel)
    report = await dispatch(rt) if ids else DispatchReport()
    with rt.db.session() as session:
        messages = outbox_messages(session, ids)
    return Retried(messages, report)


async def dispatch_pending(
    db: Database,
    channels: Mapping[str, Sender],
    now: datetime,
    *,
    clock: Callable[[], datetime] = utcnow,
    lease: timedelta = LEASE,
    limit: int = BATCH,
) -> DispatchReport:
    """Claim what is due at ``now``, send it, record outcomes at ``clock()`` time.

    When a send shows a channel works again, the messages that had failed on it for good are
    due again, and are sent by another round of this same call (at most :data:`ROUNDS`).
    """
    report = DispatchReport()
    for _ in range(ROUNDS):
        claims = await asyncio.to_thread(_claim, db, now, lease, limit)
        revived = await _send_claims(db, channels, claims, clock, report)
        if not revived:
            break
        now = max(now, clock())
    return report


async def _send_claims(
    db: Database,
    channels: Mapping[str, Sender],
    claims: list[Claim],
    clock: Callable[[], datetime],
    report: DispatchReport,
) -> int:
    """Send ``claims`` in order; how many failed rows a success put back to pending."""
    revived = 0
    unreachable: dict[str, DeliveryError] = {}
    for claim in claims:
        sender = channels.get(claim.channel)
        payload: Mapping[str, Any] = json.loads(claim.payload)
        if (
            claim.late is not None
            and claim.late.group is not None
            and sender is not None
            and CHANNEL_TYPES[sender.kind].rebuild_late
        ):
            rebuilt = _rebuild_late(claim, claim.late.group, sender, clock())
            if isinstance(rebuilt, Superseded):
                await asyncio.to_thread(_drop, db, claim, rebuilt.reason)
                report.superseded += 1
                report.notes.append(f"{claim.channel}: outbox #{claim.id} {rebuilt.reason}")
                continue
            payload = rebuilt
        outcome = unreachable.get(claim.channel)
        if outcome is None:
            outcome = await _send(sender, claim, payload)
            if outcome is not None and not outcome.permanent:
                # The channel is down: keep its other rows for later instead of waiting on each.
                unreachable[claim.channel] = outcome
        revived += await asyncio.to_thread(_record, db, claim, outcome, clock())
        record_alert(
            claim.channel,
            delivered=outcome is None,
            permanent=outcome is not None and outcome.permanent,
        )
        if outcome is None:
            report.sent += 1
        else:
            report.errors.append(f"{claim.channel}: {outcome}")
            if outcome.permanent:
                report.failed += 1
            else:
                report.retrying += 1
    return revived


def _rebuild_late(
    claim: Claim, group: NotificationGroup, sender: Sender, now: datetime
) -> Mapping[str, Any] | Superseded:
    """A once-failed message as it goes out now: marked late, without what newer ones said."""
    assert claim.late is not None  # callers check
    decided = resend(group, written_at=claim.created_at, now=now, newer=claim.late.newer)
    if isinstance(decided, Superseded):
        return decided
    return CHANNEL_TYPES[sender.kind].build(decided, sender.config)


async def _send(
    sender: Sender | None, claim: Claim, payload: Mapping[str, Any]
) -> DeliveryError | None:
    if sender is None:
        return DeliveryError(
            f"channel {claim.channel!r} is no longer configured",
            permanent=True,
            fix="add the channel back under notify: in the config, or ignore this message",
        )
    try:
        await sender.send(payload)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # a sender bug must not stop the other channels: retry it later
        log.error("channel %r: unexpected %s while sending", claim.channel, type(exc).__name__)
        return DeliveryError(
            f"channel {claim.channel!r}: unexpected {type(exc).__name__} while sending",
            permanent=False,
            fix="see the cwdrift log; this is a bug worth reporting",
        )
    return None


def _claim(db: Database, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    with db.session() as session:
        return claim_due(session, now, lease, limit)
    # committed: a crash from here on leaves rows "sending" until the lease ends


def _record(db: Database, claim: Claim, outcome: DeliveryError | None, at: datetime) -> int:
    retry_at = None
    if outcome is not None and not outcome.permanent:
        retry_at = at + retry_delay(claim.attempts, outcome.retry_after)
    with db.session() as session:
        recorded = record_delivery(session, claim, outcome, at, retry_at)
    if recorded is None:
        return 0
    if recorded.revived:
        log.info(
            "channel %r works again: retrying %d message(s) that had failed on it",
            claim.channel,
            recorded.revived,
        )
    if outcome is None:
        pass
    elif recorded.status == FAILED:
        log.error(
            "outbox %d to %r failed: %s; retried once the channel works again",
            claim.id,
            claim.channel,
            outcome,
        )
    elif recorded.status == REJECTED:
        log.error(
            "outbox %d to %r refused again although the channel works: %s; "
            "`cwdrift alerts retry` tries it once more",
            claim.id,
            claim.channel,
            outcome,
        )
    else:
        log.warning("outbox %d to %r will be retried: %s", claim.id, claim.channel, outcome)
    return recorded.revived


def _drop(db: Database, claim: Claim, reason: str) -> None:
    with db.session() as session:
        record_superseded(session, claim, reason)
    log.info("outbox %d to %r dropped: %s", claim.id, claim.channel, reason)
