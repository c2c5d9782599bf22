"""Alert state and the outbox: every query alerting needs, in the caller's transaction.

    load_states / write_states / save_states / open_alerts     where each alert stands
    queue_messages                                             built messages -> outbox rows
    claim_due / record_delivery / record_superseded            the dispatcher's writes
    revive_failed / outbox_messages                            `cwdrift alerts retry`
    channel_status                                             delivery health per channel
    report_queued                                              has this week's report gone out

Claiming is at-least-once and never lossy: due rows (``pending`` and due, or ``sending`` whose
lease ran out because a dispatcher died mid-send) are marked ``sending`` and COMMITTED before
anything is sent. On PostgreSQL the pick is ``SELECT ... FOR UPDATE SKIP LOCKED``, so
concurrent dispatchers never claim one row twice; on SQLite run a single dispatcher.

Order: a tenant's messages to one channel are claimed in the order they were written; a row
waits while an earlier one of the same tenant and channel is still in flight (retrying, or
held by another dispatcher). Rows that failed for good do not hold the others back; when they
are retried they may have been overtaken, and :mod:`monitor.alerts.late` decides what they say.

A permanent failure parks the row as ``failed``; the channel's next success puts its failed rows
back to ``pending``. Refused again although the channel had worked since, the message itself is
the problem: ``rejected``, retried only by ``cwdrift alerts retry``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Row, and_, bindparam, func, insert, or_, select, update
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from monitor.alerts.late import Newer
from monitor.alerts.model import AlertState, AlertStatus, NotificationGroup
from monitor.alerts.notify import QueuedMessage
from monitor.clock import ensure_utc
from monitor.core.findings import Severity
from monitor.errors import DeliveryError
from monitor.store.alert_tables import AlertStateRow, ChannelStatusRow, OutboxMessage
from monitor.store.dialects import upsert_insert

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"  # failed for good: retried once the channel works again
REJECTED = "rejected"  # failed again after the channel had worked: only `alerts retry`
SUPERSEDED = "superseded"  # retried late with nothing left to say: dropped, reason recorded
IN_FLIGHT = (PENDING, SENDING)

FLEET = "*"  # the tenant column of messages about the whole fleet (the weekly report)

# Built once: every check reads its tenant's states, and building a statement cost more than
# running it. Bound names differ from the column names, which the SET clause takes.
_ALL_STATES = select(AlertStateRow.__table__)  # type: ignore[attr-defined]  # SQLModel sets it
_TENANT_STATES = _ALL_STATES.where(col(AlertStateRow.tenant_id) == bindparam("tenant_id"))
_INSERT_STATE = insert(AlertStateRow)
_UPDATE_STATE = update(AlertStateRow).where(
    col(AlertStateRow.tenant_id) == bindparam("key_tenant"),
    col(AlertStateRow.alert_key) == bindparam("key_alert"),
)


@dataclass(frozen=True, slots=True)
class Claim:
    """An outbox row claimed for sending.

    ``late`` is set on a row that had failed for good: its notification group (None for rows
    without one: reports, and rows older than revision 0006) and the newer messages of the same
    tenant that reached the channel since.
    """

    id: int
    channel: str
    kind: str
    attempts: int
    payload: str
    tenant_id: str
    created_at: datetime
    late: LateClaim | None = None


@dataclass(frozen=True, slots=True)
class LateClaim:
    group: NotificationGroup | None
    newer: tuple[Newer, ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What :func:`record_delivery` did: the row's new status, and rows put back to pending."""

    status: str
    revived: int = 0


@dataclass(frozen=True, slots=True)
class MessageView:
    """One outbox row, for `cwdrift alerts retry`."""

    id: int
    tenant_id: str
    channel: str
    summary: str
    status: str
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """One channel's delivery health, for `cwdrift status`."""

    channel: str
    kind: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None  # None once a later send succeeded
    permanent_failure: bool
    pending: int
    failed: int = 0  # failed for good, retried once the channel works again
    rejected: int = 0  # refused again after the channel had worked

    def to_dict(self) -> dict[str, Any]:
        """The shape of a channel in ``status --json``."""
        return {
            "channel": self.channel,
            "kind": self.kind,
            "last_success": _iso(self.last_success_at),
            "last_error": self.last_error,
            "permanent_failure": self.permanent_failure,
            "pending": self.pending,
            "failed": self.failed,
            "rejected": self.rejected,
        }


# -- alert state --------------------------------------------------------------------------------


def load_states(session: Session, tenant_id: str) -> list[AlertState]:
    rows = session.connection().execute(_TENANT_STATES, {"tenant_id": tenant_id})
    return [_to_state(row) for row in rows]


