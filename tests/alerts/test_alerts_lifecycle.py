"""The alert lifecycle as tables of checks: what each check must say, and nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alert_builders import (
    ACME,
    EXPENSE_RULE,
    INVOICING_RULE,
    T0,
    Step,
    finding,
    hours,
    policy,
    revoked_keys,
    run_steps,
)

from monitor.alerts.config import Silence
from monitor.alerts.lifecycle import ACCEPTED_DEVIATION, NO_LONGER_CHECKED, Plan, plan_alerts
from monitor.alerts.model import COLLECTION_KEY, AlertState, AlertStatus, EventKind
from monitor.core.findings import Change, Severity, Status
from monitor.errors import ServerError

FAIL = [finding(Status.FAIL)]
PASS = [finding(Status.PASS)]
UNKNOWN = [finding(Status.UNKNOWN, actual=None)]
WAIVED = [finding(Status.WAIVED)]
ERR = revoked_keys()
NEW = ("new", EXPENSE_RULE)
RESOLVED = ("resolved", EXPENSE_RULE)
REGRESSED = ("regressed", EXPENSE_RULE)
REMINDER = ("reminder", EXPENSE_RULE)
CANNOT = ("cannot_verify", COLLECTION_KEY)
RECOVERED = ("recovered", COLLECTION_KEY)

SCENARIOS = {
    "new failure opens one alert": [Step(T0, FAIL, expect=[NEW])],
    "still failing says nothing": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), FAIL),
        Step(hours(2), FAIL),
    ],
    "daily reminder, once per day": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(23), FAIL),
        Step(hours(24), FAIL, expect=[REMINDER]),
        Step(hours(25), FAIL),
        Step(hours(48), FAIL, expect=[REMINDER]),
    ],
    "passing resolves once": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), PASS, expect=[RESOLVED]),
        Step(hours(2), PASS),
    ],
    "failing again regresses": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), PASS, expect=[RESOLVED]),
        Step(hours(50), FAIL, expect=[REGRESSED]),
    ],
    "flapping says new, resolved, regressed once each": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), PASS, expect=[RESOLVED]),
        Step(hours(2), FAIL, expect=[REGRESSED]),
        Step(hours(3), FAIL),
    ],
    "unknown never opens": [Step(T0, UNKNOWN), Step(hours(30), UNKNOWN)],
    "unknown neither resolves nor reminds": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), UNKNOWN),
        Step(hours(48), UNKNOWN),
        Step(hours(49), PASS, expect=[RESOLVED]),
    ],
    "waived never opens": [Step(T0, WAIVED)],
    "waived resolves an open alert": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), WAIVED, expect=[RESOLVED]),
    ],
    "warning severity never alerts": [
        Step(T0, [finding(Status.FAIL, severity=Severity.WARNING)]),
        Step(hours(48), [finding(Status.FAIL, severity=Severity.WARNING)]),
    ],
    "collection fails: cannot verify at the threshold, once": [
        Step(T0, error=ERR),
        Step(hours(1), error=ERR),
        Step(hours(2), error=ERR, expect=[CANNOT]),
        Step(hours(3), error=ERR),
        Step(hours(50), error=ERR),
        Step(hours(51), PASS, expect=[RECOVERED]),
    ],
    "failures below the threshold stay quiet, also on success": [
        Step(T0, error=ERR),
        Step(hours(1), error=ERR),
        Step(hours(2), PASS),
        Step(hours(3), error=ERR),
        Step(hours(4), error=ERR),
    ],
    "an unreadable tenant keeps its drift alerts untouched": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), error=ERR),
        Step(hours(2), error=ERR),
        Step(hours(30), error=ERR, expect=[CANNOT]),
        Step(hours(40), error=ERR),
        # readable again: the drift reminder that was held back, and the recovery
        Step(hours(41), FAIL, expect=[REMINDER, RECOVERED]),
    ],
    "an unreadable tenant's drift is not resolved by the failure": [
        Step(T0, FAIL, expect=[NEW]),
        Step(hours(1), error=ERR),
        Step(hours(2), PASS, expect=[RESOLVED]),
    ],
}


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_lifecycle_scenarios(steps: list[Step]) -> None:
    run_steps(steps)


def test_reminders_off() -> None:
    run_steps([Step(T0, FAIL, expect=[NEW]), Step(hours(200), FAIL)], config=policy(reminder=None))


def test_failure_threshold_is_configurable() -> None:
    run_steps([Step(T0, error=ERR, expect=[CANNOT])], config=policy(failure_threshold=1))


def test_regressed_names_when_it_was_last_resolved() -> None:
    plans, _ = run_steps(
        [
            Step(T0, FAIL, expect=[NEW]),
            Step(hours(1), PASS, expect=[RESOLVED]),
            Step(hours(5), FAIL, expect=[REGRESSED]),
        ]
    )
    assert plans[2].group is not None
    (event,) = plans[2].group.events
    assert event.last_resolved_at == hours(1)
    assert event.first_seen == hours(5)


def test_waived_resolution_says_accepted_deviation() -> None:
    plans, _ = run_steps([Step(T0, FAIL, expect=[NEW]), Step(hours(1), WAIVED, expect=[RESOLVED])])
    assert plans[1].group is not None
    assert plans[1].group.events[0].note == ACCEPTED_DEVIATION


def test_reminder_keeps_first_seen() -> None:
    plans, _ = run_steps([Step(T0, FAIL, expect=[NEW]), Step(hours(24), FAIL, expect=[REMINDER])])
    assert plans[1].group is not None
    assert plans[1].group.events[0].first_seen == T0


def test_cannot_verify_names_the_error_kind_message_and_fix() -> None:
    plans, states = run_steps(
        [Step(T0, error=ERR, expect=[CANNOT])], config=policy(failure_threshold=1)
    )
    assert plans[0].group is not None
    (event,) = plans[0].group.events
    assert event.label == "cannot verify tenant Acme MSP"
    assert event.error == {
        "kind": "auth",
        "message": "ConnectWise rejected the API keys of member GozyntaAPI",
        "fix": "generate new API keys for the member and update private_key in the config",
        "endpoint": "/system/info",
        "status": "401",
    }
    assert event.remediation == ERR.fix
    assert states[0].consecutive_failures == 1


def test_failing_tenant_leaves_drift_state_exactly_as_it_was() -> None:
    _, before = run_steps([Step(T0, FAIL, expect=[NEW])])
    _, after = run_steps(
        [
            Step(T0, FAIL, expect=[NEW]),
            Step(hours(30), error=ServerError("HTTP 503", endpoint="/system/info")),
        ]
    )
    drift = [s for s in after if s.alert_key == EXPENSE_RULE]
    assert drift == [s for s in before if s.alert_key == EXPENSE_RULE]
    collection = [s for s in after if s.alert_key == COLLECTION_KEY]
    assert collection[0].consecutive_failures == 1
    assert collection[0].status is AlertStatus.RESOLVED


def test_one_group_per_check_carries_everything() -> None:
    second = finding(
        Status.FAIL, rule=INVOICING_RULE, severity=Severity.HIGH, label="Invoicing Edit is All"
    )
    plans, _ = run_steps(
        [
            Step(T0, [finding(Status.FAIL)], expect=[NEW]),
            Step(
                hours(1),
                [finding(Status.PASS), second],
                expect=[("new", INVOICING_RULE), RESOLVED],
            ),
        ]
    )
    group = plans[1].group
    assert group is not None
    assert group.severity is Severity.CRITICAL  # the worst item, even a resolved one
    assert group.count(EventKind.NEW, EventKind.RESOLVED) == 2


def test_rule_dropped_from_baseline_resolves_with_a_note() -> None:
    plans, _ = run_steps([Step(T0, FAIL, expect=[NEW]), Step(hours(1), [], expect=[RESOLVED])])
    assert plans[1].group is not None
    assert plans[1].group.events[0].note == NO_LONGER_CHECKED


def test_who_changed_it_comes_from_setting_info_or_changes() -> None:
    key = "accounting.transferExpensesAsBillFlag"
    plan = plan_alerts(
        tenant=ACME,
        previous=[],
        findings=FAIL,
        error=None,
        changes=[Change(key, "Transfer Expenses as a Bill", False, True, "jdoe", "2026-03-02")],
        who={},
        policy=policy(),
        now=T0,
    )
    assert plan.group is not None
    event = plan.group.events[0]
    assert (event.changed_by, event.changed_at) == ("jdoe", "2026-03-02")
    plan = plan_alerts(
        tenant=ACME,
        previous=[],
        findings=FAIL,
        error=None,
        who={key: ("asmith", "2026-03-01T10:00:00Z")},
        policy=policy(),
        now=T0,
    )
    assert plan.group is not None
    assert plan.group.events[0].changed_by == "asmith"


def test_exactly_one_of_findings_or_error() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        plan_alerts(tenant=ACME, previous=[], findings=None, error=None, policy=policy(), now=T0)


# -- silences ---------------------------------------------------------------------------------


def silence(tenant: str | None = "acme", rule: str | None = None, until: float = 10) -> Silence:
    return Silence(tenant=tenant, rule=rule, reason="migration", author="ana", expires=hours(until))


SILENCE_SCENARIOS = {
    "a rule silence swallows the opening, expiry delivers it once": (
        [silence(rule=EXPENSE_RULE)],
        [
            Step(T0, FAIL),
            Step(hours(5), FAIL),
            Step(hours(11), FAIL, expect=[NEW]),
            Step(hours(12), FAIL),
        ],
    ),
    "a tenant silence also mutes cannot-verify": (
        [silence(until=3)],
        [
            Step(T0, error=ERR),
            Step(hours(1), error=ERR),
            Step(hours(2), error=ERR),
            Step(hours(4), error=ERR, expect=[CANNOT]),
        ],
    ),
    "resolved while silenced and never told: no message": (
        [silence()],
        [Step(T0, FAIL), Step(hours(1), PASS), Step(hours(11), PASS)],
    ),
    "another tenant's silence does not apply": (
        [silence(tenant="globex")],
        [Step(T0, FAIL, expect=[NEW])],
    ),
    "an expired silence does not apply": (
        [silence(until=-1)],
        [Step(T0, FAIL, expect=[NEW])],
    ),
    "another rule's silence does not apply": (
        [silence(rule=INVOICING_RULE)],
        [Step(T0, FAIL, expect=[NEW])],
    ),
}


@pytest.mark.parametrize(("silences", "steps"), SILENCE_SCENARIOS.values(), ids=SILENCE_SCENARIOS)
def test_silence_scenarios(silences: list[Silence], steps: list[Step]) -> None:
    run_steps(steps, silences=silences)


def plan_step(step: Step, previous: list[AlertState], silences: list[Silence]) -> Plan:
    return plan_alerts(
        tenant=ACME,
        previous=previous,
        findings=step.findings,
        error=step.error,
        policy=policy(),
        now=step.at,
        silences=silences,
    )


def test_a_plan_that_consulted_no_silence_is_the_plan_with_every_silence() -> None:
    """The outbox plans without the database's silences and reads them only when consulted."""
    consulted = []
    for silences, steps in SILENCE_SCENARIOS.values():
        states: list[AlertState] = []
        for step in steps:
            with_silences = plan_step(step, states, silences)
            without = plan_step(step, states, [])
            consulted.append(without.consulted_silences)
            if not without.consulted_silences:
                assert without == with_silences
            states = list(with_silences.states)
    assert set(consulted) == {True, False}  # both ways were taken


