"""The write path against the simulator over real HTTP (the demo scenario's writing members).

globex's ``CwdriftFix`` may Edit the accounting setup; initech's may not; northwind is the MSP's
own ConnectWise, where ``CwdriftTickets`` files tickets. The simulator counts every write
request, so "never sent again" is asserted on what arrived, not on what the client says.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.conditions import equals
from monitor.connectwise.limits import HostLimits
from monitor.errors import (
    Conflict,
    PermissionDenied,
    ValidationRejected,
    WriteOutcomeUnknown,
)
from monitor.simulator.scenario import Fault, load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator
from monitor.simulator.state import SimulatorState

from .conftest import CLIENT_ID, RETRY, RecordingSleep

DEMO = Path(__file__).resolve().parents[2] / "config" / "scenarios" / "demo.yaml"
NOW = datetime(2026, 3, 4, 15, 22, 10, tzinfo=UTC)
KEYS = {
    "globex": ("globexfix000001", "fake-globex-fix-private-0001"),
    "initech": ("initechfix00001", "fake-initech-fix-private-0001"),
    "northwind": ("northwindtix001", "fake-northwind-tickets-private-0001"),
}
SETUP = "/finance/accountingPackageSetup/1"
FLAG = "transferExpensesAsBillFlag"  # on at globex (the drift); the fix turns it off
FIX = [{"op": "replace", "path": FLAG, "value": False}]
TICKET = {
    "summary": "Acme: Transfer Expenses as a Bill is on",
    "company": {"identifier": "Acme"},
    "board": {"id": 12},
    "externalXRef": "cwdrift:acme:incident-1",
    "processNotifications": False,
}


@pytest.fixture(scope="module")
def demo_server() -> Iterator[RunningSimulator]:
    state = SimulatorState(load_scenario(DEMO), now=lambda: NOW)
    with running_simulator(state) as running:
        yield running


@pytest.fixture
def demo(demo_server: RunningSimulator) -> RunningSimulator:
    demo_server.state.reset()
    return demo_server


def writer(
    sim: RunningSimulator, company: str, sleep: RecordingSleep, **overrides: Any
) -> ConnectWiseClient:
    public, private = KEYS[company]
    args: dict[str, Any] = {
        "retry": RETRY,
        "sleep": sleep,
        "limits": HostLimits(per_minute=100_000),
        "timeout": 10.0,
    }
    args.update(overrides)
    return ConnectWiseClient(sim.url, company, public, private, CLIENT_ID, **args)


# -- remediation's writes ----------------------------------------------------------------------


async def test_a_fix_is_written_once_and_the_record_answers_with_it(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    async with writer(demo, "globex", sleep) as cw:
        before = await cw.get_one(SETUP)
        record = await cw.patch(SETUP, FIX)
        reread = await cw.get_one(SETUP)
    assert before[FLAG] is True
    assert record[FLAG] is False
    assert record["_info"]["updatedBy"] == "CwdriftFix"
    assert reread == record
    assert demo.state.writes("globex", method="PATCH") == 1


async def test_without_edit_a_fix_is_refused_naming_the_permission(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    async with writer(demo, "initech", sleep) as cw:
        with pytest.raises(PermissionDenied) as caught:
            await cw.patch(SETUP, FIX)
    assert caught.value.permission == "Finance > Accounting Interface: Edit"
    assert caught.value.method == "PATCH"
    assert demo.state.writes("initech") == 1


async def test_a_refused_value_is_a_validation_rejection_naming_the_field(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    wrong = [{"op": "replace", "path": FLAG, "value": "false"}, FIX[0] | {"path": "nope"}]
    async with writer(demo, "globex", sleep) as cw:
        with pytest.raises(ValidationRejected) as caught:
            await cw.patch(SETUP, wrong)
        unchanged = await cw.get_one(SETUP)
    assert [(p.field, p.code) for p in caught.value.problems] == [
        (FLAG, "InvalidType"),
        ("nope", "UnknownField"),
    ]
    assert "accountingPackageSetup object is invalid" in caught.value.message
    assert unchanged[FLAG] is True
    assert demo.state.writes("globex") == 1


async def test_a_500_after_the_write_landed_is_unknown_and_not_sent_again(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    demo.state.add_fault("globex", Fault(kind="error_after_write", endpoint="/finance/*"))
    async with writer(demo, "globex", sleep) as cw:
        with pytest.raises(WriteOutcomeUnknown) as caught:
            await cw.patch(SETUP, FIX)
        reread = await cw.get_one(SETUP)  # what the caller must do next
    assert caught.value.status == 500
    assert demo.state.writes("globex") == 1
    assert sleep.delays == []
    assert reread[FLAG] is False  # it had landed: re-reading, not resending, finds that out


async def test_a_409_is_a_conflict(demo: RunningSimulator, sleep: RecordingSleep) -> None:
    demo.state.add_fault("globex", Fault(kind="status", status=409, methods=["PATCH"]))
    async with writer(demo, "globex", sleep) as cw:
        with pytest.raises(Conflict):
            await cw.patch(SETUP, FIX)
    assert demo.state.writes("globex") == 1


async def test_a_429_on_a_write_is_sent_again_after_retry_after(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    demo.state.add_fault(
        "globex", Fault(kind="rate_limit", retry_after=4, times=1, methods=["PATCH"])
    )
    async with writer(demo, "globex", sleep) as cw:
        record = await cw.patch(SETUP, FIX)
    assert record[FLAG] is False
    assert sleep.delays == [4.0]
    assert demo.state.writes("globex") == 2  # the refused one and the one that landed


# -- tickets' writes ---------------------------------------------------------------------------


async def test_a_ticket_post_that_times_out_is_found_by_its_external_xref_not_posted_again(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    demo.state.add_fault(
        "northwind", Fault(kind="timeout_after_write", endpoint="/service/tickets", times=1)
    )
    async with writer(demo, "northwind", sleep, timeout=0.3) as cw:
        with pytest.raises(WriteOutcomeUnknown, match=r"within 0\.3s"):
            await cw.post("/service/tickets", TICKET)
        found = await cw.get_list(
            "/service/tickets", {"conditions": equals("externalXRef", TICKET["externalXRef"])}
        )
    assert demo.state.writes("northwind") == 1
    assert [t["summary"] for t in found] == [TICKET["summary"]]


async def test_a_ticket_is_created_closed_and_noted_through_the_one_write_path(
    demo: RunningSimulator, sleep: RecordingSleep
) -> None:
    xref = "cwdrift:acme:a&b+c%d e'f?[x]"  # every character that needs URL encoding
    async with writer(demo, "northwind", sleep) as cw:
        created = await cw.post("/service/tickets", TICKET | {"externalXRef": xref})
        ticket = f"/service/tickets/{created['id']}"
        closed = await cw.patch(ticket, [{"op": "replace", "path": "status", "value": {"id": 95}}])
        note = await cw.post(
            f"{ticket}/notes",
            {"text": "Resolved: back to baseline.", "resolutionFlag": True},
        )
        found = await cw.get_list("/service/tickets", {"conditions": equals("externalXRef", xref)})
        others = await cw.get_list(
            "/service/tickets", {"conditions": equals("externalXRef", "cwdrift:acme:a")}
        )
    assert created["externalXRef"] == xref
    assert (closed["status"]["id"], closed["closedFlag"]) == (95, True)
    assert note["text"] == "Resolved: back to baseline."
    assert [t["id"] for t in found] == [created["id"]]
    assert others == []  # an exact match, never a prefix or wildcard
    assert demo.state.writes("northwind") == 3
