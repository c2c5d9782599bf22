"""The outbox: alert state and fully built messages, written in the check's own transaction.

The caller (the check job) records the check and its findings and calls
:func:`enqueue_for_check` in one session, then commits once. Either the check, its alert states
and its messages are all stored, or none is: a crash can delay a message, never lose it or
send it for a check that was not recorded. :mod:`monitor.alerts.dispatch` sends the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlmodel import Session, col

from monitor.alerts.channels import CHANNEL_TYPES, channel_configs
from monitor.alerts.config import NotifyConfig, Silence
from monitor.alerts.lifecycle import Plan, plan_alerts
from monitor.alerts.model import AlertState, AlertStatus, TenantRef
from monitor.alerts.routing import opened_channels, route_group
from monitor.clock import ensure_utc
from monitor.core.findings import Change, Finding, Severity
from monitor.errors import CwdriftError
from monitor.store.alert_tables import AlertStateRow, OutboxMessage
from monitor.store.silences import active_silences

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

# Built once: every check reads its tenant's states, and building a statement cost more than
# running it. Bound names differ from the column names, which the SET clause takes.
_ALL_STATES = select(AlertStateRow.__table__)  # type: ignore[attr-defined]  # SQLModel sets it
_TENANT_STATES = _ALL_STATES.where(col(AlertStateRow.tenant_id) == bindparam("tenant_id"))
_INSERT_STATE = insert(AlertStateRow)
_UPDATE_STATE = update(AlertStateRow).where(
    col(AlertStateRow.tenant_id) == bindparam("key_tenant"),
    col(AlertStateRow.alert_key) == bindparam("key_alert"),
)

__all__ = [
    "TenantRef",  # re-exported: callers build it to call enqueue_for_check
    "enqueue_for_check",
    "load_states",
    "open_alerts",
    "save_states",
]


def enqueue_for_check(
    session: Session,
    *,
    tenant: TenantRef,
    findings: Sequence[Finding] | None,
    error: CwdriftError | None,
    changes: Sequence[Change],
    who: Mapping[str, tuple[str | None, str | None]],
    now: datetime,
    policy: NotifyConfig,
) -> list[OutboxMessage]:
    """Advance the tenant's alerts and write one outbox row per channel that must hear of it.

    Does not commit: the caller's transaction holds the check, the states and the messages.
    Only states that moved are written, and a check that notifies nobody writes nothing.
    """
    stored = {state.alert_key: state for state in load_states(session, tenant.id)}

    def plan(silences: Sequence[Silence]) -> Plan:
        return plan_alerts(
            tenant=tenant,
            previous=stored.values(),
            findings=findings,
            error=error,
            changes=changes,
            who=who,
            policy=policy,
            now=now,
            silences=silences,
        )

    planned = plan(())
    if planned.consulted_silences:  # most checks never ask, and then need not read them
        planned = plan(active_silences(session, tenant_id=tenant.id, now=now))
    states = {state.alert_key: state for state in planned.states}
    rows: list[OutboxMessage] = []
    if planned.group is not None:
        routed = route_group(planned.group, states, policy)
        for key, channels in opened_channels(routed).items():
            told = dict.fromkeys((*states[key].channels, *channels))
            states[key] = replace(states[key], channels=tuple(told))
        configs = channel_configs(policy)
        for channel, group in routed.items():
            kind, config = configs[channel]
            channel_type = CHANNEL_TYPES[kind]
            payload = channel_type.build(group, config)
            rows.append(
                OutboxMessage(
                    tenant_id=tenant.id,
                    channel=channel,
                    kind=kind,
                    summary=channel_type.summarize(payload),
                    created_at=now,
                    next_attempt_at=now,
                    status=PENDING,
                    payload=json.dumps(payload, sort_keys=True),
                )
            )
    _write_states(session, [s for s in states.values() if stored.get(s.alert_key) != s], stored)
    if rows:
        session.add_all(rows)
        session.flush()
    return rows


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
        _write_states(session, theirs, stored)


def _write_states(
    session: Session, states: Sequence[AlertState], stored: Mapping[str, AlertState]
) -> None:
    """Insert the new states and update the others, one batched statement each.

    ``stored`` is the states' tenant's states as read, by alert key.
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
