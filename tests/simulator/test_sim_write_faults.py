"""Write faults over real HTTP: what a client sees, and what a re-read then shows, so callers can
test "verify every write by reading it back" and "never retry a write blindly"."""

from __future__ import annotations

import httpx
import pytest
from sim_support import FIXED_NOW, GLOBEX_FIX, NORTHWIND, get, patch, post, replace

from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator

SETUP = "/finance/accountingPackageSetup/1"
FLAG = "transferExpensesAsBillFlag"  # True on globex (the drift); the fix sets it False
FIX = [replace(FLAG, False)]
SCENARIO_INFO = {"lastUpdated": "2024-11-02T10:01:00Z", "updatedBy": "admin1"}
STAMP = {"lastUpdated": FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "updatedBy": "CwdriftFix"}
TICKET = {
    "summary": "Acme: Transfer Expenses as a Bill is on",
    "company": {"identifier": "Acme"},
    "board": {"id": 12},
    "externalXRef": "cwdrift:acme:incident-1",
}


def setup_record(http: httpx.Client, sim: RunningSimulator) -> dict[str, object]:
    record: dict[str, object] = get(http, sim, SETUP, GLOBEX_FIX).json()
    return record


def test_not_persisted_answers_as_if_written_and_keeps_the_old_value(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("globex", Fault(kind="not_persisted", endpoint=SETUP, times=1))
    answered = patch(http, sim, SETUP, FIX)
    reread = setup_record(http, sim)
    retried = patch(http, sim, SETUP, FIX)

    assert answered.status_code == 200
    assert (answered.json()[FLAG], answered.json()["_info"]) == (False, STAMP)
    assert (reread[FLAG], reread["_info"]) == (True, SCENARIO_INFO)
    assert (retried.status_code, setup_record(http, sim)[FLAG]) == (200, False)  # used up


def test_not_persisted_ticket_ids_are_not_handed_out_twice(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    """Like a database sequence: a create that did not land still used its id."""
    sim.state.add_fault("northwind", Fault(kind="not_persisted", times=1))
    phantom = post(http, sim, "/service/tickets", TICKET)
    real = post(http, sim, "/service/tickets", TICKET)
    assert (phantom.status_code, real.status_code) == (201, 201)
    assert real.json()["id"] == phantom.json()["id"] + 1
    assert get(http, sim, f"/service/tickets/{phantom.json()['id']}", NORTHWIND).status_code == 404
    assert [t["id"] for t in sim.state.tickets("northwind")] == [real.json()["id"]]


def test_conflict_409_on_patch_only(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.add_fault(
        "globex", Fault(kind="status", status=409, methods=["PATCH"], endpoint=SETUP, times=1)
    )
    read_first = get(http, sim, SETUP, GLOBEX_FIX)  # a GET passes the fault by, untouched
    conflict = patch(http, sim, SETUP, FIX)
    assert read_first.status_code == 200
    assert conflict.status_code == 409
    assert conflict.json() == {
        "code": "Conflict",
        "message": "The record is in use.",
        "errors": None,
    }
    assert setup_record(http, sim)[FLAG] is True


def test_validation_error_fault_is_a_400_naming_the_field(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault(
        "globex",
        Fault(kind="validation_error", field=FLAG, message="Cannot change while a batch is open."),
    )
    response = patch(http, sim, SETUP, FIX)
    assert response.status_code == 400
    assert response.json() == {
        "code": "InvalidObject",
        "message": "accountingPackageSetup object is invalid",
        "errors": [
            {
                "code": "InvalidValue",
                "message": "Cannot change while a batch is open.",
                "resource": "accountingPackageSetup",
                "field": FLAG,
            }
        ],
    }
    assert setup_record(http, sim)[FLAG] is True


@pytest.mark.parametrize("status", [500, 502])
def test_error_after_write_lands_the_write_and_answers_an_error(
    sim: RunningSimulator, http: httpx.Client, status: int
) -> None:
    sim.state.add_fault(
        "globex", Fault(kind="error_after_write", endpoint="/finance/*", status=status, times=1)
    )
    response = patch(http, sim, SETUP, FIX)
    reread = setup_record(http, sim)
    assert response.status_code == status
    assert (reread[FLAG], reread["_info"]) == (False, STAMP)


def test_error_after_write_does_not_hide_a_refused_write(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    """Nothing landed, so the client sees the real refusal (and the fault is used up)."""
    sim.state.add_fault("globex", Fault(kind="error_after_write", times=1))
    refused = patch(http, sim, SETUP, [replace(FLAG, "no")])
    assert refused.status_code == 400
    assert sim.state.tenant("globex").faults == []


def test_a_post_that_times_out_after_creating_is_found_by_its_external_xref(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    """The client gives up waiting, yet the ticket exists: look it up before creating again."""
    sim.state.add_fault(
        "northwind", Fault(kind="timeout_after_write", endpoint="/service/tickets", times=1)
    )
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            sim.api_url("northwind") + "/service/tickets",
            headers=NORTHWIND.headers(),
            json=TICKET,
            timeout=0.3,  # the fault answers only after the client hangs up
        )
    found = get(
        http,
        sim,
        "/service/tickets",
        NORTHWIND,
        conditions='externalXRef="cwdrift:acme:incident-1"',
    )
    assert [t["summary"] for t in found.json()] == [TICKET["summary"]]


def test_timeout_after_write_with_seconds_answers_late_but_normally(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("northwind", Fault(kind="timeout_after_write", seconds=0.01, times=1))
    response = post(http, sim, "/service/tickets", TICKET)
    assert response.status_code == 201


def test_a_500_on_a_note_after_storing_it_leaves_one_copy(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ticket = post(http, sim, "/service/tickets", TICKET).json()["id"]
    sim.state.add_fault(
        "northwind", Fault(kind="error_after_write", endpoint="/service/tickets/*/notes", times=1)
    )
    note = {"text": "cwdrift event 41: still failing", "internalAnalysisFlag": True}
    failed = post(http, sim, f"/service/tickets/{ticket}/notes", note)
    notes = get(http, sim, f"/service/tickets/{ticket}/notes", NORTHWIND).json()
    assert failed.status_code == 500
    assert [n["text"] for n in notes] == [note["text"]]


def test_write_faults_never_touch_reads(sim: RunningSimulator, http: httpx.Client) -> None:
    for kind in ("not_persisted", "validation_error", "error_after_write", "timeout_after_write"):
        sim.state.add_fault("globex", Fault.model_validate({"kind": kind}))
    assert get(http, sim, SETUP, GLOBEX_FIX).status_code == 200
    assert all(fs.remaining is None for fs in sim.state.tenant("globex").faults)
    assert len(sim.state.tenant("globex").faults) == 4


def test_a_read_fault_kind_also_refuses_writes_before_they_land(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("globex", Fault(kind="status", status=503, times=1))
    assert patch(http, sim, SETUP, FIX).status_code == 503
    assert setup_record(http, sim)[FLAG] is True


def test_write_faults_through_the_control_api(sim: RunningSimulator, http: httpx.Client) -> None:
    added = http.post(
        f"{sim.url}/_sim/tenants/globex/faults",
        json={"kind": "not_persisted", "endpoint": "/finance/*", "methods": ["PATCH"], "times": 1},
    )
    refused = http.post(
        f"{sim.url}/_sim/tenants/globex/faults",
        json={"kind": "not_persisted", "methods": ["GET"]},
    )
    assert added.json() == {"ok": True}
    assert refused.status_code == 400
    assert "writes only" in refused.json()["error"]
    assert patch(http, sim, SETUP, FIX).status_code == 200
    assert setup_record(http, sim)[FLAG] is True
