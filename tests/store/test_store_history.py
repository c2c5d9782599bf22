"""History queries over recorded checks: changes, as-of reconstruction, summaries, pruning."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import col, select
from store_builders import BASE, TENANT, at, changed, check, finding, snapshot

from monitor.core.findings import Severity, Status
from monitor.core.snapshot import Snapshot, Value
from monitor.store.database import Database
from monitor.store.history import (
    changes,
    findings_at,
    last_checks,
    open_findings,
    prune_checks,
    snapshot_at,
    tenant_summaries,
    timeline,
)
from monitor.store.runs import Outcome
from monitor.store.tables import CheckRunTable, FindingTransitionTable, SettingChangeTable

FLAG = "accounting.transferExpensesAsBillFlag"
SEGMENT = "gl.segment1type"

# The configurations acme goes through, by minute: three changes by two people.
HISTORY: list[tuple[int, dict[str, Value], dict[str, str]]] = [
    (0, BASE, {}),
    (15, changed(BASE, accounting__transferExpensesAsBillFlag=False), {FLAG: "jsmith"}),
    (
        30,
        changed(BASE, accounting__transferExpensesAsBillFlag=False, gl__segment1type="Class"),
        {FLAG: "jsmith", SEGMENT: "adoe"},
    ),
    (45, changed(BASE, gl__segment1type="Class"), {FLAG: "JSmith2", SEGMENT: "adoe"}),
]


@pytest.fixture
def recorded(db: Database) -> dict[int, Snapshot]:
    """acme's history (plus an unchanged check after each change) and a noisy second tenant."""
    snaps = {}
    for minute, values, who in HISTORY:
        snaps[minute] = snapshot(at(minute), values, who=who)
        check(db, minute, snaps[minute])
        check(db, minute + 5, snapshot(at(minute + 5), values, who=who))
    other = snapshot(at(0), BASE, tenant="other")
    check(db, 0, other, tenant="other")
    check(
        db,
        15,
        snapshot(at(15), changed(BASE, gl__segment1type="Class"), tenant="other"),
        tenant="other",
    )
    return snaps


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [(15, FLAG), (30, SEGMENT), (45, FLAG)]),
        ({"setting": "transfer EXPENSES"}, [(15, FLAG), (45, FLAG)]),  # label
        ({"setting": "SEGMENT1type"}, [(30, SEGMENT)]),  # key
        ({"setting": "gl."}, [(30, SEGMENT)]),
        ({"setting": "%"}, []),  # LIKE wildcards are literal
        ({"since": at(30)}, [(30, SEGMENT), (45, FLAG)]),  # inclusive
        ({"until": at(30)}, [(15, FLAG), (30, SEGMENT)]),  # inclusive
        ({"since": at(16), "until": at(44)}, [(30, SEGMENT)]),
        ({"who": "jsmith"}, [(15, FLAG), (45, FLAG)]),  # case-insensitive substring
        ({"who": "adoe"}, [(30, SEGMENT)]),
        ({"who": "nobody"}, []),
        ({"setting": "transfer", "who": "2"}, [(45, FLAG)]),
        ({"limit": 2}, [(15, FLAG), (30, SEGMENT)]),
    ],
    ids=lambda value: str(value) if isinstance(value, dict) else "",
)
def test_changes_filters(
    db: Database,
    recorded: dict[int, Snapshot],
    filters: dict[str, object],
    expected: list[tuple[int, str]],
) -> None:
    with db.session() as session:
        rows = changes(session, TENANT, **filters)  # type: ignore[arg-type]
    assert [(row.observed_at, row.key) for row in rows] == [
        (at(minute), key) for minute, key in expected
    ]


def test_change_rows_carry_values_and_attribution(
    db: Database, recorded: dict[int, Snapshot]
) -> None:
    with db.session() as session:
        first = changes(session, TENANT)[0]
        run_ids = set(session.exec(select(SettingChangeTable.run_id)).all())
    assert (first.label, first.old, first.new) == ("Transfer Expenses as Bill", True, False)
    assert (first.changed_by, first.changed_at) == ("jsmith", at(15).isoformat())
    assert first.run_id in run_ids


