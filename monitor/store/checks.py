"""Recording one check of one tenant: the run, the snapshot if new, its changes and findings.

:func:`record_check` writes into the caller's session and does not commit, so the alert outbox
rows that a check causes commit (or roll back) together with the check itself. It issues a fixed
number of statements per check whatever the number of settings or rules: inserts are batched
and the "nothing changed" update of finding states is one statement.

A failed read (``error``) writes only the run row: it resolves nothing and fails nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from monitor.errors import CwdriftError
from monitor.findings import Change, Finding, Severity, Status
from monitor.snapshot import CredentialMode, Snapshot
from monitor.store.codec import decode_snapshot, encode_keys, encode_snapshot, encode_value
from monitor.store.tables import (
    CheckRunTable,
    FindingStateTable,
    FindingTransitionTable,
    SettingChangeTable,
    SnapshotTable,
    TenantTable,
)


class Outcome(StrEnum):
    COMPLIANT = "compliant"
    DRIFT = "drift"  # at least one finding is drift (failing, severity above warning)
    ERROR = "error"  # the read failed; nothing was evaluated


@dataclass(frozen=True, slots=True)
class FindingTransitionData:
    """A finding's status change, with what alerting needs to word it (new, resolved, regressed)."""

    rule_id: str
    from_status: Status | None  # None: the rule was observed for the first time
    to_status: Status
    at: datetime
    severity: Severity
    label: str
    expected: str
    actual: str | None
    first_failed_at: datetime | None  # start of the failing streak after this transition
    previous_resolved_at: datetime | None  # when it last went from failing to passing, before


@dataclass(frozen=True)
class CheckRecord:
    run_id: int
    outcome: Outcome
    snapshot_stored: bool
    transitions: list[FindingTransitionData] = field(default_factory=list)
    previous_states: dict[str, Status] = field(default_factory=dict)  # rule_id -> status before
    # Rules with a stored state that this check no longer evaluated (the baseline or the
    # tenant's options changed); their state is removed so they stop counting as open.
    retired_rules: list[str] = field(default_factory=list)


def latest_snapshot(session: Session, tenant_id: str) -> Snapshot | None:
    """The tenant's most recently stored configuration, or None before its first good read."""
    body = session.exec(
        select(SnapshotTable.body)
        .where(SnapshotTable.tenant_id == tenant_id)
        .order_by(col(SnapshotTable.observed_at).desc(), col(SnapshotTable.id).desc())
        .limit(1)
    ).first()
    return None if body is None else decode_snapshot(body)


def latest_snapshot_hash(session: Session, tenant_id: str) -> str | None:
    """The content hash of the tenant's latest stored configuration (no body decoded)."""
    return session.exec(
        select(SnapshotTable.content_hash)
        .where(SnapshotTable.tenant_id == tenant_id)
        .order_by(col(SnapshotTable.observed_at).desc(), col(SnapshotTable.id).desc())
        .limit(1)
    ).first()


def record_check(
    session: Session,
    *,
    tenant_id: str,
    tenant_name: str,
    started_at: datetime,
    finished_at: datetime,
    snapshot: Snapshot | None,
    changes: Sequence[Change],
    findings: Sequence[Finding] | None,
    error: CwdriftError | None,
    credential_mode: CredentialMode | None = None,
) -> CheckRecord:
    """Record one check in ``session`` (not committed). Exactly one of snapshot/error is given.

    ``findings=None`` with a snapshot means the check was not evaluated: finding states are left
    alone. ``credential_mode`` defaults to the snapshot's; pass it for error runs if known.
    """
    if (snapshot is None) == (error is None):
        raise ValueError("record_check needs exactly one of snapshot= (a good read) or error=")
    _upsert_tenant(session, tenant_id, tenant_name, started_at)
    if error is not None:
        return _record_error(session, tenant_id, started_at, finished_at, error, credential_mode)
    assert snapshot is not None  # for mypy: guaranteed by the check above
    snapshot_id, stored = _store_snapshot_if_new(session, tenant_id, snapshot)
    outcome = Outcome.DRIFT if any(f.is_drift for f in findings or ()) else Outcome.COMPLIANT
    run = CheckRunTable(
        tenant_id=tenant_id,
        started_at=started_at,
        finished_at=finished_at,
        outcome=outcome.value,
        snapshot_id=snapshot_id,
        credential_mode=(credential_mode or snapshot.credential_mode).value,
    )
    session.add(run)
    session.flush()
    assert run.id is not None  # assigned by the flush
    observed_at = snapshot.collected_at
    if changes:
        session.exec(
            insert(SettingChangeTable),
            params=[_change_row(tenant_id, run.id, observed_at, change) for change in changes],
        )
    if findings is None:
        return CheckRecord(run_id=run.id, outcome=outcome, snapshot_stored=stored)
    return _update_findings(
        session,
        tenant_id,
        observed_at,
        findings,
        CheckRecord(run_id=run.id, outcome=outcome, snapshot_stored=stored),
    )


