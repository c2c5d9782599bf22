"""Tickets in the MSP's ConnectWise, end to end: the check job's queueing, the real dispatcher and
ticket sender, and the simulator over real HTTP (the demo's MSP tenant ``northwind``), on each
database engine. Clocks are injected; nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from alert_builders import T0, finding, hours
from alert_db import outbox
from ticket_desk import MSP, TicketRig

from monitor.core.findings import Finding, Severity, Status
from monitor.data import bundled_file
from monitor.simulator.scenario import Fault, load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator
from monitor.store.database import Database

EXPENSES_FAIL = finding()
EXPENSES_PASS = finding(Status.PASS)
INVOICING_FAIL = finding(
    rule="permission.finance.invoicing.delete_all",
    label="Role may not delete invoices",
    severity=Severity.HIGH,
    expected="All",
    actual="None",
)
TICKETS = "/service/tickets"
NOTES = "/service/tickets/{parentId}/notes"
ONE_TICKET = "/service/tickets/{id}"


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as running:
        yield running


@pytest.fixture
def rig(sim: RunningSimulator, db: Database) -> TicketRig:
    return TicketRig.start(sim, db)


def marker(n: int) -> str:
    return f"[cwdrift:event {n}]"


def test_new_reminder_resolved_regressed_resolved_walks_one_ticket(rig: TicketRig) -> None:
    rig.check(T0, [EXPENSES_FAIL])
    assert rig.dispatch(T0).sent == 1
    ticket = rig.ticket()
    assert ticket["summary"] == "[cwdrift] Acme MSP: Transfer Expenses as a Bill is off"
    assert (ticket["board"], ticket["company"], ticket["status"]) == ("Alerts", "Acme", "New")
    assert ticket["externalXRef"] == "cwdrift:psa:acme:drift:20260302T090000Z"
    assert ticket["processNotifications"] is False and ticket["closedFlag"] is False
    [note] = ticket["notes"]
    assert note["internalAnalysisFlag"] and not note["detailDescriptionFlag"]
    assert note["processNotifications"] is False
    assert "Expected: off; actual: on" in note["text"] and note["text"].endswith(marker(1))

    rig.check(hours(24), [EXPENSES_FAIL])  # reminder
    rig.dispatch(hours(24))
    assert rig.ticket()["status"] == "New" and rig.notes()[1].startswith("Still failing")

    rig.check(hours(25), [EXPENSES_PASS])  # resolved
    rig.dispatch(hours(25))
    ticket = rig.ticket()
    assert (ticket["status"], ticket["closedFlag"], ticket["closedBy"]) == (
        ">Closed",
        True,
        "CwdriftTickets",
    )
    assert ticket["notes"][2]["resolutionFlag"] and ticket["notes"][2]["internalAnalysisFlag"]

    rig.check(hours(26), [EXPENSES_FAIL])  # regressed within 7 days: the same ticket reopens
    rig.dispatch(hours(26))
    ticket = rig.ticket()
    assert (ticket["status"], ticket["closedFlag"]) == ("New", False)
    assert "last resolved 2026-03-03 10:00 UTC" in ticket["notes"][3]["text"]

    rig.check(hours(27), [EXPENSES_PASS])  # resolved again
    rig.dispatch(hours(27))
    ticket = rig.ticket()
    assert (ticket["status"], ticket["closedFlag"]) == (">Closed", True)
    assert [n["text"].rsplit("\n", 1)[-1] for n in ticket["notes"]] == [
        marker(n) for n in range(1, 6)
    ]
    heads = [n["text"].split(" ", 1)[0] for n in ticket["notes"]]
    assert heads == ["cwdrift", "Still", "Resolved:", "Regressed", "Resolved:"]
    assert rig.writes(TICKETS) == 1 and rig.writes(NOTES) == 5
    assert rig.writes(ONE_TICKET, "PATCH") == 3  # close, reopen, close

    later = hours(27) + timedelta(days=8)  # beyond reopen_within: a new incident and ticket
    rig.check(later, [EXPENSES_FAIL])
    rig.dispatch(later)
    first, second = rig.tickets()
    assert first["closedFlag"] and not second["closedFlag"]
    assert second["externalXRef"] != first["externalXRef"]


def test_a_ticket_a_person_closed_stays_closed_until_something_new_fails(rig: TicketRig) -> None:
    rig.check(T0, [EXPENSES_FAIL])
    rig.dispatch(T0)
    ticket_id = rig.ticket()["id"]
    rig.sim.state.set_ticket_status(MSP, ticket_id, ">Closed", by="jdoe")

    rig.check(hours(24), [EXPENSES_FAIL])  # a reminder: not posted, not reopened
    assert rig.dispatch(hours(24)).sent == 1
    ticket = rig.ticket()
    assert (ticket["closedFlag"], ticket["closedBy"], len(ticket["notes"])) == (True, "jdoe", 1)

    rig.check(hours(25), [EXPENSES_FAIL, INVOICING_FAIL])  # a new rule fails: reopened
    rig.dispatch(hours(25))
    ticket = rig.ticket()
    assert (ticket["status"], ticket["closedFlag"]) == ("New", False)
    assert "NEW (high): Role may not delete invoices" in ticket["notes"][1]["text"]


def test_drift_fixed_after_a_person_closed_the_ticket_adds_the_resolution_only(
    rig: TicketRig,
) -> None:
    rig.check(T0, [EXPENSES_FAIL])
    rig.dispatch(T0)
    rig.sim.state.set_ticket_status(MSP, rig.ticket()["id"], ">Closed", by="jdoe")
    rig.check(hours(1), [EXPENSES_PASS])
    rig.dispatch(hours(1))
    ticket = rig.ticket()
    assert (ticket["closedFlag"], ticket["closedBy"]) == (True, "jdoe")  # not closed again
    assert ticket["notes"][1]["resolutionFlag"]
    assert rig.writes(ONE_TICKET, "PATCH") == 0


def test_a_create_whose_answer_never_came_is_found_not_repeated(rig: TicketRig) -> None:
    rig.config = rig.config.model_copy(
        update={
            "connectwise_ticket": [
                rig.config.connectwise_ticket[0].model_copy(update={"timeout": 0.5})
            ]
        }
    )
    rig.sim.state.add_fault(
        MSP, Fault(kind="timeout_after_write", endpoint=TICKETS, methods=["POST"], times=1)
    )
    rig.check(T0, [EXPENSES_FAIL])
    report = rig.dispatch(T0)
    assert (report.sent, report.retrying) == (0, 1)
    assert "looked up before any rewrite" in report.errors[0]
    assert len(rig.tickets()) == 1 and rig.ticket()["notes"] == []  # it landed, unanswered

    rig.dispatch(T0 + timedelta(minutes=5))  # past the backoff
    assert rig.writes(TICKETS) == 1 and len(rig.notes()) == 1
    assert [row.status for row in outbox(rig.db)] == ["sent"]


def test_a_note_that_landed_before_a_500_is_not_posted_twice(rig: TicketRig) -> None:
    rig.check(T0, [EXPENSES_FAIL])
    rig.dispatch(T0)
    rig.sim.state.add_fault(MSP, Fault(kind="error_after_write", endpoint=f"{TICKETS}/*/notes"))
    rig.check(hours(1), [EXPENSES_FAIL, INVOICING_FAIL])
    assert rig.dispatch(hours(1)).retrying == 1
    rig.sim.state.clear_faults(MSP)
    assert rig.dispatch(hours(2)).sent == 1
    assert len(rig.notes()) == 2 and rig.writes(NOTES) == 2
    assert rig.notes()[1].endswith(marker(2))


def test_a_missing_add_permission_is_recorded_on_the_channel_with_the_fix(
    rig: TicketRig,
) -> None:
    rig.sim.state.set_permission(
        MSP, "Cwdrift Tickets", "Service Desk", "Service Tickets", add="None"
    )
    rig.check(T0, [EXPENSES_FAIL])
    report = rig.dispatch(T0)
    assert report.failed == 1
    health = rig.health()
    assert health.permanent_failure and health.kind == "ticket"
    assert health.last_error is not None
    assert "grant Service Desk > Service Tickets: Add" in health.last_error
    assert "fake-northwind" not in health.last_error
    assert rig.tickets() == []


@pytest.mark.parametrize(
    ("change", "said", "fix"),
    [
        ({"board": "Escalations"}, "board 'Escalations' does not exist", "'Alerts', 'Help Desk'"),
        ({"statuses": {"closed": "Done"}}, "no active closed status 'Done'", "'>Closed'"),
        ({"statuses": {"new": "Scheduled (retired)"}}, "status 'Scheduled (retired)'", "'New'"),
        ({"ticket_type": "Outage"}, "no type 'Outage'", "'Configuration Drift'"),
        ({"priority_by_severity": {"critical": "P0"}}, "no priority 'P0'", "Priority 1"),
    ],
)
def test_a_name_that_does_not_resolve_is_permanent_and_names_what_exists(
    sim: RunningSimulator, db: Database, change: dict[str, object], said: str, fix: str
) -> None:
    rig = TicketRig.start(sim, db, channel=change)
    rig.check(T0, [EXPENSES_FAIL])
    assert rig.dispatch(T0).failed == 1
    error = rig.health().last_error or ""
    assert said in error and fix in error
    assert rig.tickets() == []


def test_a_company_that_does_not_exist_is_permanent(sim: RunningSimulator, db: Database) -> None:
    rig = TicketRig.start(sim, db)
    rig.tenant = rig.tenant.__class__("acme", "Acme MSP", ticket_company="AcmeCorp")
    rig.check(T0, [EXPENSES_FAIL])
    assert rig.dispatch(T0).failed == 1
    assert "no company with identifier 'AcmeCorp'" in (rig.health().last_error or "")


def test_type_and_priority_are_set_from_the_config(sim: RunningSimulator, db: Database) -> None:
    rig = TicketRig.start(
        sim,
        db,
        channel={
            "ticket_type": "Configuration Drift",
            "priority_by_severity": {"critical": "Priority 1 - Emergency Response"},
            "statuses": {"new": "In Progress"},
        },
    )
    rig.check(T0, [EXPENSES_FAIL])
    rig.dispatch(T0)
    ticket = rig.ticket()
    assert (ticket["type"], ticket["priority"], ticket["status"]) == (
        "Configuration Drift",
        "Priority 1 - Emergency Response",
        "In Progress",
    )


def test_a_late_close_never_undoes_a_newer_reopen(rig: TicketRig) -> None:
    rig.check(T0, [EXPENSES_FAIL])
    rig.dispatch(T0)
    # The close is refused for good (say a role change), the regression an hour later is not.
    rig.sim.state.add_fault(
        MSP, Fault(kind="status", status=403, endpoint=f"{TICKETS}/*", methods=["PATCH"], times=1)
    )
    rig.check(hours(1), [EXPENSES_PASS])
    assert rig.dispatch(hours(1)).failed == 1
    rig.check(hours(2), [EXPENSES_FAIL])
    report = rig.dispatch(hours(2))  # the reopen goes, then the failed close is retried late
    assert report.sent == 2
    ticket = rig.ticket()
    assert (ticket["status"], ticket["closedFlag"]) == ("New", False)
    texts = [n["text"] for n in ticket["notes"]]
    assert texts[1].startswith("Resolved:")  # the close's note landed before its PATCH failed
    assert texts[2].startswith("Regressed") and texts[2].endswith(marker(3))
    assert [row.status for row in outbox(rig.db)] == ["sent", "sent", "sent"]


def test_a_duplicate_external_reference_is_flagged_for_a_person(rig: TicketRig) -> None:
    rig.check(T0, [EXPENSES_FAIL])
    rig.dispatch(T0)
    rig.post_ticket(rig.ticket()["externalXRef"])  # a person copies the ticket, key and all
    xref = rig.tickets()[0]["externalXRef"]
    rig.check(hours(24), [EXPENSES_FAIL])
    assert rig.dispatch(hours(24)).failed == 1
    assert f"several tickets carry externalXRef {xref!r}" in (rig.health().last_error or "")


def test_the_readme_sample_ticket_is_what_cwdrift_files(rig: TicketRig) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    sample = readme.split("A sample ticket,", 1)[1].split("```\n", 2)[1]
    summary, body = sample.split("\n\n", 1)
    expenses = finding(
        rule="transfer-expenses-as-bill-is-off",
        label="Transfer Expenses as a Bill is off",
        remediation=(
            'System > Setup Tables > Accounting Package: uncheck "Transfer Expenses as a Bill"'
        ),
    )
    invoicing = finding(
        rule="role-grants-invoicing-delete-all",
        label="Role may not delete invoices",
        severity=Severity.HIGH,
        expected="All",
        actual="None",
        keys=("permission.finance.invoicing",),
        remediation="System > Security Roles > Gozynta API > Finance > Invoicing: Delete All",
    )
    who = {"accounting.transferExpensesAsBillFlag": ("jsmith", "2026-03-02T08:51:10Z")}
    checks = [
        (T0, [expenses]),
        (hours(2), [expenses, invoicing]),
        (hours(24), [expenses, invoicing]),
        (hours(25), [passing(expenses), invoicing]),
        (hours(26), [passing(expenses), passing(invoicing)]),
    ]
    for at, findings in checks:
        rig.check(at, findings, who=who)
        rig.dispatch(at)
    ticket = rig.ticket()
    assert ticket["summary"] == summary
    assert "\n---\n".join(rig.notes()) + "\n" == body
    assert (ticket["status"], ticket["closedBy"]) == (">Closed", "CwdriftTickets")
    assert ticket["externalXRef"] == "cwdrift:psa:acme:drift:20260302T090000Z"


def passing(failing: Finding) -> Finding:
    return replace(failing, status=Status.PASS, actual=failing.expected)


def test_refused_keys_are_permanent_and_the_key_is_never_shown(
    sim: RunningSimulator, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-psa-private-key-hunter2"
    rig = TicketRig.start(sim, db, channel={"private_key": secret})
    rig.check(T0, [EXPENSES_FAIL])
    with caplog.at_level("DEBUG"):
        assert rig.dispatch(T0).failed == 1
    error = rig.health().last_error or ""
    assert "check the channel's company_id, public_key, private_key and client_id" in error
    assert secret not in error and secret not in caplog.text
    assert all(secret not in row.payload for row in outbox(rig.db))
    assert rig.tickets() == []
