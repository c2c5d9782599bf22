"""The client's writes against the simulator over real HTTP: POST and PATCH are sent once, and
every failure is typed (400 with field messages, 403 naming the permission, outcome unknown)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.connectwise.client import ConnectWiseClient, RetryPolicy, equals_condition
from monitor.errors import PermissionDenied, WriteOutcomeUnknown, WriteRejected
from monitor.simulator.scenario import Fault, scenario_from_data
from monitor.simulator.server import RunningSimulator, running_simulator

PUBLIC, PRIVATE = "deskpub0001", "Priv-Desk-Secret-77"
CLIENT_ID = "0b7a7a48-1d53-4f0e-9c2f-3b1f6c0b9a11"


def _member(
    identifier: str, template: str, public: str
) -> tuple[dict[str, str], dict[str, object]]:
    role = {"name": identifier, "template": template}
    member = {
        "identifier": identifier,
        "role": identifier,
        "keys": [{"public_key": public, "private_key": PRIVATE}],
    }
    return role, member


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    tickets_role, tickets_member = _member("Tickets", "tickets", PUBLIC)
    reader_role, reader_member = _member("Reader", "auditor", "readpub0001")
    data = {
        "tenants": [
            {
                "company_id": "desk",
                "name": "Desk MSP",
                "roles": [tickets_role, reader_role],
                "members": [tickets_member, reader_member],
                "service_desk": {
                    "companies": [{"identifier": "Acme", "name": "Acme Corporation"}],
                    "boards": [
                        {
                            "name": "Alerts",
                            "statuses": [{"name": "New"}, {"name": "Closed", "closed": True}],
                        }
                    ],
                },
            }
        ]
    }
    with running_simulator(scenario_from_data(data, source="test")) as running:
        yield running


def client(sim: RunningSimulator, public: str = PUBLIC, timeout: float = 10.0) -> ConnectWiseClient:
    return ConnectWiseClient(
        sim.url, "desk", public, PRIVATE, CLIENT_ID, retry=RetryPolicy(attempts=1), timeout=timeout
    )


TICKET = {"summary": "Drift", "company": {"identifier": "Acme"}, "board": {"name": "Alerts"}}


async def test_post_creates_once_and_answers_the_record(sim: RunningSimulator) -> None:
    async with client(sim) as cw:
        created = await cw.post("/service/tickets", {**TICKET, "externalXRef": "k-1"})
        found = await cw.get_list(
            "/service/tickets", {"conditions": equals_condition("externalXRef", "k-1")}
        )
    assert [t["id"] for t in found] == [created["id"]]
    assert sim.state.writes("desk", endpoint="/service/tickets", method="POST") == 1


async def test_a_refused_post_names_the_fields(sim: RunningSimulator) -> None:
    async with client(sim) as cw:
        with pytest.raises(WriteRejected) as caught:
            await cw.post("/service/tickets", {"summary": "x" * 101, "board": {"name": "Alerts"}})
    assert any(e.startswith("summary:") for e in caught.value.errors)
    assert any(e.startswith("company:") for e in caught.value.errors)
    assert sim.state.tickets("desk") == []


async def test_a_post_without_add_names_the_permission(sim: RunningSimulator) -> None:
    async with client(sim, public="readpub0001") as cw:
        with pytest.raises(PermissionDenied) as caught:
            await cw.post("/service/tickets", TICKET)
    assert caught.value.permission == "Service Desk > Service Tickets: Add"
    assert "Service Tickets: Add" in str(caught.value)


async def test_a_note_and_a_patch_without_edit_name_edit(sim: RunningSimulator) -> None:
    async with client(sim) as cw:
        ticket = await cw.post("/service/tickets", TICKET)
    path = f"/service/tickets/{ticket['id']}"
    async with client(sim, public="readpub0001") as cw:
        with pytest.raises(PermissionDenied) as note:
            await cw.post(f"{path}/notes", {"text": "x", "internalAnalysisFlag": True})
        with pytest.raises(PermissionDenied) as patch:
            await cw.patch(path, [{"op": "replace", "path": "summary", "value": "y"}])
    assert note.value.permission == patch.value.permission
    assert patch.value.permission == "Service Desk > Service Tickets: Edit"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="timeout_after_write", endpoint="/service/tickets", seconds=5),
        Fault(kind="error_after_write", endpoint="/service/tickets"),
    ],
    ids=["timeout", "500"],
)
async def test_an_unanswered_post_is_outcome_unknown_never_resent(
    sim: RunningSimulator, fault: Fault
) -> None:
    sim.state.add_fault("desk", fault)
    async with client(sim, timeout=0.5) as cw:
        with pytest.raises(WriteOutcomeUnknown):
            await cw.post("/service/tickets", TICKET)
    # it landed, and the client did not send it a second time
    assert sim.state.writes("desk", endpoint="/service/tickets", method="POST") == 1
    assert len(sim.state.tickets("desk")) == 1


@pytest.mark.parametrize("value", ['a"b', "a*", "", "a\\b", "a\nb"])
def test_a_condition_value_that_would_change_the_query_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        equals_condition("externalXRef", value)
