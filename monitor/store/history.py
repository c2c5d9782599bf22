"""Questions asked of the store: what changed, what was in force at a time, how tenants stand.

Every per-tenant query is bounded by an index on ``(tenant_id, time)``. Summaries over all
tenants use correlated subqueries that each read one index entry per tenant (newest run,
newest good run), so they stay fast with thousands of tenants and years of runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from monitor.clock import ensure_utc
from monitor.core.findings import Severity, Status
from monitor.core.snapshot import Snapshot, Value
from monitor.store.codec import decode_keys, decode_setting, decode_snapshot, decode_value
from monitor.store.fixes import FixMark, fix_marks
from monitor.store.runs import Outcome
from monitor.store.tables import (
    CheckRunTable,
    FindingStateTable,
    FindingTransitionTable,
    SettingChangeTable,
    SnapshotTable,
    TenantTable,
)


@dataclass(frozen=True, slots=True)
class ChangeRow:
    observed_at: datetime  # when cwdrift first saw the new value
    key: str
    label: str
    old: Value  # None: absent
    new: Value  # None: absent
    changed_by: str | None  # ConnectWise _info.updatedBy, when given
    changed_at: str | None  # ConnectWise _info.lastUpdated, as given
    run_id: int
    fixed_by_cwdrift: FixMark | None = None  # the cwdrift write behind the change, if any

    def to_dict(self) -> dict[str, Any]:
        """The shape of ``history --json`` and ``export``."""
        return {
            "observed_at": self.observed_at.isoformat(),
            "setting": self.key,
            "label": self.label,
            "old": self.old,
            "new": self.new,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
            "fixed_by_cwdrift": (
                self.fixed_by_cwdrift.to_dict() if self.fixed_by_cwdrift is not None else None
            ),
        }


@dataclass(frozen=True, slots=True)
class FindingAt:
    """A rule's status as of some time: the last transition at or before it."""

    rule_id: str
    status: Status
    severity: Severity
    label: str
    expected: str
    actual: str | None
    at: datetime  # when it entered this status

    def to_dict(self) -> dict[str, Any]:
        """The shape of a finding in ``show --json`` (``at`` as ``str(datetime)``, as it has
        always been printed there)."""
        return {
            "status": self.status.value,
            "severity": self.severity.value,
            "label": self.label,
            "expected": self.expected,
            "actual": self.actual,
            "at": str(self.at),
        }


@dataclass(frozen=True, slots=True)
class FindingStateRow:
    tenant_id: str
    rule_id: str
    status: Status
    severity: Severity
    label: str
    expected: str
    actual: str | None
    first_failed_at: datetime | None
    last_seen_at: datetime
    last_changed_at: datetime
    resolved_at: datetime | None
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TenantSummary:
    tenant_id: str
    name: str
    last_started_at: datetime | None  # None: never checked
    last_finished_at: datetime | None
    outcome: Outcome | None
    error_kind: str | None
    error_message: str | None
    open_drift: int  # failing findings above warning severity
    consecutive_errors: int  # error runs since the last good read


