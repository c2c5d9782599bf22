"""The ticket mapping (pure): one ticket per tenant incident, walked through the real lifecycle.

Each test chains checks as the check job does (lifecycle -> routing -> ticket planning) and
asserts the steps the ticket channel gets and the incident it keeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alert_builders import EXPENSE_RULE, INVOICING_RULE, T0, finding, hours, revoked_keys
from hypothesis import given
from hypothesis import strategies as st
from ticket_builders import ACME_TICKETS, Walk, ticket_channel, ticket_policy

from monitor.alerts.config import NotifyConfig, Silence
from monitor.alerts.model import FixNote, NotificationGroup, TenantRef
from monitor.alerts.tickets import (
    SUMMARY_MAX,
    XREF_MAX,
    IncidentKind,
    StatusChange,
    TicketMessage,
    TicketStep,
    events_in,
    incident_xref,
    plan_tickets,
)
from monitor.core.findings import Finding, Severity, Status

EXPENSES_FAIL = finding()  # critical
EXPENSES_PASS = finding(Status.PASS)


def invoicing(status: Status = Status.FAIL, severity: Severity = Severity.HIGH) -> Finding:
    return finding(
        status,
        rule=INVOICING_RULE,
        label="Role may not delete invoices",
        severity=severity,
        expected="All",
        actual="None",
        keys=("permission.finance.invoicing",),
        remediation="System > Security Roles > Gozynta API > Finance > Invoicing: Delete All",
    )


def only(message: TicketMessage | None) -> TicketStep:
    assert message is not None
    [step] = message.steps
    return step


def test_the_first_failing_rule_creates_the_ticket_with_the_details_in_an_internal_note() -> None:
    walk = Walk(ticket_policy())
    message = walk.check(T0, [EXPENSES_FAIL])
    step = only(message)
    assert message is not None and message.company == "Acme"
    assert step.create and step.event == 1 and step.status is StatusChange.KEEP
    assert step.xref == "cwdrift:psa:acme:drift:20260302T090000Z"
    assert step.summary == "[cwdrift] Acme MSP: Transfer Expenses as a Bill is off"
    assert step.severity is Severity.CRITICAL and not step.resolution
    assert "NEW (critical): Transfer Expenses as a Bill is off" in step.note
    assert "Expected: off; actual: on" in step.note
    assert "Fix: Finance > Accounting Interface > Setup: clear 'Transfer Expenses'" in step.note
    assert step.note.endswith("[cwdrift:event 1]")
    incident = walk.incident()
    assert incident.is_open and incident.failing == (EXPENSE_RULE,) and incident.events == 1


def test_new_reminder_resolved_regressed_resolved_is_one_ticket() -> None:
    walk = Walk(ticket_policy())
    created = only(walk.check(T0, [EXPENSES_FAIL]))
    assert walk.check(hours(1), [EXPENSES_FAIL]) is None  # still failing: nothing to say
    reminder = only(walk.check(hours(24), [EXPENSES_FAIL]))
    resolved = only(walk.check(hours(25), [EXPENSES_PASS]))
    regressed = only(walk.check(hours(26), [EXPENSES_FAIL]))
    closed_again = only(walk.check(hours(27), [EXPENSES_PASS]))

    steps = [created, reminder, resolved, regressed, closed_again]
    assert {s.xref for s in steps} == {created.xref}
    assert [s.event for s in steps] == [1, 2, 3, 4, 5]
    assert [s.status for s in steps] == [
        StatusChange.KEEP,
        StatusChange.KEEP,
        StatusChange.CLOSE,
        StatusChange.OPEN,
        StatusChange.CLOSE,
    ]
    assert reminder.skip_if_closed and reminder.note.startswith("Still failing")
    assert resolved.resolution and not resolved.create
    assert resolved.note.startswith("Resolved: every rule of this ticket passes again")
    assert regressed.note.startswith(
        "Regressed at the check of 2026-03-03 11:00 UTC: last resolved 2026-03-03 10:00 UTC."
    )
    assert walk.incident().closed_at == hours(27)


def test_a_regression_after_reopen_within_is_a_new_ticket() -> None:
    walk = Walk(ticket_policy(channel={"reopen_within": "2d"}))
    first = only(walk.check(T0, [EXPENSES_FAIL]))
    walk.check(hours(1), [EXPENSES_PASS])
    later = hours(1) + timedelta(days=2, seconds=1)
    second = only(walk.check(later, [EXPENSES_FAIL]))
    assert second.create and second.event == 1 and second.status is StatusChange.KEEP
    assert second.xref != first.xref
    assert "REGRESSED (critical)" in second.note


def test_reopen_within_zero_never_reopens() -> None:
    walk = Walk(ticket_policy(channel={"reopen_within": 0}))
    first = only(walk.check(T0, [EXPENSES_FAIL]))
    walk.check(hours(1), [EXPENSES_PASS])
    assert only(walk.check(hours(2), [EXPENSES_FAIL])).xref != first.xref


def test_another_rule_failing_is_a_note_that_reopens_a_ticket_a_person_closed() -> None:
    walk = Walk(ticket_policy())
    first = only(walk.check(T0, [EXPENSES_FAIL]))
    step = only(walk.check(hours(1), [EXPENSES_FAIL, invoicing()]))
    assert step.xref == first.xref and step.event == 2
    assert step.status is StatusChange.OPEN and not step.skip_if_closed
    assert "NEW (high): Role may not delete invoices" in step.note
    assert walk.incident().failing == (EXPENSE_RULE, INVOICING_RULE)


def test_one_rule_of_two_passing_is_a_note_and_the_ticket_stays_open() -> None:
    walk = Walk(ticket_policy())
    walk.check(T0, [EXPENSES_FAIL, invoicing()])
    step = only(walk.check(hours(1), [EXPENSES_PASS, invoicing()]))
    assert step.status is StatusChange.KEEP and not step.resolution
    assert step.note.startswith("Resolved at the check of 2026-03-02 10:00 UTC; 1 rule(s)")
    assert walk.incident().is_open and walk.incident().failing == (INVOICING_RULE,)
    closing = only(walk.check(hours(2), [EXPENSES_PASS, invoicing(Status.PASS)]))
    assert closing.status is StatusChange.CLOSE


def test_a_different_rule_after_closing_is_a_new_ticket_even_within_reopen_within() -> None:
    walk = Walk(ticket_policy())
    first = only(walk.check(T0, [EXPENSES_FAIL]))
    walk.check(hours(1), [EXPENSES_PASS])
    second = only(walk.check(hours(2), [EXPENSES_PASS, invoicing()]))
    assert second.create and second.xref != first.xref and second.event == 1


def test_below_min_severity_never_opens_a_ticket_but_rides_along_once_one_is_open() -> None:
    walk = Walk(ticket_policy())
    assert walk.check(T0, [invoicing(severity=Severity.MEDIUM)]) is None
    assert IncidentKind.DRIFT not in {kind for _, kind in walk.incidents}
    medium = Walk(ticket_policy(channel={"min_severity": "medium"}))
    assert only(medium.check(T0, [invoicing(severity=Severity.MEDIUM)])).create


def test_cannot_verify_is_a_ticket_of_its_own_closed_when_readable_again() -> None:
    walk = Walk(ticket_policy(failure_threshold=1))
    drift = only(walk.check(T0, [EXPENSES_FAIL]))
    blind = only(walk.check(hours(1), error=revoked_keys()))
    assert blind.xref == "cwdrift:psa:acme:collection:20260302T100000Z" != drift.xref
    assert blind.summary == "[cwdrift] cannot verify Acme MSP" and blind.create
    assert "Error (auth): ConnectWise rejected the API keys" in blind.note
    message = walk.check(hours(2), [EXPENSES_FAIL])
    assert message is not None
    [readable] = message.steps
    assert readable.xref == blind.xref and readable.status is StatusChange.CLOSE
    assert readable.note.startswith("Readable again")
    assert walk.incident(IncidentKind.DRIFT).is_open  # the drift ticket is untouched


def test_a_fix_cwdrift_made_closes_the_ticket_saying_so() -> None:
    walk = Walk(ticket_policy())
    walk.check(T0, [EXPENSES_FAIL])
    fixes = {EXPENSE_RULE: FixNote(operator="jane on ops-1")}
    step = only(walk.check(hours(1), [EXPENSES_PASS], fixes=fixes))
    assert step.status is StatusChange.CLOSE
    assert step.note.startswith("Resolved (fixed by cwdrift): every rule of this ticket")
    assert "FIXED BY CWDRIFT (critical): Transfer Expenses as a Bill is off" in step.note
    assert "Note: fixed by cwdrift (jane on ops-1)" in step.note


def test_an_automatic_fix_that_did_not_hold_is_a_note_that_reopens_nothing() -> None:
    walk = Walk(ticket_policy())
    created = only(walk.check(T0, [EXPENSES_FAIL]))
    fixes = {EXPENSE_RULE: FixNote(operator="cwdrift daemon", automatic=True, resume="cwdrift fix")}
    step = only(walk.check(hours(1), [EXPENSES_FAIL], fixes=fixes))
    assert (step.xref, step.status, step.skip_if_closed) == (
        created.xref,
        StatusChange.KEEP,
        False,
    )
    assert step.note.startswith("An automatic fix did not hold")
    assert "AUTOMATIC FIX DID NOT HOLD (critical)" in step.note
    assert walk.incident().is_open


def silence(until: datetime, **target: str) -> Silence:
    return Silence(reason="maintenance", author="ana", expires=until, **target)


def test_a_fix_a_silence_swallowed_still_closes_the_ticket() -> None:
    walk = Walk(ticket_policy())
    created = only(walk.check(T0, [EXPENSES_FAIL]))
    muted = [silence(hours(48), tenant="acme")]
    closing = only(walk.check(hours(1), [EXPENSES_PASS], silences=muted))
    assert (closing.xref, closing.status, closing.resolution) == (
        created.xref,
        StatusChange.CLOSE,
        True,
    )
    assert "the resolution was not announced: notifications were silenced" in closing.note
    assert not walk.incident().is_open
    assert walk.check(hours(2), [EXPENSES_PASS], silences=muted) is None  # said once


def test_recovery_a_silence_swallowed_still_closes_the_cannot_verify_ticket() -> None:
    walk = Walk(ticket_policy(failure_threshold=1))
    blind = only(walk.check(T0, error=revoked_keys()))
    muted = [silence(hours(48), tenant="acme")]
    message = walk.check(hours(1), [invoicing(severity=Severity.MEDIUM)], silences=muted)
    assert message is not None
    [step] = message.steps
    assert (step.xref, step.status) == (blind.xref, StatusChange.CLOSE)
    assert "notifications were silenced" in step.note


def test_a_silenced_new_rule_makes_no_ticket_until_the_silence_ends() -> None:
    walk = Walk(ticket_policy())
    muted = [silence(hours(2), rule=EXPENSE_RULE)]
    assert walk.check(T0, [EXPENSES_FAIL], silences=muted) is None
    step = only(walk.check(hours(3), [EXPENSES_FAIL], silences=muted))
    assert step.create and "(was silenced until 2026-03-02 11:00 UTC)" in step.note


def test_two_channels_keep_their_own_incidents_and_tickets() -> None:
    config = NotifyConfig.model_validate(
        {"connectwise_ticket": [ticket_channel(), ticket_channel(name="psa2", board="Help Desk")]}
    )
    walk = Walk(config)
    first = only(walk.check(T0, [EXPENSES_FAIL]))
    second = only(Walk(config).check(T0, [EXPENSES_FAIL], channel="psa2"))
    assert (first.xref, second.xref) == (
        "cwdrift:psa:acme:drift:20260302T090000Z",
        "cwdrift:psa2:acme:drift:20260302T090000Z",
    )
    assert {channel for channel, _ in walk.incidents} == {"psa", "psa2"}


def test_a_tenant_without_a_company_falls_back_to_the_channel_catch_all() -> None:
    walk = Walk(ticket_policy(channel={"company": "NorthwindIT"}), tenant=TenantRef("x", "X"))
    message = walk.check(T0, [EXPENSES_FAIL])
    assert message is not None and message.company == "NorthwindIT"
    own = Walk(ticket_policy(channel={"company": "NorthwindIT"}))
    message = own.check(T0, [EXPENSES_FAIL])
    assert message is not None and message.company == "Acme"


def test_the_payload_round_trips() -> None:
    message = Walk(ticket_policy()).check(T0, [EXPENSES_FAIL, invoicing()])
    assert message is not None
    assert TicketMessage.from_dict(message.to_dict()) == message
    assert message.to_dict()["summary"] == "[cwdrift] acme: open ticket"


def test_events_in_reads_only_markers() -> None:
    texts = ["x [cwdrift:event 3]", "[cwdrift:event 12] and [cwdrift:event x]", "none"]
    assert events_in(texts) == {3, 12}


@given(
    channel=st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
    tenant=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True),
)
def test_xref_is_at_most_100_characters_names_the_tenant_and_is_stable(
    channel: str, tenant: str
) -> None:
    xref = incident_xref(channel, tenant, IncidentKind.DRIFT, T0)
    assert len(xref) <= XREF_MAX
    assert f":{tenant}:" in xref
    assert xref == incident_xref(channel, tenant, IncidentKind.DRIFT, T0)
    assert xref != incident_xref(channel, tenant, IncidentKind.COLLECTION, T0)


@given(name=st.text(min_size=1, max_size=300), label=st.text(min_size=1, max_size=300))
def test_summary_is_at_most_100_characters_whatever_the_names(name: str, label: str) -> None:
    walk = Walk(ticket_policy(), tenant=TenantRef("acme", name, ticket_company="Acme"))
    message = walk.check(T0, [finding(label=label)])
    assert message is not None
    assert 0 < len(message.steps[0].summary) <= SUMMARY_MAX


def test_a_group_with_nothing_for_tickets_moves_nothing() -> None:
    walk = Walk(ticket_policy())
    walk.check(T0, [EXPENSES_FAIL])
    group = NotificationGroup(tenant=ACME_TICKETS, checked_at=hours(1), events=())
    plan = plan_tickets(group, ticket_policy().connectwise_ticket[0], walk.incidents.values())
    assert plan.message is None and plan.incidents == ()
