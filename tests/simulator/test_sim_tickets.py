"""The MSP side over real HTTP: companies, boards and statuses, tickets and notes, as cwdrift's
ticket channel will use them (create, look up by externalXRef, note, close, reopen), with the
permissions ConnectWise checks and a technician working the same tickets in the UI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sim_support import ACME, FIXED_NOW, NORTHWIND, get, patch, post, replace

from monitor.simulator.server import RunningSimulator
from monitor.simulator.state import SimulatorStateError

NOW = FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
ALERTS, HELP_DESK = 12, 13  # boards of the demo's MSP tenant "northwind"
NEW, IN_PROGRESS, RETIRED, CLOSED = 87, 88, 89, 95  # statuses of Alerts
ACME_COMPANY = 251
BASE = {
    "summary": "Acme: Transfer Expenses as a Bill is on",
    "company": {"identifier": "Acme"},
    "board": {"name": "Alerts"},
}


def create(http: httpx.Client, sim: RunningSimulator, **fields: object) -> dict[str, Any]:
    response = post(http, sim, "/service/tickets", {**BASE, **fields})
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def listed(http: httpx.Client, sim: RunningSimulator, path: str, **params: str) -> Any:
    response = get(http, sim, path, NORTHWIND, **params)
    assert response.status_code == 200, response.text
    return response.json()


# -- reading the MSP's setup ----------------------------------------------------------------


def test_companies_are_found_by_identifier(sim: RunningSimulator, http: httpx.Client) -> None:
    found = listed(http, sim, "/company/companies", conditions='identifier="acme"')
    assert [(c["id"], c["identifier"], c["name"]) for c in found] == [
        (ACME_COMPANY, "Acme", "Acme Corporation")
    ]
    assert listed(http, sim, "/company/companies", conditions='identifier="Nobody"') == []


def test_boards_and_statuses_have_the_documented_flags(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    boards = listed(http, sim, "/service/boards", conditions='name="Alerts"')
    statuses = listed(http, sim, f"/service/boards/{ALERTS}/statuses", conditions="inactive=False")
    closed = listed(http, sim, f"/service/boards/{ALERTS}/statuses", conditions="closedStatus=True")
    assert [b["id"] for b in boards] == [ALERTS]
    assert [(s["name"], s["defaultFlag"], s["closedStatus"]) for s in statuses] == [
        ("New", True, False),
        ("In Progress", False, False),
        (">Closed", False, True),
    ]
    assert [s["id"] for s in closed] == [CLOSED]
    assert statuses[0]["board"]["id"] == ALERTS
    assert get(http, sim, "/service/boards/99/statuses", NORTHWIND).status_code == 404
    assert listed(http, sim, f"/service/boards/{ALERTS}/statuses/count") == {"count": 4}


def test_types_and_priorities_are_listed(sim: RunningSimulator, http: httpx.Client) -> None:
    types = listed(http, sim, f"/service/boards/{ALERTS}/types")
    priorities = listed(http, sim, "/service/priorities", conditions="defaultFlag=True")
    assert [t["name"] for t in types] == ["Configuration Drift", "Monitoring Alert"]
    assert [p["name"] for p in priorities] == ["Priority 3 - Normal Response"]


# -- creating ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_full_ticket_and_never_echoes_write_only_fields(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = create(
        http,
        sim,
        externalXRef="cwdrift:acme:incident-1",
        processNotifications=False,
        initialDescription="Drift found on acme.",
        initialInternalAnalysis="Rule: expenses_not_as_bill. Value: on. Fix: untick it.",
        recordType="ServiceTicket",
    )
    by_id = listed(http, sim, f"/service/tickets/{ticket['id']}")

    assert ticket == by_id
    assert ticket["id"] == 50001
    assert (ticket["board"]["id"], ticket["status"]["id"], ticket["company"]["id"]) == (
        ALERTS,
        NEW,  # the board's default status
        ACME_COMPANY,
    )
    assert ticket["priority"]["name"] == "Priority 3 - Normal Response"
    assert (ticket["externalXRef"], ticket["closedFlag"]) == ("cwdrift:acme:incident-1", False)
    assert ticket["_info"]["updatedBy"] == ticket["_info"]["enteredBy"] == "CwdriftTickets"
    assert ticket["_info"]["dateEntered"] == NOW
    for write_only in ("initialDescription", "initialInternalAnalysis", "processNotifications"):
        assert write_only not in ticket
    stored = sim.state.tickets("northwind")[0]
    assert stored["processNotifications"] is False
    assert stored["initialInternalAnalysis"].startswith("Rule: expenses_not_as_bill")


def test_the_initial_texts_become_the_first_notes(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = create(http, sim, initialDescription="What happened.", initialInternalAnalysis="Why.")
    notes = listed(http, sim, f"/service/tickets/{ticket['id']}/notes")
    assert [
        (n["text"], n["detailDescriptionFlag"], n["internalAnalysisFlag"], n["createdBy"])
        for n in notes
    ] == [
        ("What happened.", True, False, "CwdriftTickets"),
        ("Why.", False, True, "CwdriftTickets"),
    ]


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"board": {"id": ALERTS}}, ("board", "name", "Alerts")),
        ({"board": {"name": "alerts"}}, ("board", "id", ALERTS)),  # case-insensitive
        ({"board": {"id": ALERTS, "name": "Alerts"}}, ("board", "id", ALERTS)),
        ({"company": {"id": ACME_COMPANY}}, ("company", "identifier", "Acme")),
        ({"status": {"id": IN_PROGRESS}}, ("status", "name", "In Progress")),
        ({"status": {"name": "In Progress"}}, ("status", "id", IN_PROGRESS)),
        ({"type": {"name": "Configuration Drift"}}, ("type", "id", 31)),
        ({"type": {"id": 32}}, ("type", "name", "Monitoring Alert")),
        ({"priority": {"id": 1}}, ("priority", "name", "Priority 1 - Emergency Response")),
        ({"priority": {"name": "Do Not Respond"}}, ("priority", "id", 5)),
        ({"board": {"id": HELP_DESK}}, ("status", "name", "New")),  # that board's default
        ({"summary": "x" * 100}, ("summary", None, "x" * 100)),
    ],
)
def test_references_by_id_or_name(
    sim: RunningSimulator,
    http: httpx.Client,
    fields: dict[str, object],
    check: tuple[str, str | None, object],
) -> None:
    ticket = create(http, sim, **fields)
    field, key, expected = check
    assert (ticket[field][key] if key else ticket[field]) == expected


def test_creating_in_a_closed_status_closes_the_ticket(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = create(http, sim, status={"name": ">Closed"})
    assert (ticket["closedFlag"], ticket["closedBy"], ticket["closedDate"]) == (
        True,
        "CwdriftTickets",
        NOW,
    )


REFUSED_CREATE = [
    ({"summary": None}, "Required", "summary"),
    ({"summary": "   "}, "Required", "summary"),
    ({"summary": "x" * 101}, "InvalidValue", "summary"),
    ({"summary": 7}, "InvalidType", "summary"),
    ({"company": None}, "Required", "company"),
    ({"company": "Acme"}, "InvalidType", "company"),
    ({"company": {"identifier": "Nobody"}}, "NotFound", "company"),
    ({"company": {"id": 999}}, "NotFound", "company"),
    ({"company": {"name": "Acme Corporation"}}, "Required", "company"),
    ({"company": {"id": 252, "identifier": "Acme"}}, "InvalidValue", "company"),
    ({"board": None}, "Required", "board"),
    ({"board": {"id": 99}}, "NotFound", "board"),
    ({"board": {"id": ALERTS, "name": "Help Desk"}}, "InvalidValue", "board"),
    ({"status": {"name": "Waiting Customer"}}, "NotFound", "status"),  # Help Desk's, not Alerts'
    ({"status": {"id": RETIRED}}, "InvalidValue", "status"),  # inactive
    ({"status": {"id": "87"}}, "InvalidType", "status"),
    ({"type": {"name": "Hardware"}}, "NotFound", "type"),
    ({"priority": {"id": 99}}, "NotFound", "priority"),
    ({"externalXRef": "k" * 101}, "InvalidValue", "externalXRef"),
    ({"externalXRef": 12}, "InvalidType", "externalXRef"),
    ({"processNotifications": "no"}, "InvalidType", "processNotifications"),
    ({"externalXref": "cwdrift:acme:1"}, "UnknownField", "externalXref"),  # misspelt
    ({"recordType": "ProjectTicket"}, "InvalidValue", "recordType"),
]


@pytest.mark.parametrize(("fields", "code", "field"), REFUSED_CREATE)
def test_refused_create_is_a_400_and_files_nothing(
    sim: RunningSimulator, http: httpx.Client, fields: dict[str, object], code: str, field: str
) -> None:
    body = {key: value for key, value in {**BASE, **fields}.items() if value is not None}
    response = post(http, sim, "/service/tickets", body)
    assert response.status_code == 400
    assert response.json()["message"] == "ticket object is invalid"
    assert [(e["code"], e["field"], e["resource"]) for e in response.json()["errors"]] == [
        (code, field, "ticket")
    ]
    assert sim.state.tickets("northwind") == []


def test_a_body_that_is_not_an_object_is_refused(sim: RunningSimulator, http: httpx.Client) -> None:
    response = post(http, sim, "/service/tickets", [BASE])
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "InvalidType")


def test_spec_fields_the_simulator_does_not_model_are_accepted(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = create(http, sim, severity="High", impact="Low", skipCallback=True, integratorTags=[])
    assert ticket["id"] == 50001


# -- looking up -------------------------------------------------------------------------------


@pytest.fixture
def three(sim: RunningSimulator, http: httpx.Client) -> list[int]:
    """Two tickets on Alerts (the second closed) and one on Help Desk."""
    first = create(http, sim, externalXRef="cwdrift:acme:incident-[1]?")
    second = create(http, sim, externalXRef="cwdrift:acme:incident-2", status={"id": CLOSED})
    third = create(http, sim, externalXRef="cwdrift:globex:incident-1", board={"id": HELP_DESK})
    return [first["id"], second["id"], third["id"]]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ('externalXRef="cwdrift:acme:incident-[1]?"', [0]),  # ? and [ are not wildcards
        ('externalXRef="cwdrift:acme:incident-11"', []),
        ('externalXRef="CWDRIFT:ACME:INCIDENT-2"', [1]),  # SQL Server compares case-insensitively
        ('externalXRef="cwdrift:acme:*"', [0, 1]),
        ("id=50003", [2]),
        (f"board/id={HELP_DESK}", [2]),
        ("closedFlag=False", [0, 2]),
        (f"board/id={ALERTS} AND closedFlag=False", [0]),
        ('company/identifier="Acme" and status/name=">Closed"', [1]),
    ],
)
def test_tickets_are_found_by_conditions(
    sim: RunningSimulator,
    http: httpx.Client,
    three: list[int],
    conditions: str,
    expected: list[int],
) -> None:
    found = listed(http, sim, "/service/tickets", conditions=conditions)
    counted = listed(http, sim, "/service/tickets/count", conditions=conditions)
    assert [t["id"] for t in found] == [three[i] for i in expected]
    assert counted == {"count": len(expected)}


def test_external_xref_is_not_unique_so_a_blind_retry_duplicates(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    create(http, sim, externalXRef="cwdrift:acme:incident-1")
    create(http, sim, externalXRef="cwdrift:acme:incident-1")
    found = listed(
        http, sim, "/service/tickets", conditions='externalXRef="cwdrift:acme:incident-1"'
    )
    assert len(found) == 2


def test_an_unknown_ticket_is_404(sim: RunningSimulator, http: httpx.Client) -> None:
    assert get(http, sim, "/service/tickets/1", NORTHWIND).status_code == 404
    assert get(http, sim, "/service/tickets/1/notes", NORTHWIND).status_code == 404
    assert patch(http, sim, "/service/tickets/1", [], NORTHWIND).status_code == 404
    note = {"text": "x", "internalAnalysisFlag": True}
    assert post(http, sim, "/service/tickets/1/notes", note).status_code == 404


# -- the lifecycle ----------------------------------------------------------------------------


def test_note_close_reopen_close(sim: RunningSimulator, http: httpx.Client) -> None:
    ticket = create(http, sim, externalXRef="cwdrift:acme:incident-1")["id"]
    path = f"/service/tickets/{ticket}"

    noted = post(http, sim, f"{path}/notes", {"text": "event 7", "internalAnalysisFlag": True})
    closed = patch(http, sim, path, [replace("status", {"id": CLOSED})], NORTHWIND)
    after_close = listed(http, sim, path)
    reopened = patch(http, sim, path, [replace("status", {"name": "New"})], NORTHWIND)
    assert reopened.status_code == 200
    after_reopen = listed(http, sim, path)
    resolution = {"text": "fixed", "resolutionFlag": True, "detailDescriptionFlag": True}
    post(http, sim, f"{path}/notes", resolution)
    patch(http, sim, path, [replace("status", {"name": ">Closed"})], NORTHWIND)

    assert noted.status_code == 201
    assert noted.json()["internalAnalysisFlag"] is True
    assert closed.status_code == 200
    assert closed.json() == after_close
    assert (after_close["closedFlag"], after_close["closedBy"], after_close["closedDate"]) == (
        True,
        "CwdriftTickets",
        NOW,
    )
    assert after_reopen["closedFlag"] is False
    assert "closedDate" not in after_reopen and "closedBy" not in after_reopen
    assert after_reopen["status"]["id"] == NEW
    assert listed(http, sim, "/service/tickets", conditions="closedFlag=False") == []
    notes = listed(http, sim, f"{path}/notes")
    assert [(n["text"], n["resolutionFlag"]) for n in notes] == [
        ("event 7", False),
        ("fixed", True),
    ]
    internal = listed(http, sim, f"{path}/notes", conditions="internalAnalysisFlag=True")
    assert [n["text"] for n in internal] == ["event 7"]


@pytest.mark.parametrize(
    ("operations", "field", "expected"),
    [
        ([replace("summary", "Acme: still drifting")], "summary", "Acme: still drifting"),
        ([replace("/externalXRef", "cwdrift:acme:9")], "externalXRef", "cwdrift:acme:9"),
        ([{"op": "remove", "path": "externalXRef"}], "externalXRef", None),
        ([replace("priority", {"name": "Priority 1 - Emergency Response"})], "priority", 1),
        ([replace("type", {"id": 31})], "type", 31),
        ([replace("status", {"id": IN_PROGRESS}), replace("processNotifications", False)],
         "status", IN_PROGRESS),
    ],
)  # fmt: skip
def test_patch_changes_a_ticket(
    sim: RunningSimulator,
    http: httpx.Client,
    operations: list[dict[str, object]],
    field: str,
    expected: object,
) -> None:
    ticket = create(http, sim, externalXRef="cwdrift:acme:incident-1")["id"]
    response = patch(http, sim, f"/service/tickets/{ticket}", operations, NORTHWIND)
    reread = listed(http, sim, f"/service/tickets/{ticket}")
    value = reread.get(field)
    assert response.status_code == 200
    assert (value["id"] if isinstance(value, dict) else value) == expected
    assert reread["_info"]["updatedBy"] == "CwdriftTickets"


@pytest.mark.parametrize(
    ("operations", "code", "field"),
    [
        ([replace("closedFlag", True)], "ReadOnly", "closedFlag"),
        ([replace("closedBy", "me")], "ReadOnly", "closedBy"),
        ([replace("status", {"id": RETIRED})], "InvalidValue", "status"),
        ([replace("status", {"name": "Waiting Customer"})], "NotFound", "status"),
        ([replace("status", ">Closed")], "InvalidType", "status"),
        ([{"op": "remove", "path": "status"}], "Required", "status"),
        ([replace("board", {"id": HELP_DESK})], "NotSupported", "board"),
        ([replace("summary", "x" * 101)], "InvalidValue", "summary"),
        ([replace("Summary", "x")], "UnknownField", "Summary"),
    ],
)
def test_refused_ticket_patch_changes_nothing(
    sim: RunningSimulator,
    http: httpx.Client,
    operations: list[dict[str, object]],
    code: str,
    field: str,
) -> None:
    ticket = create(http, sim)["id"]
    before = listed(http, sim, f"/service/tickets/{ticket}")
    response = patch(http, sim, f"/service/tickets/{ticket}", operations, NORTHWIND)
    assert response.status_code == 400
    assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [(code, field)]
    assert listed(http, sim, f"/service/tickets/{ticket}") == before


def test_status_name_sub_path_is_a_false_200(sim: RunningSimulator, http: httpx.Client) -> None:
    ticket = create(http, sim)["id"]
    response = patch(
        http, sim, f"/service/tickets/{ticket}", [replace("status/name", ">Closed")], NORTHWIND
    )
    reread = listed(http, sim, f"/service/tickets/{ticket}")
    assert response.status_code == 200
    assert (reread["status"]["name"], reread["closedFlag"]) == ("New", False)


@pytest.mark.parametrize(
    ("note", "code", "field", "message"),
    [
        (
            {"text": "only text"},
            "Required",
            "",
            "Please choose where to display the notes in order to save this record.",
        ),
        (
            {"text": "all off", "detailDescriptionFlag": False, "internalAnalysisFlag": False},
            "Required",
            "",
            "Please choose where to display the notes in order to save this record.",
        ),
        ({"internalAnalysisFlag": True}, "Required", "text", "text is required."),
        ({"text": "x", "internalAnalysisFlag": "yes"}, "InvalidType", "internalAnalysisFlag", None),
        (
            {"text": "x", "internalAnalysisFlag": True, "eventId": 7},
            "UnknownField",
            "eventId",
            None,
        ),
    ],
)
def test_refused_notes(
    sim: RunningSimulator,
    http: httpx.Client,
    note: dict[str, object],
    code: str,
    field: str,
    message: str | None,
) -> None:
    ticket = create(http, sim)["id"]
    response = post(http, sim, f"/service/tickets/{ticket}/notes", note)
    assert response.status_code == 400
    assert response.json()["message"] == "serviceNote object is invalid"
    error = response.json()["errors"][0]
    assert (error["code"], error["field"], error["resource"]) == (code, field, "serviceNote")
    if message is not None:
        assert error["message"] == message
    assert listed(http, sim, f"/service/tickets/{ticket}/notes") == []


def test_a_note_keeps_process_notifications_for_inspection(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = create(http, sim)["id"]
    note = {"text": "quiet", "internalAnalysisFlag": True, "processNotifications": False}
    answered = post(http, sim, f"/service/tickets/{ticket}/notes", note).json()
    assert "processNotifications" not in answered
    assert sim.state.tickets("northwind")[0]["notes"][0]["processNotifications"] is False


# -- a technician in the UI ---------------------------------------------------------------


def test_a_technician_closes_a_ticket_in_the_ui(sim: RunningSimulator, http: httpx.Client) -> None:
    ticket = create(http, sim, externalXRef="cwdrift:acme:incident-1")["id"]
    sim.state.set_ticket_status("northwind", ticket, ">closed", by="jtech")
    reread = listed(http, sim, f"/service/tickets/{ticket}")
    still_open = listed(http, sim, "/service/tickets", conditions="closedFlag=False")
    assert (reread["closedFlag"], reread["closedBy"], reread["_info"]["updatedBy"]) == (
        True,
        "jtech",
        "jtech",
    )
    assert still_open == []


def test_a_technician_reopens_through_the_control_api(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = create(http, sim, status={"id": CLOSED})["id"]
    moved = http.post(
        f"{sim.url}/_sim/tenants/northwind/ticket-status",
        json={"ticket": ticket, "status": IN_PROGRESS, "by": "jtech"},
    )
    unknown = http.post(
        f"{sim.url}/_sim/tenants/northwind/ticket-status",
        json={"ticket": ticket, "status": "Waiting Customer"},
    )
    inspected = http.get(f"{sim.url}/_sim/tenants/northwind/tickets").json()
    assert moved.json() == {"ok": True}
    assert unknown.status_code == 400
    assert "no status 'Waiting Customer'" in unknown.json()["error"]
    assert (inspected[0]["status"], inspected[0]["closedFlag"], inspected[0]["closedBy"]) == (
        "In Progress",
        False,
        None,
    )


def test_the_ticket_mutator_names_what_is_wrong(sim: RunningSimulator) -> None:
    with pytest.raises(SimulatorStateError, match="no ticket 1"):
        sim.state.set_ticket_status("northwind", 1, "New")


# -- permissions ------------------------------------------------------------------------------

TICKET_ROLE = "Cwdrift Tickets"


def without(sim: RunningSimulator, module: str, function: str, **levels: str) -> None:
    sim.state.set_permission("northwind", TICKET_ROLE, module, function, **levels)


@pytest.mark.parametrize(
    ("revoke", "method", "path", "status"),
    [
        ({"add": "None"}, "POST", "/service/tickets", 403),
        ({"add": "None"}, "PATCH", "/service/tickets/{t}", 200),
        ({"edit": "None"}, "PATCH", "/service/tickets/{t}", 403),
        ({"edit": "None"}, "POST", "/service/tickets/{t}/notes", 403),
        ({"edit": "None"}, "POST", "/service/tickets", 201),
        ({"inquire": "None"}, "GET", "/service/tickets", 403),
        ({"inquire": "None"}, "GET", "/service/tickets/{t}", 403),
        ({"inquire": "None"}, "GET", "/service/tickets/{t}/notes", 403),
        ({"inquire": "None"}, "GET", "/service/boards", 403),
        ({"inquire": "None"}, "GET", f"/service/boards/{ALERTS}/statuses", 403),
        ({"inquire": "None"}, "GET", "/service/priorities", 403),
        ({"inquire": "My"}, "GET", "/service/tickets", 200),
    ],
)
def test_service_ticket_permissions(
    sim: RunningSimulator,
    http: httpx.Client,
    revoke: dict[str, str],
    method: str,
    path: str,
    status: int,
) -> None:
    ticket = create(http, sim)["id"]
    without(sim, "Service Desk", "Service Tickets", **revoke)
    bodies: dict[str, object] = {
        "POST /service/tickets": BASE,
        "PATCH /service/tickets/{t}": [replace("summary", "renamed")],
        "POST /service/tickets/{t}/notes": {"text": "n", "internalAnalysisFlag": True},
    }
    response = http.request(
        method,
        sim.api_url("northwind") + path.format(t=ticket),
        headers=NORTHWIND.headers(),
        json=bodies.get(f"{method} {path}"),
    )
    assert response.status_code == status
    if status == 403:
        assert len(sim.state.tickets("northwind")) == 1
        assert sim.state.tickets("northwind")[0]["notes"] == []
        assert sim.state.tickets("northwind")[0]["summary"] == BASE["summary"]


def test_companies_need_company_maintenance_inquire(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    allowed = get(http, sim, "/company/companies", NORTHWIND)
    without(sim, "Companies", "Company Maintenance", inquire="None")
    refused = get(http, sim, "/company/companies", NORTHWIND)
    assert (allowed.status_code, refused.status_code) == (200, 403)


def test_boards_are_also_readable_through_table_setup(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    without(sim, "Service Desk", "Service Tickets", inquire="None")
    without(sim, "System", "Table Setup", inquire="All")
    assert get(http, sim, "/service/boards", NORTHWIND).status_code == 200
    assert get(http, sim, "/service/tickets", NORTHWIND).status_code == 403


def test_customer_tenants_have_an_empty_service_desk(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    """Every tenant serves the endpoints; a watched tenant simply has nowhere to file."""
    sim.state.set_permission(
        "acme", "Gozynta API", "Service Desk", "Service Tickets", add="All", inquire="All"
    )
    assert get(http, sim, "/service/boards", ACME).json() == []
    response = post(http, sim, "/service/tickets", BASE, ACME)
    assert [e["code"] for e in response.json()["errors"]] == ["NotFound", "NotFound"]
