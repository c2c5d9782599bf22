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

from sqlmodel import Session, col, select

from monitor.alerts.channels import CHANNEL_TYPES, channel_configs
from monitor.alerts.config import NotifyConfig
from monitor.alerts.lifecycle import plan_alerts
from monitor.alerts.model import AlertState, AlertStatus, TenantRef
from monitor.alerts.routing import opened_channels, route_group
from monitor.alerts.silences import active_silences
from monitor.clock import ensure_utc
from monitor.errors import CwdriftError
from monitor.findings import Change, Finding, Severity
from monitor.store.alert_tables import AlertStateRow, OutboxMessage

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

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
    """
    plan = plan_alerts(
        tenant=tenant,
        previous=load_states(session, tenant.id),
        findings=findings,
        error=error,
        changes=changes,
        who=who,
        policy=policy,
        now=now,
        silences=active_silences(session, tenant_id=tenant.id, now=now),
    )
    states = {state.alert_key: state for state in plan.states}
    rows: list[OutboxMessage] = []
    if plan.group is not None:
        routed = route_group(plan.group, states, policy)
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
    save_states(session, states.values())
    session.add_all(rows)
    session.flush()
    return rows


def load_states(session: Session, tenant_id: str) -> list[AlertState]:
    query = select(AlertStateRow).where(AlertStateRow.tenant_id == tenant_id)
    return [_to_state(row) for row in session.exec(query)]


def save_states(session: Session, states: Iterable[AlertState]) -> None:
    for state in states:
        row = session.get(AlertStateRow, (state.tenant_id, state.alert_key))
        if row is None:
            row = AlertStateRow(
                tenant_id=state.tenant_id,
                alert_key=state.alert_key,
                state=state.status.value,
                label=state.label,
                severity=state.severity.value,
            )
        row.state = state.status.value
        row.label = state.label
        row.severity = state.severity.value
        row.opened_at = state.opened_at
        row.last_notified_at = state.last_notified_at
        row.resolved_at = state.resolved_at
        row.silenced_until = state.silenced_until
        row.consecutive_failures = state.consecutive_failures
        row.channels = json.dumps(list(state.channels))
        session.add(row)


def open_alerts(session: Session, tenant_id: str | None = None) -> list[AlertState]:
    """Open alerts (all tenants, or one), worst first: for `cwdrift status`."""
    query = select(AlertStateRow).where(AlertStateRow.state == AlertStatus.OPEN.value)
    if tenant_id is not None:
        query = query.where(AlertStateRow.tenant_id == tenant_id)
    states = [_to_state(row) for row in session.exec(query.order_by(col(AlertStateRow.tenant_id)))]
    return sorted(states, key=lambda s: (s.tenant_id, -s.severity.rank, s.alert_key))


def _to_state(row: AlertStateRow) -> AlertState:
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