def save_states(session: Session, states: Iterable[AlertState]) -> None:
    """Store ``states`` (of any tenants), inserting the ones that have no row yet."""
    by_tenant: dict[str, list[AlertState]] = {}
    for state in states:
        by_tenant.setdefault(state.tenant_id, []).append(state)
    for tenant_id, theirs in by_tenant.items():
        stored = {state.alert_key: state for state in load_states(session, tenant_id)}
        write_states(session, theirs, stored)


def write_states(
    session: Session, states: Sequence[AlertState], stored: Mapping[str, AlertState]
) -> None:
    """Insert the new states and update the others, one batched statement each.

    ``stored`` is the states' tenant's states as read, by alert key. Does not commit.
    """
    new = [_state_row(state) for state in states if state.alert_key not in stored]
    moved = [_state_row(state) for state in states if state.alert_key in stored]
    connection = session.connection()
    if new:
        connection.execute(_INSERT_STATE, new)
    if moved:
        connection.execute(
            _UPDATE_STATE,
            [
                {**row, "key_tenant": row["tenant_id"], "key_alert": row["alert_key"]}
                for row in moved
            ],
        )


def _state_row(state: AlertState) -> dict[str, Any]:
    return {
        "tenant_id": state.tenant_id,
        "alert_key": state.alert_key,
        "state": state.status.value,
        "label": state.label,
        "severity": state.severity.value,
        "opened_at": state.opened_at,
        "last_notified_at": state.last_notified_at,
        "resolved_at": state.resolved_at,
        "silenced_until": state.silenced_until,
        "consecutive_failures": state.consecutive_failures,
        "channels": json.dumps(list(state.channels)),
    }


def open_alerts(session: Session, tenant_id: str | None = None) -> list[AlertState]:
    """Open alerts (all tenants, or one), worst first: for `cwdrift status`."""
    query = _ALL_STATES.where(col(AlertStateRow.state) == AlertStatus.OPEN.value)
    if tenant_id is not None:
        query = query.where(col(AlertStateRow.tenant_id) == tenant_id)
    rows = session.connection().execute(query.order_by(col(AlertStateRow.tenant_id)))
    states = [_to_state(row) for row in rows]
    return sorted(states, key=lambda s: (s.tenant_id, -s.severity.rank, s.alert_key))