@dataclass(frozen=True, slots=True)
class Period:
    """One stretch of time during which a setting held one value. ``end`` None: still in force."""

    value: Value
    label: str | None
    start: datetime
    end: datetime | None
    present: bool  # False: the setting was absent from the configuration
    unknown: str | None  # why its section could not be read, if it could not
    changed_by: str | None
    changed_at: str | None

    def to_dict(self) -> dict[str, Any]:
        """The shape of a period in ``timeline --json``."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "value": self.value,
            "present": self.present,
            "unknown": self.unknown,
            "label": self.label,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
        }


def changes(
    session: Session,
    tenant_id: str,
    *,
    setting: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    who: str | None = None,
    limit: int | None = None,
) -> list[ChangeRow]:
    """The tenant's setting changes, oldest first, each marked when a cwdrift write made it.

    ``setting`` matches a case-insensitive substring of the key or the label; ``who`` a
    case-insensitive substring of ConnectWise's updatedBy; ``since``/``until`` are inclusive.
    """
    t = SettingChangeTable
    query = _changes_query(tenant_id, setting=setting, since=since, until=until, who=who)
    query = query.order_by(col(t.observed_at), col(t.id))
    if limit is not None:
        query = query.limit(limit)
    return _marked(session, tenant_id, [_change_row(row) for row in session.exec(query)])


def recent_changes(
    session: Session, tenant_id: str, *, until: datetime | None = None, limit: int = 20
) -> list[ChangeRow]:
    """The tenant's newest ``limit`` setting changes observed at or before ``until``, newest
    first (one indexed read backwards)."""
    t = SettingChangeTable
    query = _changes_query(tenant_id, until=until)
    query = query.order_by(col(t.observed_at).desc(), col(t.id).desc()).limit(limit)
    return _marked(session, tenant_id, [_change_row(row) for row in session.exec(query)])


def count_changes(session: Session, tenant_id: str, *, since: datetime | None = None) -> int:
    t = SettingChangeTable
    query = select(func.count()).select_from(t).where(t.tenant_id == tenant_id)
    if since is not None:
        query = query.where(col(t.observed_at) >= ensure_utc(since))
    return int(session.exec(query).one())


def change_batches(
    session: Session, tenant_id: str, *, since: datetime | None = None, size: int = 5000
) -> Iterator[list[ChangeRow]]:
    """``changes`` in oldest-first batches of ``size`` (keyset paging: each batch is one
    indexed read), so a long export can show its progress."""
    t = SettingChangeTable
    after: tuple[datetime, int] | None = None
    while True:
        query = _changes_query(tenant_id, since=since)
        if after is not None:
            at, row_id = after
            query = query.where(
                or_(
                    col(t.observed_at) > at,
                    and_(col(t.observed_at) == at, col(t.id) > row_id),
                )
            )
        rows = list(session.exec(query.order_by(col(t.observed_at), col(t.id)).limit(size)))
        if not rows:
            return
        yield _marked(session, tenant_id, [_change_row(row) for row in rows])
        last = rows[-1]
        after = (last.observed_at, int(last.id or 0))


def _changes_query(
    tenant_id: str,
    *,
    setting: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    who: str | None = None,
) -> SelectOfScalar[SettingChangeTable]:
    t = SettingChangeTable
    query = select(t).where(t.tenant_id == tenant_id)
    if setting:
        needle = setting.lower()
        query = query.where(
            or_(
                func.lower(col(t.key)).contains(needle, autoescape=True),
                func.lower(col(t.label)).contains(needle, autoescape=True),
            )
        )
    if since is not None:
        query = query.where(col(t.observed_at) >= ensure_utc(since))
    if until is not None:
        query = query.where(col(t.observed_at) <= ensure_utc(until))
    if who:
        query = query.where(func.lower(col(t.changed_by)).contains(who.lower(), autoescape=True))
    return query


def _marked(session: Session, tenant_id: str, rows: list[ChangeRow]) -> list[ChangeRow]:
    """``rows`` with the cwdrift write behind each change, where one was (one indexed read)."""
    marks = fix_marks(session, tenant_id, [row.run_id for row in rows])
    if not marks:
        return rows
    return [replace(row, fixed_by_cwdrift=marks.get((row.run_id, row.key))) for row in rows]


def _change_row(row: SettingChangeTable) -> ChangeRow:
    return ChangeRow(
        observed_at=row.observed_at,
        key=row.key,
        label=row.label,
        old=decode_value(row.old),
        new=decode_value(row.new),
        changed_by=row.changed_by,
        changed_at=row.changed_at,
        run_id=row.run_id,
    )


def matching_settings(session: Session, tenant_id: str, text: str) -> list[tuple[str, str]]:
    """(key, label) of the tenant's settings that ``text`` names, the way ``history --setting``
    matches: a key given exactly (any case) names that one setting; otherwise every setting whose
    key or label contains ``text`` (case-insensitive). Settings come from the newest snapshot and
    from recorded changes (so a setting that has since disappeared is still found), key order.
    """
    known: dict[str, str] = {}
    t = SettingChangeTable
    for key, label in session.exec(
        select(t.key, t.label).where(t.tenant_id == tenant_id).distinct()
    ):
        known[key] = label
    newest = snapshot_at(session, tenant_id, datetime.max.replace(tzinfo=UTC))
    if newest is not None:
        known.update({key: setting.label for key, setting in newest.settings.items()})
    needle = text.strip().casefold()
    exact = [(key, label) for key, label in known.items() if key.casefold() == needle]
    if exact:
        return exact
    return sorted(
        (key, label)
        for key, label in known.items()
        if needle in key.casefold() or needle in label.casefold()
    )


def snapshot_at(session: Session, tenant_id: str, at: datetime) -> Snapshot | None:
    """The configuration in force at ``at`` (the latest observed at or before it), else None."""
    body = session.exec(
        select(SnapshotTable.body)
        .where(
            SnapshotTable.tenant_id == tenant_id,
            col(SnapshotTable.observed_at) <= ensure_utc(at),
        )
        .order_by(col(SnapshotTable.observed_at).desc(), col(SnapshotTable.id).desc())
        .limit(1)
    ).first()
    return None if body is None else decode_snapshot(body)


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    tenant_id: str
    observed_at: datetime  # when this configuration was first seen
    snapshot: Snapshot


def snapshots_in_force(
    session: Session, tenant_ids: Sequence[str], at: datetime | None = None
) -> Iterator[StoredSnapshot]:
    """Each tenant's configuration in force at ``at`` (its newest one when None), by tenant.

    One ranked read for any number of tenants; bodies are decoded one at a time as the caller
    iterates (inside its session), so thousands of tenants never sit in memory at once.
    """
    s = SnapshotTable
    newest_first = (
        func.row_number()
        .over(partition_by=col(s.tenant_id), order_by=(col(s.observed_at).desc(), col(s.id).desc()))
        .label("newest_first")
    )
    query = select(s.tenant_id, s.observed_at, s.body, newest_first).where(
        col(s.tenant_id).in_(list(tenant_ids))
    )
    if at is not None:
        query = query.where(col(s.observed_at) <= ensure_utc(at))
    ranked = query.subquery()
    rows = session.connection().execute(
        sa_select(ranked.c.tenant_id, ranked.c.observed_at, ranked.c.body)
        .where(ranked.c.newest_first == 1)
        .order_by(ranked.c.tenant_id)
    )
    for tenant_id, observed_at, body in rows:
        yield StoredSnapshot(tenant_id, ensure_utc(observed_at), decode_snapshot(body))


def findings_at(session: Session, tenant_id: str, at: datetime) -> dict[str, FindingAt]:
    """Each rule's status as of ``at``, from its last transition at or before it."""
    t = FindingTransitionTable
    newest_first = (
        func.row_number()
        .over(partition_by=col(t.rule_id), order_by=(col(t.at).desc(), col(t.id).desc()))
        .label("newest_first")
    )
    ranked = (
        select(t, newest_first)
        .where(t.tenant_id == tenant_id, col(t.at) <= ensure_utc(at))
        .subquery()
    )
    last = aliased(t, ranked)
    rows = session.exec(select(last).where(ranked.c.newest_first == 1).order_by(col(last.rule_id)))
    return {
        row.rule_id: FindingAt(
            rule_id=row.rule_id,
            status=Status(row.to_status),
            severity=Severity(row.severity),
            label=row.label,
            expected=row.expected,
            actual=row.actual,
            at=row.at,
        )
        for row in rows
    }


