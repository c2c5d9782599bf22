"""Alert state and the outbox: every query alerting needs, in the caller's transaction.

    load_states / write_states / save_states / open_alerts     where each alert stands
    queue_messages                                             built messages -> outbox rows
    claim_due / record_delivery                                the dispatcher's two writes
    channel_status                                             delivery health per channel
    report_queued                                              has this week's report gone out

Claiming is at-least-once and never lossy: due rows (``pending`` and due, or ``sending`` whose
lease ran out because a dispatcher died mid-send) are marked ``sending`` and COMMITTED before
anything is sent. On PostgreSQL the pick is ``SELECT ... FOR UPDATE SKIP LOCKED``, so
concurrent dispatchers never claim one row twice; on SQLite run a single dispatcher.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from monitor.alerts.model import AlertState, AlertStatus
from monitor.alerts.notify import QueuedMessage
from monitor.clock import ensure_utc
from monitor.core.findings import Severity
from monitor.errors import DeliveryError
from monitor.store.alert_tables import AlertStateRow, ChannelStatusRow, OutboxMessage

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

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
    """An outbox row claimed for sending."""

    id: int
    channel: str
    kind: str
    attempts: int
    payload: str


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
    """Mark due rows ``sending`` (the caller commits before sending anything)."""
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
    claims: list[Claim] = []
    for row in session.exec(query):
        row.status = SENDING
        row.claimed_at = now
        row.attempts += 1
        session.add(row)
        assert row.id is not None  # rows read back from the database have ids
        claims.append(Claim(row.id, row.channel, row.kind, row.attempts, row.payload))
    return claims


def record_delivery(
    session: Session,
    claim: Claim,
    outcome: DeliveryError | None,
    at: datetime,
    retry_at: datetime | None = None,
) -> str | None:
    """Sent, failed for good, or pending again at ``retry_at``; the row's new status.

    None when the row is gone (deleted by retention while it was being sent).
    """
    row = session.get(OutboxMessage, claim.id)
    if row is None:
        return None
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
        else:
            row.status = PENDING
            row.next_attempt_at = retry_at or at
    session.add(row)
    session.add(status)
    return row.status


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
            sqlmodel_select(OutboxMessage.channel, func.count())
            .where(col(OutboxMessage.status).in_([PENDING, SENDING]))
            .group_by(col(OutboxMessage.channel))
        ).all()
    )
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
                last_error=row.last_error if row else None,
                permanent_failure=row.permanent_failure if row else False,
                pending=int(pending_counts.get(name, 0)),
            )
        )
    return result
