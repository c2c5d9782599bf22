"""The web view's reads: the fleet as one sorted, filtered, paged query, and the few per-tenant
and per-channel questions the pages ask that the CLI does not.

The fleet page must stay fast at thousands of tenants, so everything a row shows is computed,
filtered, sorted and cut to one page inside the database. The configured fleet (id, name,
tags: tags live only in the config) goes in as ONE JSON parameter, unpacked by ``json_each``
(SQLite) or ``jsonb_array_elements`` (PostgreSQL), instead of thousands of bound values. Per
tenant, the newest run is one index read backwards on ``(tenant_id, started_at)``; findings are
one grouped pass over ``finding_state``; the counts by status, the fleet score and the total
come from window functions over the same rows, so one statement answers the whole page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    type_coerce,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from monitor.clock import ensure_utc
from monitor.core.findings import Severity, Status
from monitor.store.alert_tables import OutboxMessage
from monitor.store.daemon_tables import TenantSchedule
from monitor.store.outbox import FAILED, PENDING, REJECTED, SENDING
from monitor.store.runs import Outcome
from monitor.store.tables import (
    CheckRunTable,
    FindingStateTable,
    FindingTransitionTable,
    UTCDateTime,
)

_TAG_SEPARATOR = "\x1f"  # between a tenant's tags in the fleet parameter: never in a tag


class FleetStatus(StrEnum):
    """Where a tenant stands, from its newest check. Declared worst first (the status sort)."""

    CANNOT_VERIFY = "cannot_verify"  # its newest check could not read it
    DRIFT = "drift"
    NEVER_CHECKED = "never_checked"
    COMPLIANT = "compliant"


class FleetSort(StrEnum):
    """What the fleet can be sorted by; each reads best in its natural order (see ``_order``)."""

    NAME = "name"
    TENANT = "tenant"
    STATUS = "status"  # worst first
    SCORE = "score"  # lowest first
    FINDINGS = "findings"  # most critical first
    LAST_CHECK = "last_check"  # most recent first
    NEXT_CHECK = "next_check"  # soonest first
    FAILING_SINCE = "failing_since"  # failing longest first


@dataclass(frozen=True, slots=True)
class FleetTenant:
    """A configured tenant, as the fleet query needs it."""

    id: str
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetQuery:
    status: FleetStatus | None = None
    tag: str | None = None
    search: str | None = None  # part of the id or the name, case-insensitive
    sort: FleetSort = FleetSort.STATUS
    reverse: bool = False
    page: int = 1  # from 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class OpenCounts:
    """Failing findings by severity."""

    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    warning: int = 0

    @property
    def total(self) -> int:
        return self.critical + self.high + self.medium + self.low + self.warning

    def to_dict(self) -> dict[str, int]:
        return {severity.value: getattr(self, severity.value) for severity in Severity}


@dataclass(frozen=True, slots=True)
class FleetRow:
    tenant_id: str
    name: str
    tags: tuple[str, ...]
    status: FleetStatus
    outcome: Outcome | None
    last_check: datetime | None
    error_kind: str | None
    error_message: str | None
    consecutive_errors: int
    next_run: datetime | None
    passing: int
    applicable: int
    open: OpenCounts
    failing_since: datetime | None  # the oldest open drift, or the start of the error streak

    @property
    def score(self) -> float | None:
        """Percent of judged rules passing (or waived), as the weekly report scores."""
        return None if self.applicable == 0 else round(100.0 * self.passing / self.applicable, 1)


@dataclass(frozen=True, slots=True)
class FleetPage:
    rows: list[FleetRow]
    total: int  # tenants matching every filter
    counts: dict[FleetStatus, int]  # tenants matching the tag and the search, by status
    passing: int  # over the tenants matching the tag and the search
    applicable: int
    open: OpenCounts = field(default_factory=OpenCounts)
    # Over the tenants the tag selects (the whole fleet without one), whatever the search or
    # status: the fleet score trend's "now".
    scope_passing: int = 0
    scope_applicable: int = 0

    @property
    def score(self) -> float | None:
        return None if self.applicable == 0 else round(100.0 * self.passing / self.applicable, 1)


EncodedFleet = str  # the configured fleet as the query's one JSON parameter (encode_fleet)


def encode_fleet(fleet: Sequence[FleetTenant]) -> EncodedFleet:
    """The fleet as :func:`fleet_page` takes it; encode it once per config, not per page."""
    return json.dumps(
        [
            [t.id, t.name, _TAG_SEPARATOR + _TAG_SEPARATOR.join(t.tags) + _TAG_SEPARATOR]
            for t in fleet
        ]
    )


def fleet_page(
    session: Session, fleet: Sequence[FleetTenant] | EncodedFleet, query: FleetQuery
) -> FleetPage:
    """One page of the configured ``fleet``, filtered and sorted as ``query`` asks.

    The tag filters the rows; the search and the status are kept as columns until the
    windows have counted (by status, the scores, over the tag's scope) and filter after, so
    that one statement answers the whole page.
    """
    parameters = {"fleet": fleet if isinstance(fleet, str) else encode_fleet(fleet)}
    dialect = session.get_bind().dialect.name
    found = _derived(_fleet_source(dialect))
    # Computed once per tenant (MATERIALIZED): a subquery flattened into the windows below
    # would evaluate each expression (the search's lower() and LIKE) once per window.
    derived = (
        sa_select(found, _search(found.c, query.search).label("matches"))
        .cte("derived")
        .prefix_with("MATERIALIZED")
    )
    d = derived.c
    match = d.matches == literal(True)

    def among_matches(value: Any) -> Any:
        return func.sum(case((match, value), else_=0)).over()

    windows = [
        *(
            among_matches(case((d.status == status.value, 1), else_=0)).label(f"w_{status}")
            for status in FleetStatus
        ),
        among_matches(1).label("w_total"),
        among_matches(d.passing).label("w_passing"),
        among_matches(d.applicable).label("w_applicable"),
        *(among_matches(d[severity.value]).label(f"w_{severity}") for severity in Severity),
        func.sum(d.passing).over().label("w_scope_passing"),
        func.sum(d.applicable).over().label("w_scope_applicable"),
        (func.row_number().over() == 1).label("first_of_scope"),
    ]
    inner = sa_select(derived, *windows).select_from(derived)
    if query.tag:
        inner = inner.where(d.tags.contains(_TAG_SEPARATOR + query.tag + _TAG_SEPARATOR,
                                            autoescape=True))  # fmt: skip
    scope = inner.subquery("scope")
    m = scope.c
    on_page = m.matches == literal(True)
    if query.status is not None:
        on_page = and_(on_page, m.status == query.status.value)
    # One row of the scope comes along even when no tenant matches (sorted after every match,
    # so paging is unchanged): its windows still carry the counts. It is not shown.
    per_page = max(1, query.per_page)
    statement = (
        sa_select(scope, on_page.label("on_page"))
        .where(or_(on_page, m.first_of_scope == literal(True)))
        .order_by(on_page.desc(), *_order(m, query.sort, query.reverse))
        .limit(per_page)
        .offset((max(1, query.page) - 1) * per_page)
    )
    connection = _without_jit(session)
    result = connection.execute(statement, parameters).mappings().all()
    # Past the last page nothing comes back: the counts are asked for again.
    first = result[0] if result else connection.execute(
        sa_select(scope).limit(1), parameters
    ).mappings().first()  # fmt: skip
    if first is None:  # nothing in the scope at all
        return FleetPage(rows=[], total=0, counts=dict.fromkeys(FleetStatus, 0), passing=0,
                         applicable=0)  # fmt: skip
    counts = {status: int(first[f"w_{status}"] or 0) for status in FleetStatus}
    return FleetPage(
        rows=[_fleet_row(row) for row in result if row["on_page"]],
        total=counts[query.status] if query.status is not None else int(first["w_total"] or 0),
        counts=counts,
        passing=int(first["w_passing"] or 0),
        applicable=int(first["w_applicable"] or 0),
        open=OpenCounts(**{s.value: int(first[f"w_{s}"] or 0) for s in Severity}),
        scope_passing=int(first["w_scope_passing"] or 0),
        scope_applicable=int(first["w_scope_applicable"] or 0),
    )


def _without_jit(session: Session) -> Connection:
    """The session's connection, PostgreSQL's JIT off for this transaction: the planner cannot
    see inside the JSON parameter, guesses these statements are huge and JIT-compiles them,
    ~0.5 s of compiling for ~0.1 s of work on every page."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")
    return connection


