"""Recording one check of one tenant: the run, the snapshot if new, its changes and findings.

:func:`record_run` writes into the caller's session and does not commit, so the alert outbox
rows that a check causes commit (or roll back) together with the check itself. It issues a fixed
number of statements per check whatever the number of settings or rules: inserts are batched,
and a check that changed nothing reads the tenant once, inserts its run row and reads the
finding states. The statements are SQLAlchemy Core, built once (at import, the
dialect's upsert on first use): a tenant check runs them thousands of times a day, and
building or ORM-loading them cost more than running them.

A failed read (``error``) writes only the run row: it resolves nothing and fails nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, exists, insert, select, update
from sqlalchemy.sql import Executable
from sqlmodel import Session, col

from monitor.core.findings import Change, Finding, Severity, Status
from monitor.core.snapshot import CredentialMode, Snapshot
from monitor.errors import CwdriftError
from monitor.store.codec import decode_snapshot, encode_keys, encode_snapshot, encode_value
from monitor.store.dialects import upsert_insert
from monitor.store.tables import (
    CheckRunTable,
    FindingStateTable,
    FindingTransitionTable,
    SettingChangeTable,
    SnapshotTable,
    TenantTable,
)
from monitor.store.waiver_tables import WaiverRow

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


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
class RunRecord:
    run_id: int
    outcome: Outcome
    snapshot_stored: bool
    transitions: list[FindingTransitionData] = field(default_factory=list)
    previous_states: dict[str, Status] = field(default_factory=dict)  # rule_id -> status before
    # Rules with a stored state that this check no longer evaluated (the baseline or the
    # tenant's options changed); their state is removed so they stop counting as open.
    retired_rules: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredTenant:
    """What the store holds of a tenant before a check: its row, the snapshot in force, and
    whether ``cwdrift waive`` accepted any deviation for it (most tenants have none)."""

    name: str | None  # None: no tenant row yet (its first check)
    snapshot_id: int | None  # None: no good read stored yet
    content_hash: str | None
    has_waivers: bool  # True when unknown: a waiver may predate the tenant's first check


# -- statements, built once ------------------------------------------------------------------

_LATEST_FIRST = (col(SnapshotTable.observed_at).desc(), col(SnapshotTable.id).desc())
_LATEST_SNAPSHOT_ID = (
    select(col(SnapshotTable.id))
    .where(col(SnapshotTable.tenant_id) == bindparam("tenant_id"))
    .order_by(*_LATEST_FIRST)
    .limit(1)
    .scalar_subquery()
)
_HAS_WAIVERS = exists().where(col(WaiverRow.tenant_id) == bindparam("tenant_id"))
_STORED_TENANT = (
    select(
        col(TenantTable.name),
        col(SnapshotTable.id),
        col(SnapshotTable.content_hash),
        _HAS_WAIVERS,
    )
    .select_from(TenantTable)
    .outerjoin(SnapshotTable, col(SnapshotTable.id) == _LATEST_SNAPSHOT_ID)
    .where(col(TenantTable.id) == bindparam("tenant_id"))
)
_LATEST_BODY = (
    select(col(SnapshotTable.body))
    .where(col(SnapshotTable.tenant_id) == bindparam("tenant_id"))
    .order_by(*_LATEST_FIRST)
    .limit(1)
)
_INSERT_RUN = insert(CheckRunTable).returning(col(CheckRunTable.id))
_INSERT_SNAPSHOT = insert(SnapshotTable).returning(col(SnapshotTable.id))
_INSERT_CHANGES = insert(SettingChangeTable)
_INSERT_TRANSITIONS = insert(FindingTransitionTable)
_INSERT_STATES = insert(FindingStateTable)
_FINDING_STATES = select(
    col(FindingStateTable.rule_id),
    col(FindingStateTable.status),
    col(FindingStateTable.severity),
    col(FindingStateTable.label),
    col(FindingStateTable.expected),
    col(FindingStateTable.actual),
    col(FindingStateTable.keys),
    col(FindingStateTable.first_failed_at),
    col(FindingStateTable.last_changed_at),
    col(FindingStateTable.resolved_at),
).where(col(FindingStateTable.tenant_id) == bindparam("tenant_id"))
# Bound names differ from the column names: those are taken by the SET clause.
_UPDATE_STATE = update(FindingStateTable).where(
    col(FindingStateTable.tenant_id) == bindparam("state_tenant"),
    col(FindingStateTable.rule_id) == bindparam("state_rule"),
)


def _rename_on_conflict(upsert: postgresql.Insert | sqlite.Insert) -> Executable:
    """The tenant insert that renames an existing row instead, written once per dialect."""
    return upsert.on_conflict_do_update(
        index_elements=["id"],
        set_={"name": upsert.excluded.name},
        where=col(TenantTable.name) != upsert.excluded.name,  # no new row version otherwise
    )


@functools.cache
def _upsert_tenant_statement(dialect: str) -> Executable | None:
    """The tenant upsert for ``dialect``, built on first use: importing the store (as
    ``cwdrift history`` does) needs neither dialect's insert, and PostgreSQL's costs ~40 ms."""
    if dialect not in ("postgresql", "sqlite"):
        return None
    return _rename_on_conflict(upsert_insert(dialect, TenantTable))


# -- reading ---------------------------------------------------------------------------------


def latest_snapshot(session: Session, tenant_id: str) -> Snapshot | None:
    """The tenant's most recently stored configuration, or None before its first good read."""
    body = session.connection().execute(_LATEST_BODY, {"tenant_id": tenant_id}).scalar()
    return None if body is None else decode_snapshot(body)


