"""record_run: snapshots stored only on change, changes kept, finding states and transitions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select
from store_builders import (
    BASE,
    TENANT,
    at,
    changed,
    check,
    finding,
    read_error,
    snapshot,
)

from monitor.core.findings import Finding, Severity, Status
from monitor.store.database import Database
from monitor.store.runs import (
    Outcome,
    StoredTenant,
    latest_snapshot,
    latest_snapshot_hash,
    record_run,
    stored_tenant,
)
from monitor.store.tables import (
    CheckRunTable,
    FindingStateTable,
    FindingTransitionTable,
    SettingChangeTable,
    SnapshotTable,
    TenantTable,
)
from monitor.store.waivers import add_waiver


def count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_first_snapshot_is_stored_and_read_back_exactly(db: Database) -> None:
    first = snapshot(at(0), BASE)
    record = check(db, 0, first)
    assert record.snapshot_stored is True
    assert record.outcome is Outcome.COMPLIANT
    with db.session() as session:
        assert latest_snapshot(session, TENANT) == first
        assert count(session, SnapshotTable) == 1
        run = session.get(CheckRunTable, record.run_id)
        assert run is not None
        assert (run.outcome, run.credential_mode, run.error_kind) == (
            "compliant",
            "integration",
            None,
        )


def test_unchanged_check_writes_a_run_row_only(db: Database) -> None:
    first = check(db, 0, snapshot(at(0), BASE))
    second = check(db, 15, snapshot(at(15), BASE))
    assert second.snapshot_stored is False
    with db.session() as session:
        assert count(session, SnapshotTable) == 1
        assert count(session, CheckRunTable) == 2
        assert count(session, SettingChangeTable) == 0
        runs = session.exec(select(CheckRunTable).order_by(col(CheckRunTable.id))).all()
        assert runs[0].snapshot_id == runs[1].snapshot_id
        # The stored snapshot keeps the time the content was first seen.
        assert latest_snapshot(session, TENANT).collected_at == at(0)  # type: ignore[union-attr]
    assert first.run_id != second.run_id


def test_changed_check_stores_snapshot_and_changes_with_who(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE))
    new = snapshot(
        at(15),
        changed(BASE, accounting__transferExpensesAsBillFlag=False),
        who={"accounting.transferExpensesAsBillFlag": "jsmith"},
    )
    record = check(db, 15, new)
    assert record.snapshot_stored is True
    with db.session() as session:
        assert count(session, SnapshotTable) == 2
        rows = session.exec(select(SettingChangeTable)).all()
    assert [(r.key, json.loads(r.old), json.loads(r.new), r.changed_by) for r in rows] == [
        ("accounting.transferExpensesAsBillFlag", True, False, "jsmith")
    ]
    assert rows[0].run_id == record.run_id
    assert rows[0].observed_at == at(15)
    assert rows[0].changed_at == at(15).isoformat()


def test_reverting_to_an_earlier_configuration_stores_it_again(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE))
    check(db, 15, snapshot(at(15), changed(BASE, gl__segment1type="Class")))
    record = check(db, 30, snapshot(at(30), BASE))
    assert record.snapshot_stored is True
    with db.session() as session:
        assert latest_snapshot(session, TENANT).collected_at == at(30)  # type: ignore[union-attr]


def test_tenant_row_is_upserted_and_renamed(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE), name="Acme")
    check(db, 15, None, name="Acme Corp")
    with db.session() as session:
        tenants = session.exec(select(TenantTable)).all()
    assert [(t.id, t.name, t.first_seen_at) for t in tenants] == [("acme", "Acme Corp", at(0))]


def test_error_run_records_the_typed_error_and_leaves_findings_alone(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE), [finding("r.fail", Status.FAIL)])
    with db.session() as session:
        before = session.exec(select(FindingStateTable)).one().model_dump()
    record = check(db, 15, None)
    assert record.outcome is Outcome.ERROR
    assert (record.snapshot_stored, record.transitions, record.previous_states) == (False, [], {})
    with db.session() as session:
        run = session.get(CheckRunTable, record.run_id)
        after = session.exec(select(FindingStateTable)).one().model_dump()
        assert count(session, FindingTransitionTable) == 1
        assert count(session, SnapshotTable) == 1
    assert after == before
    assert run is not None
    assert (run.outcome, run.error_kind, run.snapshot_id) == ("error", "connection", None)
    assert run.error_message == str(read_error())
    assert json.loads(run.error_detail or "") == read_error().as_dict()


@pytest.mark.parametrize(
    ("findings", "outcome"),
    [
        ([], Outcome.COMPLIANT),
        ([finding("r", Status.PASS)], Outcome.COMPLIANT),
        ([finding("r", Status.FAIL, severity=Severity.WARNING)], Outcome.COMPLIANT),
        ([finding("r", Status.UNKNOWN)], Outcome.COMPLIANT),
        ([finding("r", Status.WAIVED)], Outcome.COMPLIANT),
        ([finding("r", Status.PASS), finding("s", Status.FAIL)], Outcome.DRIFT),
    ],
    ids=["none", "pass", "warning", "unknown", "waived", "one-fail"],
)
def test_outcome_is_drift_iff_a_finding_is_drift(
    db: Database, findings: list[Finding], outcome: Outcome
) -> None:
    assert check(db, 0, snapshot(at(0), BASE), findings).outcome is outcome


def test_snapshot_and_error_together_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="exactly one"), db.session() as session:
        record_run(
            session,
            tenant_id=TENANT,
            tenant_name="Acme",
            started_at=at(0),
            finished_at=at(0),
            snapshot=snapshot(at(0), BASE),
            changes=[],
            findings=[],
            error=read_error(),
        )


def test_fail_pass_fail_transitions_with_streaks_and_resolution(db: Database) -> None:
    rule = "permission.finance.accounting_interface.add"
    first = check(db, 0, snapshot(at(0), BASE), [finding(rule, Status.FAIL, actual="None")])
    assert [(t.from_status, t.to_status, t.first_failed_at) for t in first.transitions] == [
        (None, Status.FAIL, at(0))
    ]
    assert first.previous_states == {}

    still = check(db, 15, snapshot(at(15), BASE), [finding(rule, Status.FAIL, actual="None")])
    assert still.transitions == []
    assert still.previous_states == {rule: Status.FAIL}

    fixed = check(db, 30, snapshot(at(30), BASE), [finding(rule, Status.PASS, actual="All")])
    (resolved,) = fixed.transitions
    assert (resolved.from_status, resolved.to_status) == (Status.FAIL, Status.PASS)
    assert (resolved.first_failed_at, resolved.previous_resolved_at) == (None, None)

    again = check(db, 45, snapshot(at(45), BASE), [finding(rule, Status.FAIL, actual="My")])
    (regressed,) = again.transitions
    assert (regressed.from_status, regressed.to_status) == (Status.PASS, Status.FAIL)
    assert regressed.first_failed_at == at(45)
    assert regressed.previous_resolved_at == at(30)
    assert (regressed.actual, regressed.severity, regressed.label) == (
        "My",
        Severity.HIGH,
        f"label of {rule}",
    )

    with db.session() as session:
        state = session.get(FindingStateTable, (TENANT, rule))
        history = session.exec(
            select(FindingTransitionTable.from_status, FindingTransitionTable.to_status).order_by(
                col(FindingTransitionTable.id)
            )
        ).all()
    assert state is not None
    assert (state.status, state.first_failed_at, state.resolved_at) == ("fail", at(45), at(30))
    assert (state.last_seen_at, state.last_changed_at, state.actual) == (at(45), at(45), "My")
    assert json.loads(state.keys) == [rule]
    assert history == [(None, "fail"), ("fail", "pass"), ("pass", "fail")]


def test_unchanged_findings_are_not_rewritten(db: Database) -> None:
    """An unchanged check writes its run row only: no finding-state or tenant row versions."""
    findings = [finding("a", Status.PASS), finding("b", Status.FAIL)]
    check(db, 0, snapshot(at(0), BASE), findings)
    record = check(db, 15, snapshot(at(15), BASE), findings)
    assert record.transitions == []
    with db.session() as session:
        states = session.exec(select(FindingStateTable).order_by(FindingStateTable.rule_id)).all()
    assert [(s.rule_id, s.last_seen_at, s.last_changed_at) for s in states] == [
        ("a", at(0), at(0)),
        ("b", at(0), at(0)),
    ]
    assert states[1].first_failed_at == at(0)


def test_unknown_neither_resolves_nor_restarts_a_failing_streak(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE), [finding("r", Status.FAIL)])
    check(db, 15, snapshot(at(15), BASE), [finding("r", Status.UNKNOWN)])
    back = check(db, 30, snapshot(at(30), BASE), [finding("r", Status.FAIL)])
    assert back.transitions[0].first_failed_at == at(0)
    assert back.previous_states == {"r": Status.UNKNOWN}
    with db.session() as session:
        state = session.get(FindingStateTable, (TENANT, "r"))
    assert state is not None
    assert (state.first_failed_at, state.resolved_at) == (at(0), None)


def test_failing_value_change_updates_state_without_a_transition(db: Database) -> None:
    check(db, 0, snapshot(at(0), BASE), [finding("r", Status.FAIL, actual="None")])
    record = check(db, 15, snapshot(at(15), BASE), [finding("r", Status.FAIL, actual="My")])
    assert record.transitions == []
    with db.session() as session:
        state = session.get(FindingStateTable, (TENANT, "r"))
    assert state is not None
    assert (state.actual, state.first_failed_at, state.last_seen_at) == ("My", at(0), at(15))


def test_record_check_joins_the_callers_transaction(db: Database) -> None:
    """Nothing is committed when the caller's transaction fails (e.g. enqueueing alerts)."""
    with pytest.raises(RuntimeError), db.session() as session:
        record_run(
            session,
            tenant_id=TENANT,
            tenant_name="Acme",
            started_at=at(0),
            finished_at=at(0),
            snapshot=snapshot(at(0), BASE),
            changes=[],
            findings=[finding("r", Status.FAIL)],
            error=None,
        )
        raise RuntimeError("outbox failed")
    with db.session() as session:
        assert count(session, CheckRunTable) == 0
        assert count(session, TenantTable) == 0


