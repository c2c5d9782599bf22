"""The fleet page: every tenant's standing at a glance, sorted, filtered, searched and paged.

Its JSON twin lists the same page of tenants; each row has the keys of a tenant in
``cwdrift status --json`` (tenant, last_check, outcome, error, consecutive_errors, next_run,
open_findings) and adds name, tags, status, score, open_by_severity and failing_since.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from monitor.reports.period import week_ends, zone
from monitor.store import Session
from monitor.store.history import FindingStateRow, open_findings
from monitor.store.web_reads import (
    FleetPage,
    FleetQuery,
    FleetRow,
    FleetSort,
    FleetStatus,
    fleet_page,
)
from monitor.web.charts import TrendPoint, trend_chart
from monitor.web.render import PageError, View
from monitor.web.site import Site

PER_PAGE = 50
MAX_PER_PAGE = 500
TREND_WEEKS = 12
COLUMNS = (  # (sort, heading) of the sortable columns, in table order
    (FleetSort.NAME, "Tenant"),
    (FleetSort.STATUS, "Status"),
    (FleetSort.SCORE, "Score"),
    (FleetSort.FINDINGS, "Open findings"),
    (FleetSort.FAILING_SINCE, "Failing since"),
    (FleetSort.LAST_CHECK, "Last check"),
    (FleetSort.NEXT_CHECK, "Next check"),
)


def fleet_query(params: Mapping[str, str]) -> FleetQuery:
    """The query a request's parameters ask for; a wrong value is a 400 naming the choices."""
    return FleetQuery(
        status=_choice(params, "status", FleetStatus),
        tag=params.get("tag") or None,
        search=(params.get("q") or "").strip() or None,
        sort=_choice(params, "sort", FleetSort) or FleetSort.STATUS,
        reverse=params.get("desc") in ("1", "true"),
        page=_number(params, "page", 1, 1, 1_000_000),
        per_page=_number(params, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
    )


E = TypeVar("E", FleetStatus, FleetSort)


def _choice(params: Mapping[str, str], name: str, kind: type[E]) -> E | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return kind(value.replace("-", "_"))
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise PageError(400, f"{name}={value!r} is not one of: {choices}") from None


def _number(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise PageError(400, f"{name}={value!r} must be a whole number from {low} to {high}")
    return int(value)


@dataclass(frozen=True)
class FleetData:
    page: FleetPage
    findings: dict[str, list[FindingStateRow]]
    trend: list[TrendPoint]


def fleet_view(site: Site, session: Session, query: FleetQuery) -> View:
    now = site.clock()
    fleet = site.fleet()
    page = fleet_page(session, site.encoded_fleet(), query)
    findings: dict[str, list[FindingStateRow]] = {row.tenant_id: [] for row in page.rows}
    for finding in open_findings(session, tenant_ids=list(findings)):
        findings[finding.tenant_id].append(finding)
    trend = _trend(site, session, query, page, now)
    pages = max(1, math.ceil(page.total / query.per_page))
    data = {
        "tenants": [_row_dict(row, findings[row.tenant_id]) for row in page.rows],
        "total": page.total,
        "page": query.page,
        "per_page": query.per_page,
        "pages": pages,
        "filters": {
            "status": query.status.value if query.status else None,
            "tag": query.tag,
            "q": query.search,
            "sort": query.sort.value,
            "desc": query.reverse,
        },
        "counts": {status.value: count for status, count in page.counts.items()},
        "score": {"passing": page.passing, "applicable": page.applicable, "percent": page.score},
        "open_by_severity": page.open.to_dict(),
        "trend": [
            {"week": p.label, "until": p.until.isoformat(), "percent": p.percent} for p in trend
        ],
    }
    tags = sorted({tag for tenant in fleet for tag in tenant.tags})
    context = {
        "page": page,
        "rows": page.rows,
        "findings": findings,
        "query": query,
        "pages": pages,
        "tags": tags,
        "statuses": list(FleetStatus),
        "columns": [
            (
                sort,
                heading,
                _url(query, sort=sort, reverse=query.sort == sort and not query.reverse),
            )
            for sort, heading in COLUMNS
        ],
        "status_links": {
            status: _url(query, status=None if query.status == status else status, page=1)
            for status in FleetStatus
        },
        "all_link": _url(query, status=None, page=1),
        "previous_link": _url(query, page=query.page - 1) if query.page > 1 else None,
        "next_link": _url(query, page=query.page + 1) if query.page < pages else None,
        "json_link": _url(query, format="json"),
        "trend": trend_chart(trend),
        "trend_points": trend,
        "fleet_size": len(fleet),
        "now": now,
    }
    return View("web/fleet.html.j2", context, data, title="Fleet")


def _trend(
    site: Site, session: Session, query: FleetQuery, page: FleetPage, now: datetime
) -> list[TrendPoint]:
    """The score of the tenants the tag filter selects (the whole fleet without one) at the
    end of each of the last weeks, in report.timezone, and now."""
    fleet = [t for t in site.fleet() if query.tag is None or query.tag in t.tags]
    ends = [
        (week, end)
        for week, end in week_ends(now, zone(site.config().config.report.timezone), TREND_WEEKS)
        if end < now
    ]
    past = site.fleet_scores(session, [t.id for t in fleet], [end for _, end in ends])
    points = [
        TrendPoint(week, end, _percent(passing, applicable))
        for (week, end), (passing, applicable) in zip(ends, past, strict=True)
    ]
    now_point = TrendPoint("now", now, _percent(page.scope_passing, page.scope_applicable))
    return [*points, now_point]


def _percent(passing: int, applicable: int) -> float | None:
    return None if applicable == 0 else round(100.0 * passing / applicable, 1)


def _row_dict(row: FleetRow, findings: list[FindingStateRow]) -> dict[str, Any]:
    return {
        "tenant": row.tenant_id,
        "name": row.name,
        "tags": list(row.tags),
        "status": row.status.value,
        "score": row.score,
        "last_check": _iso(row.last_check),
        "outcome": row.outcome.value if row.outcome else None,
        "error": row.error_message,
        "consecutive_errors": row.consecutive_errors,
        "next_run": _iso(row.next_run),
        "failing_since": _iso(row.failing_since),
        "open_by_severity": row.open.to_dict(),
        "open_findings": [
            {
                "rule": f.rule_id,
                "severity": f.severity.value,
                "since": _iso(f.first_failed_at),
                "actual": f.actual,
            }
            for f in findings
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_UNSET: Any = object()


def _url(
    query: FleetQuery,
    *,
    status: FleetStatus | None = _UNSET,
    sort: FleetSort | None = None,
    reverse: bool | None = None,
    page: int | None = None,
    format: str | None = None,
) -> str:
    """The fleet page with ``query`` changed as given (a link keeps the other filters)."""
    changed = replace(
        query,
        status=query.status if status is _UNSET else status,
        sort=sort or query.sort,
        reverse=query.reverse if reverse is None else reverse,
        page=query.page if page is None else page,
    )
    if sort is not None and sort != query.sort:
        changed = replace(changed, page=1)
    params: dict[str, str] = {}
    if changed.status is not None:
        params["status"] = changed.status.value
    if changed.tag:
        params["tag"] = changed.tag
    if changed.search:
        params["q"] = changed.search
    if changed.sort != FleetSort.STATUS:
        params["sort"] = changed.sort.value
    if changed.reverse:
        params["desc"] = "1"
    if changed.page != 1:
        params["page"] = str(changed.page)
    if changed.per_page != PER_PAGE:
        params["per_page"] = str(changed.per_page)
    if format:
        params["format"] = format
    return "/?" + urlencode(params) if params else "/"