def _fleet_source(dialect: str) -> FromClause:
    """The configured fleet as rows (tenant_id, name, tags) from the one JSON parameter."""
    fleet = bindparam("fleet", type_=String)
    if dialect == "postgresql":
        each = func.jsonb_array_elements(cast(fleet, JSONB)).table_valued("value")
        element = each.c.value

        def item(index: int) -> ColumnElement[Any]:
            return element.op("->>")(literal(index))
    else:
        each = func.json_each(fleet).table_valued("value")
        element = each.c.value

        def item(index: int) -> ColumnElement[Any]:
            return func.json_extract(element, f"$[{index}]")

    return sa_select(
        type_coerce(item(0), String).label("tenant_id"),
        type_coerce(item(1), String).label("name"),
        type_coerce(item(2), String).label("tags"),
    ).subquery("fleet")


def _derived(source: FromClause) -> FromClause:
    """Every configured tenant with what its fleet row shows."""
    tenant_id = source.c.tenant_id
    run = CheckRunTable
    newest_id = (
        sa_select(col(run.id))
        .where(col(run.tenant_id) == tenant_id)
        .order_by(col(run.started_at).desc(), col(run.id).desc())
        .limit(1)
        .correlate(source)
        .scalar_subquery()
    )
    newest = aliased(run, name="newest")
    good = aliased(run, name="good")
    last_good_at = (
        sa_select(col(good.started_at))
        .where(col(good.tenant_id) == tenant_id, col(good.outcome) != Outcome.ERROR.value)
        .order_by(col(good.started_at).desc())
        .limit(1)
        .correlate(source)
        .scalar_subquery()
    )
    failed = aliased(run, name="failed")
    in_streak = and_(
        col(failed.tenant_id) == tenant_id,
        col(failed.outcome) == Outcome.ERROR.value,
        or_(last_good_at.is_(None), col(failed.started_at) > last_good_at),
    )
    streak_count = (
        sa_select(func.count()).select_from(failed).where(in_streak).correlate(source)
    ).scalar_subquery()
    streak_start = (
        sa_select(func.min(col(failed.started_at))).where(in_streak).correlate(source)
    ).scalar_subquery()
    judged = _judged_by_tenant()
    failing = _failing_by_tenant()
    schedule = aliased(TenantSchedule, name="schedule")
    erred = col(newest.outcome) == Outcome.ERROR.value
    status = case(
        (col(newest.id).is_(None), FleetStatus.NEVER_CHECKED.value),
        (erred, FleetStatus.CANNOT_VERIFY.value),
        (col(newest.outcome) == Outcome.DRIFT.value, FleetStatus.DRIFT.value),
        else_=FleetStatus.COMPLIANT.value,
    )
    # Correlated subqueries sit in CASE branches: both databases evaluate them only for the
    # tenants that need them (those whose newest check failed).
    failing_since = case(
        (erred, type_coerce(streak_start, UTCDateTime)),
        (col(newest.outcome) == Outcome.DRIFT.value, failing.c.failing_since),
        else_=None,
    )
    return (
        sa_select(
            tenant_id.label("tenant_id"),
            source.c.name.label("name"),
            source.c.tags.label("tags"),
            status.label("status"),
            col(newest.outcome).label("outcome"),
            col(newest.started_at).label("last_check"),
            col(newest.error_kind).label("error_kind"),
            col(newest.error_message).label("error_message"),
            case((erred, streak_count), else_=0).label("consecutive_errors"),
            col(schedule.next_run_at).label("next_run"),
            (func.coalesce(judged.c.applicable, 0) - func.coalesce(failing.c.drift, 0)).label(
                "passing"
            ),
            func.coalesce(judged.c.applicable, 0).label("applicable"),
            *(func.coalesce(failing.c[s.value], 0).label(s.value) for s in Severity),
            type_coerce(failing_since, UTCDateTime).label("failing_since"),
        )
        .select_from(source)
        .outerjoin(newest, col(newest.id) == newest_id)
        .outerjoin(judged, judged.c.tenant_id == tenant_id)
        .outerjoin(failing, failing.c.tenant_id == tenant_id)
        .outerjoin(schedule, col(schedule.tenant_id) == tenant_id)
        .subquery("derived")
    )


