"""Send what the outbox holds: claim due rows, send each, record what happened. One pass a call.

Delivery is at-least-once and never lossy:

1. claim: in one transaction, mark due rows ``sending`` and COMMIT before sending anything
   (:func:`monitor.store.outbox.claim_due`);
2. send each claimed row through its channel's sender;
3. record: ``sent``; ``failed`` for a permanent error (also flagged on the channel); or back to
   ``pending`` with exponential backoff (or the channel's Retry-After) for a transient one.

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

from monitor.alerts.channels import build_channels
from monitor.alerts.sender import Sender, retry_delay
from monitor.clock import utcnow
from monitor.errors import DeliveryError
from monitor.jobs.runtime import Runtime
from monitor.observability import record_alert
from monitor.store.database import Database
from monitor.store.outbox import FAILED, Claim, claim_due, record_delivery

log = logging.getLogger("cwdrift.alerts")

LEASE = timedelta(minutes=5)  # far above a send's timeout, so a live sender is never overtaken
BATCH = 100


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # "channel: message (fix: ...)", no secrets


async def dispatch(rt: Runtime) -> DispatchReport:
    """Send every due outbox message to its channel."""
    channels = build_channels(rt.config.notify)
    return await dispatch_pending(rt.db, channels, rt.clock())


async def dispatch_pending(
    db: Database,
    channels: Mapping[str, Sender],
    now: datetime,
    *,
    clock: Callable[[], datetime] = utcnow,
    lease: timedelta = LEASE,
    limit: int = BATCH,
) -> DispatchReport:
    """One pass: claim what is due at ``now``, send it, record outcomes at ``clock()`` time."""
    claims = await asyncio.to_thread(_claim, db, now, lease, limit)
    report = DispatchReport()
    unreachable: dict[str, DeliveryError] = {}
    for claim in claims:
        outcome = unreachable.get(claim.channel)
        if outcome is None:
            outcome = await _send(channels.get(claim.channel), claim)
            if outcome is not None and not outcome.permanent:
                # The channel is down: keep its other rows for later instead of waiting on each.
                unreachable[claim.channel] = outcome
        await asyncio.to_thread(_record, db, claim, outcome, clock())
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
    return report


async def _send(sender: Sender | None, claim: Claim) -> DeliveryError | None:
    if sender is None:
        return DeliveryError(
            f"channel {claim.channel!r} is no longer configured",
            permanent=True,
            fix="add the channel back under notify: in the config, or ignore this message",
        )
    payload: dict[str, Any] = json.loads(claim.payload)
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


def _record(db: Database, claim: Claim, outcome: DeliveryError | None, at: datetime) -> None:
    retry_at = None
    if outcome is not None and not outcome.permanent:
        retry_at = at + retry_delay(claim.attempts, outcome.retry_after)
    with db.session() as session:
        status = record_delivery(session, claim, outcome, at, retry_at)
    if outcome is None or status is None:
        return
    if status == FAILED:
        log.error("outbox %d to %r failed permanently: %s", claim.id, claim.channel, outcome)
    else:
        log.warning("outbox %d to %r will be retried: %s", claim.id, claim.channel, outcome)