def _to_state(row: Row[Any]) -> AlertState:
    return AlertState(
        tenant_id=row.tenant_id,
        alert_key=row.alert_key,
        status=AlertStatus(row.state),
        label=row.label,
        severity=Severity(row.severity),
        opened_at=_utc(row.opened_at),
        last_notified_at=_utc(row.last_notified_at),
        resolved_at=_utc(row.resolved_at),
        silenced_until=_utc(row.silenced_until),
        consecutive_failures=row.consecutive_failures,
        channels=tuple(json.loads(row.channels)),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else ensure_utc(value)


# -- the outbox ---------------------------------------------------------------------------------


def queue_messages(
    session: Session, tenant_id: str, messages: Sequence[QueuedMessage], now: datetime
) -> list[OutboxMessage]:
    """One pending outbox row per built message, due now (in the caller's transaction)."""
    rows = [
        OutboxMessage(
            tenant_id=tenant_id,
            channel=message.channel,
            kind=message.kind,
            summary=message.summary,
            created_at=now,
            next_attempt_at=now,
            status=PENDING,
            payload=json.dumps(message.payload, sort_keys=True),
            notification=(
                None
                if message.group is None
                else json.dumps(message.group.to_dict(), sort_keys=True)
            ),
        )
        for message in messages
    ]
    if rows:
        session.add_all(rows)
        session.flush()
    return rows


def report_queued(session: Session, channel: str, summary_prefix: str) -> bool:
    """Whether a fleet message whose summary starts with ``summary_prefix`` went to ``channel``."""
    found = session.exec(
        sqlmodel_select(OutboxMessage.id).where(
            OutboxMessage.tenant_id == FLEET,
            OutboxMessage.channel == channel,
            col(OutboxMessage.summary).startswith(summary_prefix, autoescape=True),
        )
    ).first()
    return found is not None


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Mark due rows ``sending`` (the caller commits before sending anything).

    A due row whose tenant has an earlier row to the same channel still in flight and not due
    with it (retrying later, or another dispatcher's) is left for later: order is kept.
    """
    due = or_(
        and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.next_attempt_at) <= now),
        and_(col(OutboxMessage.status) == SENDING, col(OutboxMessage.claimed_at) <= now - lease),
    )
    query = (
        sqlmodel_select(OutboxMessage)
        .where(due)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no locking clause
    )
    candidates = list(session.exec(query))
    held = _held_back(session, candidates)
    claims: list[Claim] = []
    for row in candidates:
        assert row.id is not None  # rows read back from the database have ids
        if row.id in held:
            continue
        row.status = SENDING
        row.claimed_at = now
        row.attempts += 1
        session.add(row)
        late = _late(session, row) if row.failed_at is not None else None
        claims.append(
            Claim(
                row.id,
                row.channel,
                row.kind,
                row.attempts,
                row.payload,
                tenant_id=row.tenant_id,
                created_at=ensure_utc(row.created_at),
                late=late,
            )
        )
    return claims


def _held_back(session: Session, candidates: Sequence[OutboxMessage]) -> set[int]:
    """Candidates behind an earlier in-flight row of their tenant and channel that is not one of
    the candidates (so it is not due, or another dispatcher holds it)."""
    if not candidates:
        return set()
    ids = {row.id for row in candidates}
    in_flight = session.exec(
        sqlmodel_select(OutboxMessage.id, OutboxMessage.tenant_id, OutboxMessage.channel).where(
            col(OutboxMessage.status).in_(IN_FLIGHT),
            col(OutboxMessage.tenant_id).in_({row.tenant_id for row in candidates}),
            col(OutboxMessage.id) < max(row.id for row in candidates if row.id is not None),
        )
    ).all()
    first_blocker: dict[tuple[str, str], int] = {}
    for row_id, tenant_id, channel in in_flight:
        if row_id not in ids and row_id is not None:
            key = (tenant_id, channel)
            first_blocker[key] = min(row_id, first_blocker.get(key, row_id))
    return {
        row.id
        for row in candidates
        if row.id is not None and row.id > first_blocker.get((row.tenant_id, row.channel), row.id)
    }


def _late(session: Session, row: OutboxMessage) -> LateClaim:
    """A once-failed row's group, and the newer messages of its tenant the channel already got."""
    if row.notification is None:
        return LateClaim(group=None, newer=())
    sent_since = session.exec(
        sqlmodel_select(OutboxMessage.id, OutboxMessage.sent_at, OutboxMessage.notification)
        .where(
            OutboxMessage.tenant_id == row.tenant_id,
            OutboxMessage.channel == row.channel,
            col(OutboxMessage.id) > row.id,
            OutboxMessage.status == SENT,
            col(OutboxMessage.notification).is_not(None),
        )
        .order_by(col(OutboxMessage.id))
    ).all()
    newer = []
    for newer_id, sent_at, notification in sent_since:
        group = _group(notification)
        if newer_id is not None and sent_at is not None and group is not None:
            keys = frozenset(event.alert_key for event in group.events)
            newer.append(Newer(outbox_id=newer_id, sent_at=ensure_utc(sent_at), alert_keys=keys))
    return LateClaim(group=_group(row.notification), newer=tuple(newer))


def _group(notification: str | None) -> NotificationGroup | None:
    """The stored group; None if there is none or it cannot be read (then the row is resent as
    it was: a damaged row must not stop the dispatcher's claims)."""
    if notification is None:
        return None
    try:
        return NotificationGroup.from_dict(json.loads(notification))
    except (KeyError, TypeError, ValueError):
        return None


def record_delivery(
    session: Session,
    claim: Claim,
    outcome: DeliveryError | None,
    at: datetime,
    retry_at: datetime | None = None,
) -> Recorded | None:
    """Sent, failed for good, or pending again at ``retry_at``; the row's new status.

    A success also puts the channel's ``failed`` rows back to pending, due at ``at``: the channel
    has just been shown to work. None when the row is gone (deleted while it was being sent).
    """
    row = session.get(OutboxMessage, claim.id)
    if row is None:
        return None
    status = _locked_channel_status(session, claim.channel, claim.kind)
    revived = 0
    if outcome is None:
        row.status = SENT
        row.sent_at = at
        row.last_error = None
        status.last_success_at = at
        status.last_error = None
        status.permanent_failure = False
        session.add(row)
        session.flush()
        revived = len(_revive(session, at, channel=claim.channel, statuses=(FAILED,)))
    else:
        text = str(outcome)
        row.last_error = text
        status.last_error_at = at
        status.last_error = text
        if outcome.permanent:
            # Refused again although the channel worked after the last refusal: the message
            # itself is the problem (too long, rejected content), so stop retrying it alone.
            worked_since = (
                row.failed_at is not None
                and status.last_success_at is not None
                and ensure_utc(status.last_success_at) >= ensure_utc(row.failed_at)
            )
            row.status = REJECTED if worked_since else FAILED
            row.failed_at = at
            status.permanent_failure = True
        else:
            row.status = PENDING
            row.next_attempt_at = retry_at or at
    session.add(row)
    session.add(status)
    return Recorded(row.status, revived)


def record_superseded(session: Session, claim: Claim, reason: str) -> None:
    """A retried row newer messages made moot: dropped, ``reason`` kept on the row."""
    row = session.get(OutboxMessage, claim.id)
    if row is None:
        return
    row.status = SUPERSEDED
    row.last_error = reason
    session.add(row)


def revive_failed(session: Session, now: datetime, channel: str | None = None) -> list[int]:
    """`cwdrift alerts retry`: put ``failed`` and ``rejected`` rows back to pending, due now."""
    return _revive(session, now, channel=channel, statuses=(FAILED, REJECTED))


def _revive(
    session: Session, at: datetime, *, channel: str | None, statuses: Sequence[str]
) -> list[int]:
    query = sqlmodel_select(OutboxMessage).where(col(OutboxMessage.status).in_(statuses))
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel)
    revived = []
    for row in session.exec(query.order_by(col(OutboxMessage.id))):
        row.status = PENDING
        row.next_attempt_at = at
        session.add(row)
        assert row.id is not None  # rows read back from the database have ids
        revived.append(row.id)
    return revived


def outbox_messages(session: Session, ids: Iterable[int]) -> list[MessageView]:
    """The rows ``ids``, by id."""
    rows = session.exec(
        sqlmodel_select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(list(ids)))
        .order_by(col(OutboxMessage.id))
    )
    return [
        MessageView(
            id=row.id,
            tenant_id=row.tenant_id,
            channel=row.channel,
            summary=row.summary,
            status=row.status,
            last_error=row.last_error,
            sent_at=_utc(row.sent_at),
        )
        for row in rows
        if row.id is not None
    ]