def _judged_by_tenant() -> FromClause:
    """Per tenant, how many rules were judged (pass, fail or waived; unknown could not be and
    a warning is advisory): the score's denominator, as the weekly report counts it. One
    expression per row over the covering index ``ix_finding_state_fleet``: each extra CASE
    costs a pass over every finding of the fleet."""
    s = FindingStateTable
    unjudged = or_(col(s.status) == Status.UNKNOWN.value, col(s.severity) == Severity.WARNING.value)
    return (
        sa_select(
            col(s.tenant_id).label("tenant_id"),
            func.sum(case((unjudged, 0), else_=1)).label("applicable"),
        )
        .group_by(col(s.tenant_id))
        .subquery("judged")
    )


def _failing_by_tenant() -> FromClause:
    """Per tenant, failing findings by severity and the oldest open drift: grouped first over
    the failing rows only (a few per tenant), then turned into one row per tenant."""
    s = FindingStateTable
    grouped = (
        sa_select(
            col(s.tenant_id).label("tenant_id"),
            col(s.severity).label("severity"),
            func.count().label("n"),
            func.min(col(s.first_failed_at)).label("since"),
        )
        .where(col(s.status) == Status.FAIL.value)
        .group_by(col(s.tenant_id), col(s.severity))
        .subquery("failing_rows")
    )
    g = grouped.c
    drift = g.severity != Severity.WARNING.value
    return (
        sa_select(
            g.tenant_id.label("tenant_id"),
            *(
                func.sum(case((g.severity == sev.value, g.n), else_=0)).label(sev.value)
                for sev in Severity
            ),
            func.sum(case((drift, g.n), else_=0)).label("drift"),
            type_coerce(func.min(case((drift, g.since))), UTCDateTime).label("failing_since"),
        )
        .group_by(g.tenant_id)
        .subquery("failing")
    )