@pytest.mark.parametrize(
    ("when", "expected_minute"),
    [
        (at(-1), None),  # before the first observation
        (at(0), 0),
        (at(14), 0),
        (at(15), 15),
        (at(29), 15),
        (at(31), 30),
        (at(500), 45),
    ],
)
def test_snapshot_at_reconstructs_exactly(
    db: Database, recorded: dict[int, Snapshot], when: datetime, expected_minute: int | None
) -> None:
    with db.session() as session:
        found = snapshot_at(session, TENANT, when)
    assert found == (None if expected_minute is None else recorded[expected_minute])


def test_findings_at_uses_the_last_transition_at_or_before(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE), [finding("a", Status.FAIL), finding("b", Status.PASS)])
    check(db, 15, snapshot(at(15), BASE), [finding("a", Status.PASS), finding("b", Status.PASS)])
    check(db, 30, snapshot(at(30), BASE), [finding("a", Status.PASS), finding("b", Status.WAIVED)])
    with db.session() as session:
        before = findings_at(session, TENANT, at(-1))
        early = findings_at(session, TENANT, at(10))
        middle = findings_at(session, TENANT, at(15))
        late = findings_at(session, TENANT, at(60))
    assert before == {}
    assert {r: (f.status, f.at) for r, f in early.items()} == {
        "a": (Status.FAIL, at(0)),
        "b": (Status.PASS, at(0)),
    }
    assert {r: (f.status, f.at) for r, f in middle.items()} == {
        "a": (Status.PASS, at(15)),
        "b": (Status.PASS, at(0)),
    }
    assert {r: f.status for r, f in late.items()} == {"a": Status.PASS, "b": Status.WAIVED}
    assert (late["b"].severity, late["b"].label) == (Severity.HIGH, "label of b")


def test_open_findings_lists_failing_rules_with_their_streak(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE), [finding("a", Status.FAIL), finding("b", Status.PASS)])
    check(
        db,
        0,
        snapshot(at(0), BASE, tenant="other"),
        [finding("c", Status.FAIL, severity=Severity.WARNING)],
        tenant="other",
    )
    check(db, 15, snapshot(at(15), BASE), [finding("a", Status.FAIL), finding("b", Status.FAIL)])
    with db.session() as session:
        acme = open_findings(session, TENANT)
        everyone = open_findings(session)
    assert [(f.rule_id, f.first_failed_at, f.status) for f in acme] == [
        ("a", at(0), Status.FAIL),
        ("b", at(15), Status.FAIL),
    ]
    assert [(f.tenant_id, f.rule_id) for f in everyone] == [
        ("acme", "a"),
        ("acme", "b"),
        ("other", "c"),
    ]
    assert acme[0].keys == ("permission.finance.accounting_interface.add",)


def test_tenant_summaries_and_last_checks(db: Database) -> None:
    # acme: good, then two failed reads. beta: failed read, then a good read with drift.
    # gamma: only failed reads. delta: good, failed, good again.
    check(db, 0, snapshot(at(0), BASE), [finding("a", Status.FAIL)])
    check(db, 15, None)
    check(db, 30, None)
    check(db, 0, None, tenant="beta", name="Beta")
    check(
        db,
        15,
        snapshot(at(15), BASE, tenant="beta"),
        [
            finding("a", Status.FAIL),
            finding("b", Status.FAIL),
            finding("w", Status.FAIL, severity=Severity.WARNING),
        ],
        tenant="beta",
        name="Beta",
    )
    check(db, 0, None, tenant="gamma", name="Gamma")
    check(db, 20, None, tenant="gamma", name="Gamma")
    check(db, 0, snapshot(at(0), BASE, tenant="delta"), [], tenant="delta", name="Delta")
    check(db, 10, None, tenant="delta", name="Delta")
    check(db, 20, snapshot(at(20), BASE, tenant="delta"), [], tenant="delta", name="Delta")
    with db.session() as session:
        summaries = {s.tenant_id: s for s in tenant_summaries(session)}
        last = last_checks(session)
    rows = {
        tenant: (
            s.name,
            s.last_started_at,
            s.outcome,
            s.error_kind,
            s.open_drift,
            s.consecutive_errors,
        )
        for tenant, s in summaries.items()
    }
    assert rows == {
        "acme": ("Acme", at(30), Outcome.ERROR, "connection", 1, 2),
        "beta": ("Beta", at(15), Outcome.DRIFT, None, 2, 0),
        "delta": ("Delta", at(20), Outcome.COMPLIANT, None, 0, 0),
        "gamma": ("Gamma", at(20), Outcome.ERROR, "connection", 0, 2),
    }
    assert summaries["acme"].error_message is not None
    assert "cannot reach" in summaries["acme"].error_message
    assert summaries["beta"].last_finished_at is not None
    assert summaries["beta"].last_finished_at > at(15)
    assert last == {"acme": at(30), "beta": at(15), "delta": at(20), "gamma": at(20)}


