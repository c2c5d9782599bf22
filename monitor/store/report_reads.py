"""The weekly report's reads: a few set-based queries that fill :class:`ReportInputs`.

Everything is read as of ``until`` from the history tables, so a report for a past week says
what was true then. The period is half-open, ``[since, until)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from monitor.alerts.config import Silence
from monitor.clock import ensure_utc
from monitor.reports.build import ReportTenant, build_weekly
from monitor.reports.inputs import (
    FailedRun,
    ObservedChange,
    ReportInputs,
    SilenceInput,
    Transition,
    WaiverInput,
)
from monitor.reports.model import WeeklyReport
from monitor.store.codec import decode_keys, decode_value
from monitor.store.fixes import verified_fixes
from monitor.store.runs import Outcome
from monitor.store.silences import list_silences
from monitor.store.tables import (
    CheckRunTable,
    FindingStateTable,
    FindingTransitionTable,
    SettingChangeTable,
)
from monitor.store.waivers import database_waivers


def weekly_report(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    tenants: Sequence[ReportTenant],
    now: datetime,
    label: str | None = None,
    timezone: str = "UTC",
    config_silences: Sequence[Silence] = (),
) -> WeeklyReport:
    """Read what the report needs from the store, then build it (see ``reports.build``)."""
    inputs = read_report_inputs(session, [t.id for t in tenants], since=since, until=until)
    return build_weekly(
        inputs,
        since=since,
        until=until,
        tenants=tenants,
        now=now,
        label=label,
        timezone=timezone,
        config_silences=config_silences,
    )


def read_report_inputs(
    session: Session, tenant_ids: Sequence[str], *, since: datetime, until: datetime
) -> ReportInputs:
    ids = list(tenant_ids)
    last_checked, first_checked = _check_times(session, ids, until)
    return ReportInputs(
        transitions=_transitions(session, ids, until),
        cwdrift_fixes=verified_fixes(session, ids, until=until),
        finding_keys=_finding_keys(session, ids),
        changes=_changes(session, ids, since, until),
        failed_runs=_failed_runs(session, ids, until),
        last_checked=last_checked,
        first_checked=first_checked,
        database_waivers=[
            WaiverInput(s.tenant_id, s.waiver, s.source, s.created_at)
            for s in database_waivers(session)
            if s.tenant_id in ids
        ],
        database_silences=[
            SilenceInput(
                Silence(
                    tenant=row.tenant,
                    rule=row.rule,
                    reason=row.reason,
                    author=row.author,
                    expires=row.expires,
                ),
                ensure_utc(row.created_at),
            )
            for row in list_silences(session, now=until)
        ],
    )


def _transitions(session: Session, tenant_ids: list[str], until: datetime) -> list[Transition]:
    t = FindingTransitionTable
    rows = session.exec(
        select(t)
        .where(col(t.tenant_id).in_(tenant_ids), col(t.at) < until)
        .order_by(col(t.tenant_id), col(t.rule_id), col(t.at), col(t.id))
    )
    return [
        Transition(
            tenant_id=row.tenant_id,
            rule_id=row.rule_id,
            at=ensure_utc(row.at),
            to_status=row.to_status,
            severity=row.severity,
            label=row.label,
            expected=row.expected,
            actual=row.actual,
            run_id=row.run_id,
        )
        for row in rows
    ]


def _finding_keys(
    session: Session, tenant_ids: list[str]
) -> dict[tuple[str, str], tuple[str, ...]]:
    s = FindingStateTable
    rows = session.exec(
        select(s.tenant_id, s.rule_id, s.keys).where(col(s.tenant_id).in_(tenant_ids))
    )
    return {(tenant_id, rule_id): decode_keys(keys) for tenant_id, rule_id, keys in rows}


def _changes(
    session: Session, tenant_ids: list[str], since: datetime, until: datetime
) -> list[ObservedChange]:
    c = SettingChangeTable
    rows = session.exec(
        select(c)
        .where(
            col(c.tenant_id).in_(tenant_ids),
            col(c.observed_at) >= since,
            col(c.observed_at) < until,
        )
        .order_by(col(c.observed_at), col(c.tenant_id), col(c.id))
    )
    return [
        ObservedChange(
            tenant_id=row.tenant_id,
            observed_at=ensure_utc(row.observed_at),
            key=row.key,
            label=row.label,
            old=decode_value(row.old),
            new=decode_value(row.new),
            changed_by=row.changed_by,
            changed_at=row.changed_at,
        )
        for row in rows
    ]


def _failed_runs(session: Session, ids: list[str], until: datetime) -> list[FailedRun]:
    """Per tenant, the failed runs before ``until`` that came after its last good run."""
    run = CheckRunTable
    last_good = (
        sa_select(col(run.tenant_id).label("tenant_id"), func.max(run.started_at).label("at"))
        .where(
            col(run.tenant_id).in_(ids),
            col(run.outcome) != Outcome.ERROR.value,
            col(run.started_at) < until,
        )
        .group_by(col(run.tenant_id))
        .subquery()
    )
    errors = session.connection().execute(
        sa_select(
            col(run.tenant_id),
            col(run.started_at),
            col(run.error_kind),
            col(run.error_message),
        )
        .outerjoin(last_good, last_good.c.tenant_id == col(run.tenant_id))
        .where(
            col(run.tenant_id).in_(ids),
            col(run.outcome) == Outcome.ERROR.value,
            col(run.started_at) < until,
            or_(last_good.c.at.is_(None), col(run.started_at) > last_good.c.at),
        )
        .order_by(col(run.tenant_id), col(run.started_at), col(run.id))
    )
    return [
        FailedRun(tenant_id, ensure_utc(started), kind, message)
        for tenant_id, started, kind, message in errors
    ]


def _check_times(
    session: Session, ids: list[str], until: datetime
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Per tenant, its newest run before ``until`` and its first run ever, in one grouped read."""
    run = CheckRunTable
    before_until = case((col(run.started_at) < until, col(run.started_at)), else_=None)
    rows = session.connection().execute(
        sa_select(
            col(run.tenant_id),
            func.max(before_until).label("last"),
            func.min(col(run.started_at)).label("first"),
        )
        .where(col(run.tenant_id).in_(ids))
        .group_by(col(run.tenant_id))
    )
    last: dict[str, datetime] = {}
    first: dict[str, datetime] = {}
    for tenant_id, last_at, first_at in rows:
        if last_at is not None:
            last[tenant_id] = ensure_utc(last_at)
        first[tenant_id] = ensure_utc(first_at)
    return last, first