def _locked_channel_status(session: Session, channel: str, kind: str) -> ChannelStatusRow:
    """The channel's status row, created if missing, locked until commit.

    Several dispatchers finish sends to one channel at once: a plain "get or add" would race
    to insert the same primary key, so insert-if-absent first, then lock the row.
    """
    values = {"channel": channel, "kind": kind, "permanent_failure": False}
    table = ChannelStatusRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it
    insert_new: Insert
    dialect = session.get_bind().dialect.name
    insert_new = upsert_insert(dialect, table).values(values).on_conflict_do_nothing()
    session.connection().execute(insert_new)
    status = session.get(ChannelStatusRow, channel, with_for_update=True)
    assert status is not None  # inserted above or by a concurrent dispatcher
    return status


def channel_status(session: Session) -> list[ChannelHealth]:
    """Every channel that has a status row or queued messages, by name.

    A channel's error is shown only while it is the latest news: a later success hides it.
    """
    counts: dict[tuple[str, str], int] = {
        (channel, status): int(count)
        for channel, status, count in session.exec(
            sqlmodel_select(OutboxMessage.channel, OutboxMessage.status, func.count())
            .where(col(OutboxMessage.status).in_([*IN_FLIGHT, FAILED, REJECTED]))
            .group_by(col(OutboxMessage.channel), col(OutboxMessage.status))
        ).all()
    }
    pending_counts = {
        channel: counts.get((channel, PENDING), 0) + counts.get((channel, SENDING), 0)
        for channel, _ in counts
    }
    rows = {row.channel: row for row in session.exec(sqlmodel_select(ChannelStatusRow))}
    kinds = dict(
        session.exec(sqlmodel_select(OutboxMessage.channel, OutboxMessage.kind).distinct()).all()
    )
    result = []
    for name in sorted(set(rows) | set(pending_counts)):
        row = rows.get(name)
        result.append(
            ChannelHealth(
                channel=name,
                kind=row.kind if row else kinds.get(name, ""),
                last_success_at=row.last_success_at if row else None,
                last_error_at=row.last_error_at if row else None,
                last_error=_current_error(row),
                permanent_failure=row.permanent_failure if row else False,
                pending=int(pending_counts.get(name, 0)),
                failed=counts.get((name, FAILED), 0),
                rejected=counts.get((name, REJECTED), 0),
            )
        )
    return result


def _current_error(row: ChannelStatusRow | None) -> str | None:
    """The channel's last error, unless a send succeeded after it (rows written before the
    dispatcher cleared the error on success still carry it)."""
    if row is None or row.last_error is None:
        return None
    recovered = (
        row.last_success_at is not None
        and row.last_error_at is not None
        and ensure_utc(row.last_success_at) > ensure_utc(row.last_error_at)
    )
    return None if recovered else row.last_error