def test_prune_keeps_changes_transitions_and_boundaries(db: Database) -> None:
    rule = [finding("a", Status.PASS)]
    failing = [finding("a", Status.FAIL)]
    plan: list[tuple[int, str]] = [
        (0, "base"),  # first run: kept
        (10, "base"),  # redundant
        (20, "base"),  # redundant
        (30, "base"),  # last before the error streak: kept
        (40, "error"),  # error streak start: kept
        (50, "error"),  # redundant
        (60, "error"),  # error streak end: kept
        (70, "changed"),  # a change and a transition: kept
        (80, "changed"),  # redundant
        (90, "changed"),  # redundant: the stretch goes on after the horizon
        (200, "changed"),  # after the horizon: kept
    ]
    for minute, kind in plan:
        if kind == "error":
            check(db, minute, None)
        elif kind == "base":
            check(db, minute, snapshot(at(minute), BASE), rule)
        else:
            values = changed(BASE, gl__segment1type="Class")
            check(db, minute, snapshot(at(minute), values), failing)
    with db.session() as session:
        deleted = prune_checks(session, older_than=at(100))
    with db.session() as session:
        kept = session.exec(select(CheckRunTable.started_at).order_by(col(CheckRunTable.id))).all()
        transitions = session.exec(select(FindingTransitionTable)).all()
        change_rows = session.exec(select(SettingChangeTable)).all()
    assert deleted == 5
    assert kept == [at(m) for m in (0, 30, 40, 60, 70, 200)]
    assert len(transitions) == 2 and len(change_rows) == 1
    with db.session() as session:
        assert prune_checks(session, older_than=at(100)) == 0


def test_timeline_of_one_setting(db: Database, recorded: dict[int, Snapshot]) -> None:
    with db.session() as session:
        flag = timeline(session, TENANT, FLAG)
        segment = timeline(session, TENANT, SEGMENT)
        missing = timeline(session, TENANT, "gl.segment9type")
    assert [(p.value, p.start, p.end, p.changed_by) for p in flag] == [
        (True, at(0), at(15), None),
        (False, at(15), at(45), "jsmith"),
        (True, at(45), None, "JSmith2"),
    ]
    assert [(p.value, p.start, p.end, p.changed_by) for p in segment] == [
        ("Account", at(0), at(30), None),
        ("Class", at(30), None, "adoe"),
    ]
    assert all(p.present and p.unknown is None for p in flag)
    assert flag[0].label == "Transfer Expenses as Bill"
    assert missing == []


def test_timeline_marks_absent_and_unreadable_periods(db: Database) -> None:
    key = "customize.invoicing/billing_status"
    check(db, 0, snapshot(at(0), {**BASE, key: True}))
    check(db, 15, snapshot(at(15), BASE, unknown={"customize": "auditor credentials"}))
    check(db, 30, snapshot(at(30), BASE))
    with db.session() as session:
        periods = timeline(session, TENANT, key)
    assert [(p.start, p.end, p.present, p.unknown) for p in periods] == [
        (at(0), at(15), True, None),
        (at(15), at(30), False, "auditor credentials"),
        (at(30), None, False, None),
    ]
