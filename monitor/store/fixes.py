"""Fix plans and the writes cwdrift sent: the queries of ``cwdrift fix`` and the daemon's modes.

Every function works in the caller's session and does not commit, except where the caller
commits between steps on purpose: a plan is committed as ``applying`` *before* its write is
sent, so a crash mid-write leaves a visible record rather than an unexplained change.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from monitor.clock import ensure_utc
from monitor.core.remedy import Write
from monitor.store.fix_tables import (
    FixAttemptRow,
    FixPlanRow,
    PlanSource,
    PlanStatus,
    Verification,
)

DAEMON = "cwdrift daemon"  # created_by of the plans the daemon makes


@dataclass(frozen=True)
class StoredPlan:
    id: int
    tenant_id: str
    rule_id: str
    label: str
    source: PlanSource
    status: PlanStatus
    created_at: datetime
    updated_at: datetime
    created_by: str
    host: str
    write: Write
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.id,
            "tenant": self.tenant_id,
            "rule": self.rule_id,
            "label": self.label,
            "source": self.source.value,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "created_by": self.created_by,
            "host": self.host,
            "write": self.write.to_json(),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class FixMark:
    """A recorded change that a cwdrift write made: who ran it, from where, when, which plan."""

    operator: str
    host: str
    source: str
    plan_id: int
    applied_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": "cwdrift",
            "operator": self.operator,
            "host": self.host,
            "source": self.source,
            "plan": self.plan_id,
            "applied_at": self.applied_at.isoformat(),
        }


def _plan(row: FixPlanRow) -> StoredPlan:
    assert row.id is not None  # read from the database
    return StoredPlan(
        id=row.id,
        tenant_id=row.tenant_id,
        rule_id=row.rule_id,
        label=row.label,
        source=PlanSource(row.source),
        status=PlanStatus(row.status),
        created_at=ensure_utc(row.created_at),
        updated_at=ensure_utc(row.updated_at),
        created_by=row.created_by,
        host=row.host,
        write=Write.from_json(json.loads(row.write)),
        note=row.note,
    )


def _encode(write: Write) -> str:
    return json.dumps(write.to_json(), sort_keys=True)


# -- plans -------------------------------------------------------------------------------------


def new_plan(
    session: Session,
    *,
    tenant_id: str,
    rule_id: str,
    label: str,
    source: PlanSource,
    status: PlanStatus,
    write: Write,
    now: datetime,
    by: str,
    host: str,
    note: str = "",
) -> StoredPlan:
    row = FixPlanRow(
        tenant_id=tenant_id,
        rule_id=rule_id,
        label=label,
        source=source.value,
        status=status.value,
        created_at=now,
        updated_at=now,
        created_by=by,
        host=host,
        endpoint=write.endpoint,
        record_id=write.record_id,
        write=_encode(write),
        note=note,
    )
    session.add(row)
    session.flush()
    return _plan(row)


def save_pending(
    session: Session,
    *,
    tenant_id: str,
    rule_id: str,
    label: str,
    write: Write,
    now: datetime,
    host: str,
    note: str = "",
) -> tuple[StoredPlan, bool]:
    """The one pending plan of (tenant, rule), refreshed with ``write`` or made; and whether
    anything was written (an unchanged plan is left alone, so a long drift writes nothing)."""
    row = _open_row(session, tenant_id, rule_id, (PlanStatus.PENDING,))
    if row is None:
        plan = new_plan(
            session,
            tenant_id=tenant_id,
            rule_id=rule_id,
            label=label,
            source=PlanSource.APPROVE,
            status=PlanStatus.PENDING,
            write=write,
            now=now,
            by=DAEMON,
            host=host,
            note=note,
        )
        return plan, True
    encoded = _encode(write)
    if (row.write, row.label, row.note) == (encoded, label, note):
        return _plan(row), False
    row.write, row.label, row.note = encoded, label, note
    row.endpoint, row.record_id = write.endpoint, write.record_id
    row.updated_at = now
    session.add(row)
    session.flush()
    return _plan(row), True


def _open_row(
    session: Session, tenant_id: str, rule_id: str, statuses: Collection[PlanStatus]
) -> FixPlanRow | None:
    return session.exec(
        select(FixPlanRow)
        .where(
            FixPlanRow.tenant_id == tenant_id,
            FixPlanRow.rule_id == rule_id,
            col(FixPlanRow.status).in_([s.value for s in statuses]),
        )
        .order_by(col(FixPlanRow.id).desc())
        .limit(1)
    ).first()


def get_plan(session: Session, plan_id: int) -> StoredPlan | None:
    row = session.get(FixPlanRow, plan_id)
    return None if row is None else _plan(row)


def plans(
    session: Session,
    *,
    tenant_id: str | None = None,
    statuses: Collection[PlanStatus] | None = None,
) -> list[StoredPlan]:
    """Plans, oldest first; only ``statuses`` and one tenant when given."""
    query = select(FixPlanRow)
    if tenant_id is not None:
        query = query.where(FixPlanRow.tenant_id == tenant_id)
    if statuses is not None:
        query = query.where(col(FixPlanRow.status).in_([s.value for s in statuses]))
    return [_plan(row) for row in session.exec(query.order_by(col(FixPlanRow.id)))]


def set_status(
    session: Session, plan_id: int, status: PlanStatus, *, now: datetime, note: str | None = None
) -> None:
    row = session.get(FixPlanRow, plan_id)
    if row is None:
        raise KeyError(plan_id)
    row.status = status.value
    row.updated_at = now
    if note is not None:
        row.note = note
    session.add(row)
    session.flush()


def held_rules(session: Session, tenant_id: str) -> set[str]:
    """Rules whose automatic fixes are stopped until a person resumes them (or they pass)."""
    return set(
        session.exec(
            select(FixPlanRow.rule_id).where(
                FixPlanRow.tenant_id == tenant_id, FixPlanRow.status == PlanStatus.HELD.value
            )
        )
    )


def settle(
    session: Session,
    tenant_id: str,
    *,
    failing: Collection[str],
    passing: Collection[str],
    now: datetime,
) -> list[StoredPlan]:
    """After a check: a pending plan whose rule no longer fails is obsolete; a held plan whose
    rule passes is cleared. Returns the plans that changed."""
    changed = []
    for row in session.exec(
        select(FixPlanRow).where(
            FixPlanRow.tenant_id == tenant_id,
            col(FixPlanRow.status).in_([PlanStatus.PENDING.value, PlanStatus.HELD.value]),
        )
    ):
        if row.status == PlanStatus.PENDING.value and row.rule_id not in failing:
            row.status, row.note = PlanStatus.OBSOLETE.value, "the rule no longer fails"
        elif row.status == PlanStatus.HELD.value and row.rule_id in passing:
            row.status, row.note = PlanStatus.CLEARED.value, "the rule passes again"
        else:
            continue
        row.updated_at = now
        session.add(row)
        changed.append(row)
    session.flush()
    return [_plan(row) for row in changed]


def resume(
    session: Session, tenant_id: str, rule_ids: Iterable[str], *, now: datetime, by: str
) -> list[StoredPlan]:
    """A person clears the held automatic fixes of these rules; returns the plans cleared."""
    wanted = list(rule_ids)
    query = select(FixPlanRow).where(
        FixPlanRow.tenant_id == tenant_id, FixPlanRow.status == PlanStatus.HELD.value
    )
    if wanted:
        query = query.where(col(FixPlanRow.rule_id).in_(wanted))
    cleared = []
    for row in session.exec(query):
        row.status = PlanStatus.CLEARED.value
        row.note = f"automatic fixes resumed by {by}"
        row.updated_at = now
        session.add(row)
        cleared.append(row)
    session.flush()
    return [_plan(row) for row in cleared]


# -- attempts ----------------------------------------------------------------------------------


def record_attempt(
    session: Session,
    *,
    plan: StoredPlan,
    at: datetime,
    operator: str,
    host: str,
    write: Write,
    status_code: int | None,
    answer: str,
    error_kind: str | None,
) -> int:
    """One write sent (or refused before it landed), not yet verified."""
    row = FixAttemptRow(
        plan_id=plan.id,
        tenant_id=plan.tenant_id,
        rule_id=plan.rule_id,
        at=at,
        operator=operator,
        host=host,
        source=plan.source.value,
        method="PATCH",
        path=write.path,
        request=json.dumps(write.body(), sort_keys=True),
        keys=json.dumps(list(write.keys)),
        status_code=status_code,
        answer=answer,
        error_kind=error_kind,
        verification=Verification.UNVERIFIED.value,
    )
    session.add(row)
    session.flush()
    assert row.id is not None  # assigned by the database
    return row.id


def record_verification(
    session: Session,
    attempt_id: int,
    verification: Verification,
    *,
    at: datetime,
    run_id: int | None,
    value: str | None,
) -> None:
    row = session.get(FixAttemptRow, attempt_id)
    if row is None:
        raise KeyError(attempt_id)
    row.verification = verification.value
    row.verified_at = at
    row.verify_run_id = run_id
    row.verified_value = value
    session.add(row)
    session.flush()


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    id: int
    plan_id: int
    tenant_id: str
    rule_id: str
    at: datetime
    operator: str
    host: str
    source: str
    path: str
    request: list[Any]
    status_code: int | None
    answer: str
    error_kind: str | None
    verification: Verification
    verify_run_id: int | None
    verified_value: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.id,
            "plan": self.plan_id,
            "tenant": self.tenant_id,
            "rule": self.rule_id,
            "at": self.at.isoformat(),
            "operator": self.operator,
            "host": self.host,
            "source": self.source,
            "method": "PATCH",
            "path": self.path,
            "request": self.request,
            "status": self.status_code,
            "answer": self.answer,
            "error_kind": self.error_kind,
            "verification": self.verification.value,
            "verify_run": self.verify_run_id,
            "verified_value": self.verified_value,
        }


def attempts(session: Session, *, tenant_id: str | None = None) -> list[StoredAttempt]:
    """Every write cwdrift sent, oldest first (one tenant when given)."""
    query = select(FixAttemptRow)
    if tenant_id is not None:
        query = query.where(FixAttemptRow.tenant_id == tenant_id)
    return [
        StoredAttempt(
            id=row.id or 0,
            plan_id=row.plan_id,
            tenant_id=row.tenant_id,
            rule_id=row.rule_id,
            at=ensure_utc(row.at),
            operator=row.operator,
            host=row.host,
            source=row.source,
            path=row.path,
            request=json.loads(row.request),
            status_code=row.status_code,
            answer=row.answer,
            error_kind=row.error_kind,
            verification=Verification(row.verification),
            verify_run_id=row.verify_run_id,
            verified_value=row.verified_value,
        )
        for row in session.exec(query.order_by(col(FixAttemptRow.at), col(FixAttemptRow.id)))
    ]


# -- what history and reports show -------------------------------------------------------------


def fix_marks(
    session: Session, tenant_id: str, run_ids: Sequence[int]
) -> dict[tuple[int, str], FixMark]:
    """(check run, setting key) -> the cwdrift write behind that change, for the runs given.

    A change was made by cwdrift when the check run that verified a write recorded it, on a
    setting the write changed. Other changes in the same run were someone else's.
    """
    if not run_ids:
        return {}
    a = FixAttemptRow
    rows = session.exec(
        select(a).where(a.tenant_id == tenant_id, col(a.verify_run_id).in_(sorted(set(run_ids))))
    )
    marks: dict[tuple[int, str], FixMark] = {}
    for row in rows:
        assert row.verify_run_id is not None  # selected on it
        mark = FixMark(row.operator, row.host, row.source, row.plan_id, ensure_utc(row.at))
        for key in json.loads(row.keys):
            marks[(row.verify_run_id, key)] = mark
    return marks


def verified_fixes(
    session: Session, tenant_ids: Sequence[str], *, until: datetime
) -> dict[tuple[str, str, int], str]:
    """(tenant, rule, verifying run) -> operator, for writes verified as fixed before ``until``:
    the report's "fixed by cwdrift"."""
    a = FixAttemptRow
    rows = session.exec(
        select(a.tenant_id, a.rule_id, a.verify_run_id, a.operator).where(
            col(a.tenant_id).in_(list(tenant_ids)),
            a.verification == Verification.FIXED.value,
            col(a.verified_at) < ensure_utc(until),
        )
    )
    return {
        (tenant_id, rule_id, run_id): operator
        for tenant_id, rule_id, run_id, operator in rows
        if run_id is not None
    }