def _search(d: Any, search: str | None) -> ColumnElement[bool]:
    """Whether a derived row matches the search text (part of the id or the name)."""
    needle = (search or "").strip().lower()
    if not needle:
        return literal(True)
    return or_(
        func.lower(d.tenant_id).contains(needle, autoescape=True),
        func.lower(d.name).contains(needle, autoescape=True),
    )


def _order(c: Any, sort: FleetSort, reverse: bool) -> list[Any]:
    """ORDER BY for ``sort``: its natural order (``reverse`` flips it), empty values last,
    then by name and id so that pages never overlap."""
    status_rank = case(
        *((c.status == status.value, rank) for rank, status in enumerate(FleetStatus)),
        else_=len(FleetStatus),
    )
    score = case((c.applicable > 0, c.passing * 1.0 / c.applicable), else_=None)
    keys: list[tuple[Any, bool]] = {  # (expression, descending in the natural order)
        FleetSort.NAME: [(func.lower(c.name), False)],
        FleetSort.TENANT: [(c.tenant_id, False)],
        FleetSort.STATUS: [(status_rank, False), (c.critical, True), (c.high, True)],
        FleetSort.SCORE: [(score, False)],
        FleetSort.FINDINGS: [(c[s.value], True) for s in Severity],
        FleetSort.LAST_CHECK: [(c.last_check, True)],
        FleetSort.NEXT_CHECK: [(c.next_run, False)],
        FleetSort.FAILING_SINCE: [(c.failing_since, False)],
    }[sort]
    order = []
    for expression, descending in keys:
        down = descending != reverse
        order.append((expression.desc() if down else expression.asc()).nulls_last())
    return [*order, func.lower(c.name).asc(), c.tenant_id.asc()]


def _fleet_row(row: RowMapping) -> FleetRow:
    tags = tuple(tag for tag in str(row["tags"] or "").split(_TAG_SEPARATOR) if tag)
    return FleetRow(
        tenant_id=row["tenant_id"],
        name=row["name"],
        tags=tags,
        status=FleetStatus(row["status"]),
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        last_check=_utc(row["last_check"]),
        error_kind=row["error_kind"],
        error_message=row["error_message"],
        consecutive_errors=int(row["consecutive_errors"] or 0),
        next_run=_utc(row["next_run"]),
        passing=int(row["passing"]),
        applicable=int(row["applicable"]),
        open=OpenCounts(**{s.value: int(row[s.value]) for s in Severity}),
        failing_since=_utc(row["failing_since"]),
    )


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text from expressions it cannot type
        value = datetime.fromisoformat(value)
    return ensure_utc(value)


# -- the fleet score over time ----------------------------------------------------------------