def latest_snapshot_hash(session: Session, tenant_id: str) -> str | None:
    """The content hash of the tenant's latest stored configuration (no body decoded)."""
    return stored_tenant(session, tenant_id).content_hash


def stored_tenant(session: Session, tenant_id: str) -> StoredTenant:
    """The tenant's row, latest snapshot hash and whether it has waivers, in one query."""
    found = session.connection().execute(_STORED_TENANT, {"tenant_id": tenant_id}).first()
    if found is None:
        return StoredTenant(name=None, snapshot_id=None, content_hash=None, has_waivers=True)
    name, snapshot_id, content_hash, has_waivers = found
    return StoredTenant(name, snapshot_id, content_hash, has_waivers=bool(has_waivers))


# -- writing ---------------------------------------------------------------------------------


def record_run(
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
    stored: StoredTenant | None = None,
) -> RunRecord:
    """Record one check in ``session`` (not committed). Exactly one of snapshot/error is given.

    ``findings=None`` with a snapshot means the check was not evaluated: finding states are left
    alone. ``credential_mode`` defaults to the snapshot's; pass it for error runs if known.
    ``stored`` is :func:`stored_tenant` as read earlier in this transaction (it is read here
    when not given).
    """
    if (snapshot is None) == (error is None):
        raise ValueError("record_run needs exactly one of snapshot= (a good read) or error=")
    connection = session.connection()
    stored = stored or stored_tenant(session, tenant_id)
    if stored.name != tenant_name:  # a new or renamed tenant: most checks skip this write
        _upsert_tenant(session, tenant_id, tenant_name, started_at)
    if error is not None:
        return _record_error(connection, tenant_id, started_at, finished_at, error, credential_mode)
    assert snapshot is not None  # for mypy: guaranteed by the check above
    snapshot_id, is_new = _store_snapshot_if_new(connection, tenant_id, snapshot, stored)
    outcome = Outcome.DRIFT if any(f.is_drift for f in findings or ()) else Outcome.COMPLIANT
    run_id = _insert_run(
        connection,
        tenant_id=tenant_id,
        started_at=started_at,
        finished_at=finished_at,
        outcome=outcome.value,
        snapshot_id=snapshot_id,
        credential_mode=(credential_mode or snapshot.credential_mode).value,
    )
    observed_at = snapshot.collected_at
    if changes:
        connection.execute(
            _INSERT_CHANGES,
            [_change_row(tenant_id, run_id, observed_at, change) for change in changes],
        )
    record = RunRecord(run_id=run_id, outcome=outcome, snapshot_stored=is_new)
    if findings is None:
        return record
    return _update_findings(connection, tenant_id, observed_at, findings, record)