def rule_keys(session: Session, tenant_id: str, rule_id: str) -> tuple[str, ...] | None:
    """The snapshot keys a rule read at its last evaluation for this tenant (None: never)."""
    row = session.get(FindingStateTable, (tenant_id, rule_id))
    return None if row is None else decode_keys(row.keys)


def keys_by_rule(session: Session, tenant_id: str) -> dict[str, tuple[str, ...]]:
    """Every rule evaluated for the tenant -> the snapshot keys it read at its last evaluation."""
    s = FindingStateTable
    rows = session.exec(select(s.rule_id, s.keys).where(s.tenant_id == tenant_id))
    return {rule_id: decode_keys(keys) for rule_id, keys in rows}


def open_findings(
    session: Session, tenant_id: str | None = None, *, tenant_ids: Sequence[str] | None = None
) -> list[FindingStateRow]:
    """Failing findings (any severity), oldest failure first; of one tenant, of
    ``tenant_ids``, or of all tenants."""
    s = FindingStateTable
    query = select(s).where(s.status == Status.FAIL.value)
    if tenant_id is not None:
        query = query.where(s.tenant_id == tenant_id)
    if tenant_ids is not None:
        query = query.where(col(s.tenant_id).in_(list(tenant_ids)))
    query = query.order_by(col(s.tenant_id), col(s.first_failed_at), col(s.rule_id))
    return [
        FindingStateRow(
            tenant_id=row.tenant_id,
            rule_id=row.rule_id,
            status=Status(row.status),
            severity=Severity(row.severity),
            label=row.label,
            expected=row.expected,
            actual=row.actual,
            first_failed_at=row.first_failed_at,
            last_seen_at=row.last_seen_at,
            last_changed_at=row.last_changed_at,
            resolved_at=row.resolved_at,
            keys=decode_keys(row.keys),
        )
        for row in session.exec(query)
    ]