def fleet_scores_at(
    session: Session, tenant_ids: Sequence[str], moments: Sequence[datetime]
) -> list[tuple[int, int]]:
    """(passing, applicable) over ``tenant_ids`` just before each of ``moments``, scored as
    the weekly report scores a week's end: each rule's last transition before the moment.

    One pass: every transition knows when the next one of its rule replaced it (``lead``), so
    it is in force at a moment when it began before and was not replaced before it.
    """
    if not moments:
        return []
    t = FindingTransitionTable
    replaced = (
        func.lead(col(t.at))
        .over(partition_by=(col(t.tenant_id), col(t.rule_id)), order_by=(col(t.at), col(t.id)))
        .label("replaced_at")
    )
    spans = (
        sa_select(
            col(t.tenant_id).label("tenant_id"),
            col(t.at).label("at"),
            replaced,
            col(t.to_status).label("status"),
            col(t.severity).label("severity"),
        )
        .where(col(t.at) < ensure_utc(max(moments)))
        .subquery("spans")
    )
    s = spans.c
    judged = and_(
        s.severity != Severity.WARNING.value,
        s.status.in_([Status.PASS.value, Status.FAIL.value, Status.WAIVED.value]),
    )
    columns = []
    for index, moment in enumerate(moments):
        at = ensure_utc(moment)
        # replaced_at is compared as written by the database: the same column type as at.
        in_force = and_(
            s.at < at, or_(s.replaced_at.is_(None), type_coerce(s.replaced_at, UTCDateTime) >= at)
        )
        columns.append(func.sum(case((and_(in_force, judged), 1), else_=0)).label(f"a{index}"))
        columns.append(
            func.sum(
                case((and_(in_force, judged, s.status != Status.FAIL.value), 1), else_=0)
            ).label(f"p{index}")
        )
    # The fleet's ids as one JSON parameter, as for the fleet page (thousands of bound values
    # would cost more than the query).
    fleet = _fleet_source(session.get_bind().dialect.name)
    statement = (
        sa_select(*columns).select_from(spans).where(s.tenant_id.in_(sa_select(fleet.c.tenant_id)))
    )
    parameters = {"fleet": encode_fleet([FleetTenant(t, t) for t in tenant_ids])}
    row = _without_jit(session).execute(statement, parameters).mappings().one()
    return [
        (int(row[f"p{index}"] or 0), int(row[f"a{index}"] or 0)) for index in range(len(moments))
    ]


# -- one tenant ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastRun:
    """A tenant's newest check (as of some time): when, how it ended, and why it failed."""

    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    error_kind: str | None
    error_message: str | None
    error_detail: dict[str, Any] | None
    credential_mode: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "outcome": self.outcome.value,
            "error_kind": self.error_kind,
            "error": self.error_message,
            "credential_mode": self.credential_mode,
        }


def last_run(session: Session, tenant_id: str, at: datetime | None = None) -> LastRun | None:
    """The tenant's newest check started at or before ``at`` (now when None)."""
    run = CheckRunTable
    query = select(run).where(run.tenant_id == tenant_id)
    if at is not None:
        query = query.where(col(run.started_at) <= ensure_utc(at))
    row = session.exec(
        query.order_by(col(run.started_at).desc(), col(run.id).desc()).limit(1)
    ).first()
    if row is None:
        return None
    detail = None
    if row.error_detail:
        try:
            loaded = json.loads(row.error_detail)
        except ValueError:
            loaded = None
        detail = loaded if isinstance(loaded, dict) else None
    return LastRun(
        started_at=ensure_utc(row.started_at),
        finished_at=ensure_utc(row.finished_at),
        outcome=Outcome(row.outcome),
        error_kind=row.error_kind,
        error_message=row.error_message,
        error_detail=detail,
        credential_mode=row.credential_mode,
    )


# -- the outbox -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Undelivered:
    """An outbox row not (yet) delivered: waiting, being sent, failed or rejected."""

    id: int
    tenant_id: str
    channel: str
    kind: str
    summary: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant_id,
            "channel": self.channel,
            "kind": self.kind,
            "summary": self.summary,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
        }


UNDELIVERED = (PENDING, SENDING, FAILED, REJECTED)


def undelivered(session: Session, *, limit: int = 200) -> list[Undelivered]:
    """Messages not delivered yet (oldest first, at most ``limit``): what a channel owes."""
    o = OutboxMessage
    query = (
        select(o)
        .where(col(o.status).in_(UNDELIVERED))
        .order_by(col(o.channel), col(o.id))
        .limit(limit)
    )
    return [
        Undelivered(
            id=int(row.id or 0),
            tenant_id=row.tenant_id,
            channel=row.channel,
            kind=row.kind,
            summary=row.summary,
            status=row.status,
            attempts=row.attempts,
            created_at=ensure_utc(row.created_at),
            next_attempt_at=ensure_utc(row.next_attempt_at),
            last_error=row.last_error,
        )
        for row in session.exec(query)
    ]


__all__ = [
    "UNDELIVERED",
    "EncodedFleet",
    "FleetPage",
    "FleetQuery",
    "FleetRow",
    "FleetSort",
    "FleetStatus",
    "FleetTenant",
    "LastRun",
    "OpenCounts",
    "Undelivered",
    "encode_fleet",
    "fleet_page",
    "fleet_scores_at",
    "last_run",
    "undelivered",
]