def _upsert_tenant(session: Session, tenant_id: str, name: str, seen_at: datetime) -> None:
    """Insert the tenant or rename it, in one statement that is safe against a concurrent insert."""
    values: dict[str, Any] = {"id": tenant_id, "name": name, "first_seen_at": seen_at}
    upsert = _upsert_tenant_statement(session.get_bind().dialect.name)
    if upsert is not None:
        session.connection().execute(upsert, values)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        existing = session.get(TenantTable, tenant_id)
        if existing is None:
            session.add(TenantTable(**values))
        else:
            existing.name = name
        session.flush()  # the Core statements that follow do not autoflush


def _insert_run(connection: Connection, **values: Any) -> int:
    run_id = connection.execute(_INSERT_RUN, values).scalar_one()
    assert run_id is not None  # assigned by the database
    return run_id


def _record_error(
    connection: Connection,
    tenant_id: str,
    started_at: datetime,
    finished_at: datetime,
    error: CwdriftError,
    credential_mode: CredentialMode | None,
) -> RunRecord:
    run_id = _insert_run(
        connection,
        tenant_id=tenant_id,
        started_at=started_at,
        finished_at=finished_at,
        outcome=Outcome.ERROR.value,
        error_kind=error.kind,
        error_message=str(error),
        error_detail=json.dumps(error.as_dict(), sort_keys=True),
        credential_mode=credential_mode.value if credential_mode else None,
    )
    return RunRecord(run_id=run_id, outcome=Outcome.ERROR, snapshot_stored=False)


def _store_snapshot_if_new(
    connection: Connection, tenant_id: str, snapshot: Snapshot, stored: StoredTenant
) -> tuple[int, bool]:
    """(id of the snapshot in force, whether it was stored now). Unchanged content is not copied."""
    content_hash = snapshot.content_hash
    if stored.snapshot_id is not None and stored.content_hash == content_hash:
        return stored.snapshot_id, False
    snapshot_id = connection.execute(
        _INSERT_SNAPSHOT,
        {
            "tenant_id": tenant_id,
            "observed_at": snapshot.collected_at,
            "content_hash": content_hash,
            "body": encode_snapshot(snapshot),
        },
    ).scalar_one()
    assert snapshot_id is not None  # assigned by the database
    return snapshot_id, True


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
    connection: Connection,
    tenant_id: str,
    at: datetime,
    findings: Sequence[Finding],
    record: RunRecord,
) -> RunRecord:
    """Compare with the stored states; write new, changed and retired states and transitions."""
    states = {
        state.rule_id: state
        for state in connection.execute(_FINDING_STATES, {"tenant_id": tenant_id})
    }
    previous = {rule_id: Status(state.status) for rule_id, state in states.items()}
    new_states: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
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
        first_failed = _next_first_failed(state.first_failed_at, finding.status, at)
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
        resolved_at, last_changed_at = state.resolved_at, state.last_changed_at
        if state.status != finding.status.value:
            old_status = Status(state.status)
            transitions.append(
                _transition(finding, old_status, at, first_failed, state.resolved_at)
            )
            if finding.status is Status.PASS and state.first_failed_at is not None:
                resolved_at = at
            last_changed_at = at
        updates.append(
            {
                "state_tenant": tenant_id,
                "state_rule": finding.rule_id,
                "status": finding.status.value,
                "severity": finding.severity.value,
                "label": finding.label,
                "expected": finding.expected,
                "actual": finding.actual,
                "keys": keys,
                "first_failed_at": first_failed,
                "last_seen_at": at,
                "last_changed_at": last_changed_at,
                "resolved_at": resolved_at,
            }
        )
    if new_states:
        connection.execute(_INSERT_STATES, new_states)
    if updates:  # rare: most checks change no finding
        connection.execute(_UPDATE_STATE, updates)
    retired = sorted(set(states) - {finding.rule_id for finding in findings})
    if retired:
        connection.execute(
            delete(FindingStateTable).where(
                col(FindingStateTable.tenant_id) == tenant_id,
                col(FindingStateTable.rule_id).in_(retired),
            )
        )
    if transitions:
        connection.execute(
            _INSERT_TRANSITIONS,
            [_transition_row(tenant_id, record.run_id, t) for t in transitions],
        )
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
