"""The dispatcher: claim due outbox rows, send them, record what happened. One pass per call.

Delivery is at-least-once and never lossy:

1. claim: in one transaction, pick due rows (``pending`` and ``next_attempt_at <= now``, or
   ``sending`` whose lease ran out because a dispatcher died mid-send), mark them ``sending``
   with ``claimed_at`` and ``attempts + 1``, and COMMIT before sending anything. On PostgreSQL
   the pick is ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent dispatchers never claim one
   row twice; on SQLite run a single dispatcher.
2. send each claimed row.
3. record: ``sent``; or ``failed`` for a permanent error (also flagged on ``channel_status``);
   or back to ``pending`` with exponential backoff (or the channel's Retry-After) for a
   transient one. Transient errors are retried indefinitely, at most hourly.

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

from sqlalchemy import Insert, and_, func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from monitor.alerts.outbox import FAILED, PENDING, SENDING, SENT
from monitor.alerts.sender import Sender
from monitor.clock import utcnow
from monitor.errors import DeliveryError
from monitor.observability import record_alert
from monitor.store.alert_tables import ChannelStatusRow, OutboxMessage
from monitor.store.database import Database

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # far above a send's timeout, so a live sender is never overtaken
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
BATCH = 100


@dataclass(frozen=True, slots=True)
class _Claim:
    id: int
    channel: str
    kind: str
    attempts: int
    payload: str


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # "channel: message (fix: ...)", no secrets


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """One channel's delivery health, for `cwdrift status`."""

    channel: str
    kind: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    permanent_failure: bool
    pending: int


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    exponent = min(max(attempts - 1, 0), 16)
    delay: timedelta = BACKOFF_FIRST * (2**exponent)
    return min(delay, BACKOFF_MAX)


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


async def _send(sender: Sender | None, claim: _Claim) -> DeliveryError | None:
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


def _claim(db: Database, now: datetime, lease: timedelta, limit: int) -> list[_Claim]:
    due = or_(
        and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.next_attempt_at) <= now),
        and_(col(OutboxMessage.status) == SENDING, col(OutboxMessage.claimed_at) <= now - lease),
    )
    query = (
        select(OutboxMessage)
        .where(due)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no locking clause
    )
    claims: list[_Claim] = []
    with db.session() as session:
        for row in session.exec(query):
            row.status = SENDING
            row.claimed_at = now
            row.attempts += 1
            session.add(row)
            assert row.id is not None  # rows read back from the database have ids
            claims.append(_Claim(row.id, row.channel, row.kind, row.attempts, row.payload))
    return claims  # committed: a crash from here on leaves rows "sending" until the lease ends


def _record(db: Database, claim: _Claim, outcome: DeliveryError | None, at: datetime) -> None:
    with db.session() as session:
        row = session.get(OutboxMessage, claim.id)
        if row is None:  # deleted by retention while we sent: nothing to record on it
            return
        status = _locked_channel_status(session, claim.channel, claim.kind)
        if outcome is None:
            row.status = SENT
            row.sent_at = at
            row.last_error = None
            status.last_success_at = at
            status.permanent_failure = False
        else:
            text = str(outcome)
            row.last_error = text
            status.last_error_at = at
            status.last_error = text
            if outcome.permanent:
                row.status = FAILED
                status.permanent_failure = True
                log.error("outbox %d to %r failed permanently: %s", claim.id, claim.channel, text)
            else:
                row.status = PENDING
                delay = (
                    timedelta(seconds=outcome.retry_after)
                    if outcome.retry_after is not None
                    else backoff(claim.attempts)
                )
                row.next_attempt_at = at + delay
                log.warning("outbox %d to %r will be retried: %s", claim.id, claim.channel, text)
        session.add(row)
        session.add(status)


def _locked_channel_status(session: Session, channel: str, kind: str) -> ChannelStatusRow:
    """The channel's status row, created if missing, locked until commit.

    Several dispatchers finish sends to one channel at once: a plain "get or add" would race
    to insert the same primary key, so insert-if-absent first, then lock the row.
    """
    values = {"channel": channel, "kind": kind, "permanent_failure": False}
    table = ChannelStatusRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it
    insert_new: Insert
    if session.get_bind().dialect.name == "postgresql":
        insert_new = pg_insert(table).values(values).on_conflict_do_nothing()
    else:
        insert_new = sqlite_insert(table).values(values).on_conflict_do_nothing()
    session.connection().execute(insert_new)
    status = session.get(ChannelStatusRow, channel, with_for_update=True)
    assert status is not None  # inserted above or by a concurrent dispatcher
    return status


def channel_status(session: Session) -> list[ChannelHealth]:
    """Every channel that has a status row or queued messages, by name."""
    pending_counts = dict(
        session.exec(
            select(OutboxMessage.channel, func.count())
            .where(col(OutboxMessage.status).in_([PENDING, SENDING]))
            .group_by(col(OutboxMessage.channel))
        ).all()
    )
    rows = {row.channel: row for row in session.exec(select(ChannelStatusRow))}
    kinds = dict(session.exec(select(OutboxMessage.channel, OutboxMessage.kind).distinct()).all())
    result = []
    for name in sorted(set(rows) | set(pending_counts)):
        row = rows.get(name)
        result.append(
            ChannelHealth(
                channel=name,
                kind=row.kind if row else kinds.get(name, ""),
                last_success_at=row.last_success_at if row else None,
                last_error_at=row.last_error_at if row else None,
                last_error=row.last_error if row else None,
                permanent_failure=row.permanent_failure if row else False,
                pending=int(pending_counts.get(name, 0)),
            )
        )
    return result