def _upsert_tenant(session: Session, tenant_id: str, name: str, seen_at: datetime) -> None:
    """Insert the tenant or rename it, in one statement that is safe against a concurrent insert."""
    values: dict[str, Any] = {"id": tenant_id, "name": name, "first_seen_at": seen_at}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(TenantTable).values(values)
        session.exec(
            pg.on_conflict_do_update(
                index_elements=["id"],
                set_={"name": pg.excluded.name},
                where=col(TenantTable.name) != pg.excluded.name,  # no new row version otherwise
            )
        )
    elif dialect == "sqlite":
        lite = sqlite.insert(TenantTable).values(values)
        session.exec(
            lite.on_conflict_do_update(
                index_elements=["id"],
                set_={"name": lite.excluded.name},
                where=col(TenantTable.name) != lite.excluded.name,
            )
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        existing = session.get(TenantTable, tenant_id)
        if existing is None:
            session.add(TenantTable(**values))
        else:
            existing.name = name


def _record_error(
    session: Session,
    tenant_id: str,
    started_at: datetime,
    finished_at: datetime,
    error: CwdriftError,
    credential_mode: CredentialMode | None,
) -> CheckRecord:
    run = CheckRunTable(
        tenant_id=tenant_id,
        started_at=started_at,
        finished_at=finished_at,
        outcome=Outcome.ERROR.value,
        error_kind=error.kind,
        error_message=str(error),
        error_detail=json.dumps(error.as_dict(), sort_keys=True),
        credential_mode=credential_mode.value if credential_mode else None,
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    return CheckRecord(run_id=run.id, outcome=Outcome.ERROR, snapshot_stored=False)


def _store_snapshot_if_new(
    session: Session, tenant_id: str, snapshot: Snapshot
) -> tuple[int, bool]:
    """(id of the snapshot in force, whether it was stored now). Unchanged content is not copied."""
    latest = session.exec(
        select(SnapshotTable.id, SnapshotTable.content_hash)
        .where(SnapshotTable.tenant_id == tenant_id)
        .order_by(col(SnapshotTable.observed_at).desc(), col(SnapshotTable.id).desc())
        .limit(1)
    ).first()
    content_hash = snapshot.content_hash
    if latest is not None and latest[0] is not None and latest[1] == content_hash:
        return latest[0], False
    row = SnapshotTable(
        tenant_id=tenant_id,
        observed_at=snapshot.collected_at,
        content_hash=content_hash,
        body=encode_snapshot(snapshot),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id, True


def _change_row(tenant_id: str, run_id: int, at: datetime, change: Change) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "run_id": run_id,
        "observed_at": at,
        "key": change.key,
        "label": change.label,
        "old": encode_value(change.old),
        "new": encode_value(change.new),
        "changed_by": change.updated_by,
        "changed_at": change.last_updated,
    }


def _next_first_failed(previous: datetime | None, status: Status, at: datetime) -> datetime | None:
    """Start of the failing streak: begins on fail, survives unknown, ends on pass or waived."""
    if status is Status.FAIL:
        return previous or at
    if status is Status.UNKNOWN:
        return previous  # an unreadable rule neither resolves nor extends a failure
    return None


def _update_findings(
    session: Session,
    tenant_id: str,
    at: datetime,
    findings: Sequence[Finding],
    record: CheckRecord,
) -> CheckRecord:
    """Compare with the stored states; write new, changed and retired states and transitions."""
    states = {
        state.rule_id: state
        for state in session.exec(
            select(FindingStateTable).where(FindingStateTable.tenant_id == tenant_id)
        )
    }
    previous = {rule_id: Status(state.status) for rule_id, state in states.items()}
    new_states: list[dict[str, Any]] = []
    transitions: list[FindingTransitionData] = []
    for finding in findings:
        state = states.get(finding.rule_id)
        keys = encode_keys(finding.keys)
        if state is None:
            first_failed = _next_first_failed(None, finding.status, at)
            new_states.append(
                {
                    "tenant_id": tenant_id,
                    "rule_id": finding.rule_id,
                    "status": finding.status.value,
                    "severity": finding.severity.value,
                    "label": finding.label,
                    "expected": finding.expected,
                    "actual": finding.actual,
                    "first_failed_at": first_failed,
                    "last_seen_at": at,
                    "last_changed_at": at,
                    "resolved_at": None,
                    "keys": keys,
                }
            )
            transitions.append(_transition(finding, None, at, first_failed, None))
            continue
        old_status = Status(state.status)
        first_failed = _next_first_failed(state.first_failed_at, finding.status, at)
        if old_status is not finding.status:
            transitions.append(
                _transition(finding, old_status, at, first_failed, state.resolved_at)
            )
            if finding.status is Status.PASS and state.first_failed_at is not None:
                state.resolved_at = at
            state.last_changed_at = at
        fresh = (
            finding.status.value,
            finding.severity.value,
            finding.label,
            finding.expected,
            finding.actual,
            keys,
            first_failed,
        )
        stored = (
            state.status,
            state.severity,
            state.label,
            state.expected,
            state.actual,
            state.keys,
            state.first_failed_at,
        )
        if fresh == stored:
            # Not rewritten: on PostgreSQL every UPDATE is a new row version, and rewriting ~30
            # unchanged states per check cost ~1 KB per check. An unchanged state was last seen
            # at its tenant's last successful check run.
            continue
        # Changed rows are rare; the unit of work batches their UPDATEs at the next flush.
        (
            state.status,
            state.severity,
            state.label,
            state.expected,
            state.actual,
            state.keys,
            state.first_failed_at,
        ) = fresh
        state.last_seen_at = at
    if new_states:
        session.exec(insert(FindingStateTable), params=new_states)
    retired = sorted(set(states) - {finding.rule_id for finding in findings})
    if retired:
        session.exec(
            delete(FindingStateTable)
            .where(
                col(FindingStateTable.tenant_id) == tenant_id,
                col(FindingStateTable.rule_id).in_(retired),
            )
            .execution_options(synchronize_session=False)
        )
        for rule_id in retired:
            session.expunge(states[rule_id])
    if transitions:
        session.exec(
            insert(FindingTransitionTable),
            params=[_transition_row(tenant_id, record.run_id, t) for t in transitions],
        )
    session.flush()
    return replace(record, transitions=transitions, previous_states=previous, retired_rules=retired)


def _transition(
    finding: Finding,
    from_status: Status | None,
    at: datetime,
    first_failed_at: datetime | None,
    previous_resolved_at: datetime | None,
) -> FindingTransitionData:
    return FindingTransitionData(
        rule_id=finding.rule_id,
        from_status=from_status,
        to_status=finding.status,
        at=at,
        severity=finding.severity,
        label=finding.label,
        expected=finding.expected,
        actual=finding.actual,
        first_failed_at=first_failed_at,
        previous_resolved_at=previous_resolved_at,
    )


def _transition_row(tenant_id: str, run_id: int, t: FindingTransitionData) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "rule_id": t.rule_id,
        "run_id": run_id,
        "at": t.at,
        "from_status": t.from_status.value if t.from_status else None,
        "to_status": t.to_status.value,
        "severity": t.severity.value,
        "label": t.label,
        "expected": t.expected,
        "actual": t.actual,
    }
