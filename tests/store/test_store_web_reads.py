"""The web view's reads on SQLite and PostgreSQL: the fleet as one query (status, score, counts,
failing since; sorted, filtered, searched and paged in the database) and the fleet score at
past moments, which must equal the weekly report's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from store_builders import BASE, at, check, finding, snapshot

from monitor.core.findings import Severity, Status
from monitor.core.options import Waiver
from monitor.store.daemon_tables import write_next_runs
from monitor.store.database import Database
from monitor.store.report_reads import weekly_report
from monitor.store.web_reads import (
    FleetQuery,
    FleetSort,
    FleetStatus,
    FleetTenant,
    fleet_page,
    fleet_scores_at,
    last_run,
    undelivered,
)

FLEET = [
    FleetTenant("acme", "Acme", ("gold", "eu")),
    FleetTenant("bolt", "bolt_100%", ("eu",)),  # LIKE wildcards in a name are text
    FleetTenant("crux", "Crux", ()),
    FleetTenant("dune", "Dune", ("gold",)),  # never checked
]


def build(db: Database) -> None:
    """acme: drift (one critical since minute 10); bolt: compliant; crux: two failed reads
    after a good one (cannot verify, since minute 20); dune: never checked."""
    fine = [finding("r1", Status.PASS), finding("r2", Status.PASS), finding("r3", Status.PASS)]
    for tenant, name in (("acme", "Acme"), ("bolt", "bolt_100%"), ("crux", "Crux")):
        check(db, 0, snapshot(at(0), BASE, tenant=tenant), fine, tenant=tenant, name=name)
    failing = [
        finding("r1", Status.FAIL, severity=Severity.CRITICAL),
        finding("r2", Status.PASS),
        finding("r3", Status.FAIL, severity=Severity.WARNING),
    ]
    check(db, 10, snapshot(at(10), BASE, tenant="acme"), failing, tenant="acme", name="Acme")
    check(db, 20, None, tenant="crux", name="Crux")
    check(db, 30, None, tenant="crux", name="Crux")
    with db.session() as session:
        write_next_runs(session, node_id="n", next_runs={"acme": at(90)}, now=at(30))
        session.commit()


def ids(page: object) -> list[str]:
    return [row.tenant_id for row in page.rows]  # type: ignore[attr-defined]


def test_each_tenant_stands_as_its_newest_check_says(db: Database) -> None:
    build(db)
    with db.session() as session:
        page = fleet_page(session, FLEET, FleetQuery())
    rows = {row.tenant_id: row for row in page.rows}
    assert ids(page) == ["crux", "acme", "dune", "bolt"]  # worst first
    assert rows["acme"].status is FleetStatus.DRIFT
    assert rows["acme"].failing_since == at(10)
    assert (rows["acme"].open.critical, rows["acme"].open.warning) == (1, 1)
    assert (rows["acme"].passing, rows["acme"].applicable) == (1, 2)  # warnings are not judged
    assert rows["acme"].next_run == at(90)
    assert rows["crux"].status is FleetStatus.CANNOT_VERIFY
    assert rows["crux"].failing_since == at(20) and rows["crux"].consecutive_errors == 2
    assert rows["crux"].score == 100.0  # as of its last good read
    assert rows["dune"].status is FleetStatus.NEVER_CHECKED and rows["dune"].last_check is None
    assert rows["bolt"].failing_since is None and rows["bolt"].tags == ("eu",)
    assert page.counts == {
        FleetStatus.CANNOT_VERIFY: 1,
        FleetStatus.DRIFT: 1,
        FleetStatus.NEVER_CHECKED: 1,
        FleetStatus.COMPLIANT: 1,
    }
    assert (page.passing, page.applicable, page.open.critical) == (7, 8, 1)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (FleetQuery(status=FleetStatus.DRIFT), ["acme"]),
        (FleetQuery(tag="gold"), ["acme", "dune"]),
        (FleetQuery(tag="eu", sort=FleetSort.NAME), ["acme", "bolt"]),
        (FleetQuery(tag="g"), []),  # a tag is matched whole
        (FleetQuery(search="CRU"), ["crux"]),
        (FleetQuery(search="100%"), ["bolt"]),
        (FleetQuery(search="_"), ["bolt"]),  # not a LIKE wildcard
        (FleetQuery(search="%"), ["bolt"]),
        (FleetQuery(sort=FleetSort.NAME), ["acme", "bolt", "crux", "dune"]),
        (FleetQuery(sort=FleetSort.NAME, reverse=True), ["dune", "crux", "bolt", "acme"]),
        (FleetQuery(sort=FleetSort.SCORE), ["acme", "bolt", "crux", "dune"]),  # n/a last
        (FleetQuery(sort=FleetSort.FINDINGS), ["acme", "bolt", "crux", "dune"]),
        (FleetQuery(sort=FleetSort.LAST_CHECK), ["crux", "acme", "bolt", "dune"]),
        (FleetQuery(sort=FleetSort.FAILING_SINCE), ["acme", "crux", "bolt", "dune"]),
        (FleetQuery(sort=FleetSort.NEXT_CHECK), ["acme", "bolt", "crux", "dune"]),
    ],
)
def test_filters_and_sorts_run_in_the_database(
    db: Database, query: FleetQuery, expected: list[str]
) -> None:
    build(db)
    with db.session() as session:
        assert ids(fleet_page(session, FLEET, query)) == expected


def test_pages_never_overlap_and_counts_survive_an_empty_page(db: Database) -> None:
    build(db)
    seen = []
    with db.session() as session:
        for page in (1, 2, 3):
            found = fleet_page(session, FLEET, FleetQuery(per_page=2, page=page))
            assert found.total == 4
            seen += ids(found)
        assert ids(found) == [] and found.counts[FleetStatus.DRIFT] == 1
        none = fleet_page(session, FLEET, FleetQuery(status=FleetStatus.DRIFT, search="crux"))
        assert (ids(none), none.total) == ([], 0)
    assert seen == ["crux", "acme", "dune", "bolt"]


@dataclass(frozen=True)
class ReportTenant:
    id: str
    name: str
    waivers: tuple[Waiver, ...] = ()


def test_the_score_at_past_moments_is_the_weekly_reports(db: Database) -> None:
    build(db)
    tenants = [ReportTenant(t.id, t.name) for t in FLEET]
    moments = [at(5), at(15), at(40)]
    with db.session() as session:
        scores = fleet_scores_at(session, [t.id for t in FLEET], moments)
        for moment, (passing, applicable) in zip(moments, scores, strict=True):
            report = weekly_report(
                session, since=moment - timedelta(days=7), until=moment, tenants=tenants,
                now=moment,
            )  # fmt: skip
            assert (passing, applicable) == (report.fleet.passing, report.fleet.applicable)
    assert scores == [(9, 9), (7, 8), (7, 8)]
    with db.session() as session:  # only the tenants asked about count
        assert fleet_scores_at(session, ["acme"], moments) == [(3, 3), (1, 2), (1, 2)]


def test_last_run_and_undelivered(db: Database) -> None:
    build(db)
    with db.session() as session:
        newest = last_run(session, "crux")
        assert newest is not None and newest.error_kind == "connection"
        assert newest.error_detail is not None and newest.error_detail["kind"] == "connection"
        before = last_run(session, "crux", at(15))
        assert before is not None and before.outcome.value == "compliant"
        assert last_run(session, "dune") is None
        assert undelivered(session) == []