def test_still_failing_and_already_told_needs_no_silence() -> None:
    plans, _ = run_steps(
        [
            Step(T0, FAIL, expect=[NEW]),
            Step(hours(1), FAIL),
            Step(hours(2), PASS, expect=[RESOLVED]),
        ]
    )
    assert [p.consulted_silences for p in plans] == [True, False, True]


def test_silence_added_after_announcement_marks_the_late_reminder() -> None:
    states = run_steps([Step(T0, FAIL, expect=[NEW])])[1]
    quiet = [silence(until=30)]  # silence starts after the alert was announced
    plans, states = run_steps(
        [Step(hours(24), FAIL), Step(hours(29), FAIL)], silences=quiet, previous=states
    )
    assert states[0].silenced_until == hours(30)
    plans, _ = run_steps([Step(hours(31), FAIL, expect=[REMINDER])], previous=states)
    assert plans[0].group is not None
    assert plans[0].group.events[0].silenced_until == hours(30)


def test_late_delivery_after_silence_is_marked() -> None:
    plans, states = run_steps(
        [Step(T0, FAIL), Step(hours(11), FAIL, expect=[NEW])],
        silences=[silence(rule=EXPENSE_RULE)],
    )
    assert plans[1].group is not None
    assert plans[1].group.events[0].silenced_until == hours(10)
    assert states[0].silenced_until is None
    assert states[0].last_notified_at == hours(11)


def test_silenced_alert_state_still_advances() -> None:
    _, states = run_steps([Step(T0, FAIL)], silences=[silence()])
    (state,) = states
    assert state.status is AlertStatus.OPEN
    assert state.opened_at == T0
    assert state.last_notified_at is None
    assert state.silenced_until == hours(10)
    assert T0 + timedelta(hours=10) == state.silenced_until