def tenant_summaries(session: Session) -> list[TenantSummary]:
    """Every known tenant with its newest run, open drift count and current error streak."""
    tenant = TenantTable
    run = CheckRunTable
    newest_run_id = (
        select(run.id)
        .where(run.tenant_id == tenant.id)
        .order_by(col(run.started_at).desc(), col(run.id).desc())
        .limit(1)
        .correlate(tenant)
        .scalar_subquery()
    )
    good = aliased(run)
    last_good_at = (
        select(good.started_at)
        .where(good.tenant_id == tenant.id, good.outcome != Outcome.ERROR.value)
        .order_by(col(good.started_at).desc())
        .limit(1)
        .correlate(tenant)
        .scalar_subquery()
    )
    failed = aliased(run)
    error_streak = (
        select(func.count())
        .select_from(failed)
        .where(
            failed.tenant_id == tenant.id,
            failed.outcome == Outcome.ERROR.value,
            or_(last_good_at.is_(None), col(failed.started_at) > last_good_at),
        )
        .correlate(tenant)
        .scalar_subquery()
    )
    state = FindingStateTable
    open_drift = (
        select(func.count())
        .select_from(state)
        .where(
            state.tenant_id == tenant.id,
            state.status == Status.FAIL.value,
            state.severity != Severity.WARNING.value,
        )
        .correlate(tenant)
        .scalar_subquery()
    )
    newest = aliased(run)
    # sqlalchemy's select: SQLModel's is typed for at most four columns.
    query = (
        sa_select(
            col(tenant.id),
            col(tenant.name),
            col(newest.started_at),
            col(newest.finished_at),
            col(newest.outcome),
            col(newest.error_kind),
            col(newest.error_message),
            open_drift,
            error_streak,
        )
        .select_from(tenant)
        .outerjoin(newest, col(newest.id) == newest_run_id)
        .order_by(col(tenant.id))
    )
    return [
        TenantSummary(
            tenant_id=tenant_id,
            name=name,
            last_started_at=_utc_or_none(started),
            last_finished_at=_utc_or_none(finished),
            outcome=Outcome(outcome) if outcome else None,
            error_kind=error_kind,
            error_message=error_message,
            open_drift=int(drift or 0),
            consecutive_errors=int(streak or 0),
        )
        for (
            tenant_id,
            name,
            started,
            finished,
            outcome,
            error_kind,
            error_message,
            drift,
            streak,
        ) in session.connection().execute(query)
    ]


def last_checks(session: Session) -> dict[str, datetime]:
    """Tenant id -> start of its newest check, for the scheduler to place the next one."""
    run = CheckRunTable
    newest_start = (
        select(run.started_at)
        .where(run.tenant_id == TenantTable.id)
        .order_by(col(run.started_at).desc())
        .limit(1)
        .correlate(TenantTable)
        .scalar_subquery()
    )
    rows = session.exec(select(TenantTable.id, newest_start))
    return {tenant_id: ensure_utc(started) for tenant_id, started in rows if started is not None}