def test_database_record_check_commits(db: Database) -> None:
    record = db.record_run(
        tenant_id=TENANT,
        tenant_name="Acme",
        started_at=at(0),
        finished_at=at(0),
        snapshot=None,
        changes=[],
        findings=None,
        error=read_error(),
    )
    with db.session() as session:
        assert session.get(CheckRunTable, record.run_id) is not None


def test_rules_no_longer_evaluated_stop_counting_as_open(db: Database) -> None:
    """E.g. least_privilege switched off: its warning is not re-evaluated, so it is retired."""
    check(
        db, 0, snapshot(at(0), BASE), [finding("kept", Status.PASS), finding("gone", Status.FAIL)]
    )
    record = check(db, 15, snapshot(at(15), BASE), [finding("kept", Status.PASS)])
    assert record.retired_rules == ["gone"]
    assert record.transitions == []
    with db.session() as session:
        rules = session.exec(select(FindingStateTable.rule_id)).all()
        assert count(session, FindingTransitionTable) == 2  # history is kept
    assert rules == ["kept"]


def test_stored_tenant_knows_name_latest_snapshot_and_waivers(db: Database) -> None:
    """One query tells a check what it may skip: the tenant upsert, the diff, the waiver read."""
    with db.session() as session:
        assert stored_tenant(session, TENANT) == StoredTenant(None, None, None, has_waivers=True)
    first = snapshot(at(0), BASE)
    check(db, 0, first)
    later = snapshot(at(15), changed(BASE, gl__segment1type="Class"))
    check(db, 15, later)
    check(db, 30, snapshot(at(30), changed(BASE, gl__segment1type="Class")), name="Acme Corp")
    with db.session() as session:
        stored = stored_tenant(session, TENANT)
        latest_id = session.exec(select(func.max(SnapshotTable.id))).one()
        assert stored == StoredTenant("Acme Corp", latest_id, later.content_hash, False)
        assert latest_snapshot_hash(session, TENANT) == later.content_hash
        add_waiver(
            session, tenant_id=TENANT, rule="r", value="x", reason="accepted", accepted_by="ana",
            expires=at(60), now=at(31),
        )  # fmt: skip
        assert stored_tenant(session, TENANT).has_waivers is True
        assert stored_tenant(session, "globex").has_waivers is True  # unknown: read them


def test_giving_the_stored_tenant_records_what_reading_it_inside_would(db: Database) -> None:
    """jobs read stored_tenant once and pass it on; record_run reads it when not given."""
    check(db, 0, snapshot(at(0), BASE), [finding("r", Status.FAIL)])
    with db.session() as session:
        given = record_run(
            session,
            tenant_id=TENANT,
            tenant_name="Acme",
            started_at=at(15),
            finished_at=at(15),
            snapshot=snapshot(at(15), BASE),
            changes=[],
            findings=[finding("r", Status.PASS)],
            error=None,
            stored=stored_tenant(session, TENANT),
        )
    read = check(db, 30, snapshot(at(30), BASE), [finding("r", Status.FAIL)])
    assert (given.snapshot_stored, read.snapshot_stored) == (False, False)
    assert [t.to_status for t in (*given.transitions, *read.transitions)] == [
        Status.PASS,
        Status.FAIL,
    ]
    with db.session() as session:
        runs = session.exec(select(CheckRunTable).order_by(col(CheckRunTable.id))).all()
        assert count(session, SnapshotTable) == 1
        assert count(session, TenantTable) == 1
    assert len({run.snapshot_id for run in runs}) == 1