def prune_checks(session: Session, *, older_than: datetime) -> int:
    """Delete redundant check runs started before ``older_than``; return how many went.

    A run is redundant when it is just "same as the run before and after": same outcome, same
    snapshot, same error kind as both neighbours, referenced by no change and no finding
    transition, and not the tenant's newest run. So every change, every transition and both
    ends of every error streak (and of every compliant/drift stretch) survive.
    """
    run = CheckRunTable
    window: dict[str, Any] = {
        "partition_by": col(run.tenant_id),
        "order_by": (col(run.started_at), col(run.id)),
    }
    ordered = sa_select(
        col(run.id).label("id"),
        col(run.started_at).label("started_at"),
        col(run.outcome).label("outcome"),
        col(run.snapshot_id).label("snapshot_id"),
        col(run.error_kind).label("error_kind"),
        func.lag(run.outcome).over(**window).label("prev_outcome"),
        func.lead(run.outcome).over(**window).label("next_outcome"),
        func.lag(run.snapshot_id).over(**window).label("prev_snapshot"),
        func.lead(run.snapshot_id).over(**window).label("next_snapshot"),
        func.lag(run.error_kind).over(**window).label("prev_error"),
        func.lead(run.error_kind).over(**window).label("next_error"),
    ).subquery()
    o = ordered.c
    redundant = select(o.id).where(
        o.started_at < ensure_utc(older_than),
        # lag/lead are NULL at either end of a tenant's history, so the first and the newest
        # run never compare equal and are kept.
        o.outcome == o.prev_outcome,
        o.outcome == o.next_outcome,
        o.snapshot_id.is_not_distinct_from(o.prev_snapshot),
        o.snapshot_id.is_not_distinct_from(o.next_snapshot),
        o.error_kind.is_not_distinct_from(o.prev_error),
        o.error_kind.is_not_distinct_from(o.next_error),
        ~exists().where(col(SettingChangeTable.run_id) == o.id),
        ~exists().where(col(FindingTransitionTable.run_id) == o.id),
    )
    result = session.exec(
        delete(run).where(col(run.id).in_(redundant)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def timeline(session: Session, tenant_id: str, setting_key: str) -> list[Period]:
    """The values one setting held, from the first snapshot that has it to now.

    Values come from the stored snapshots (the truth, stored once per distinct configuration);
    who changed a value comes from the recorded change at the same moment, else from the
    setting's own ConnectWise ``_info``.
    """
    who_by_time = {
        row.observed_at: (row.changed_by, row.changed_at)
        for row in session.exec(
            select(SettingChangeTable).where(
                SettingChangeTable.tenant_id == tenant_id,
                SettingChangeTable.key == setting_key,
            )
        )
    }
    periods: list[Period] = []
    snapshots = session.exec(
        select(SnapshotTable.observed_at, SnapshotTable.body)
        .where(SnapshotTable.tenant_id == tenant_id)
        .order_by(col(SnapshotTable.observed_at), col(SnapshotTable.id))
    )
    for observed_at, body in snapshots:
        setting, unknown = decode_setting(body, setting_key)
        if setting is None and not periods:
            continue  # not yet observed
        value = setting.value if setting is not None else None
        if periods:
            last = periods[-1]
            if (last.value, last.present, last.unknown) == (value, setting is not None, unknown):
                continue
            periods[-1] = _ended(last, observed_at)
        by, at = who_by_time.get(observed_at, (None, None))
        periods.append(
            Period(
                value=value,
                label=setting.label if setting is not None else periods[-1].label,
                start=ensure_utc(observed_at),
                end=None,
                present=setting is not None,
                unknown=unknown,
                changed_by=by or (setting.updated_by if setting else None),
                changed_at=at or (setting.last_updated if setting else None),
            )
        )
    return periods


def _ended(period: Period, end: datetime) -> Period:
    return Period(
        value=period.value,
        label=period.label,
        start=period.start,
        end=ensure_utc(end),
        present=period.present,
        unknown=period.unknown,
        changed_by=period.changed_by,
        changed_at=period.changed_at,
    )


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else ensure_utc(value)


__all__ = [
    "ChangeRow",
    "FindingAt",
    "FindingStateRow",
    "Period",
    "StoredSnapshot",
    "TenantSummary",
    "change_batches",
    "changes",
    "count_changes",
    "findings_at",
    "keys_by_rule",
    "last_checks",
    "matching_settings",
    "open_findings",
    "prune_checks",
    "recent_changes",
    "snapshot_at",
    "snapshots_in_force",
    "tenant_summaries",
    "timeline",
]
