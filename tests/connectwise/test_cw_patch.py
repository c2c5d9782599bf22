"""``ConnectWiseClient.patch`` against the simulator over real HTTP: a JSON Patch array sent once,
and each refusal typed (400 with ConnectWise's field messages, 403 naming the Edit permission,
409, and a write whose outcome is unknown). Stand-in for cw-io's write path: drop with it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.connectwise.client import ConnectWiseClient
from monitor.data import bundled_file
from monitor.errors import PermissionDenied, WriteConflict, WriteOutcomeUnknown, WriteRejected
from monitor.simulator.scenario import Fault, load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator

SETUP = "/finance/accountingPackageSetup/1"
FLAG_OFF = [{"op": "replace", "path": "transferExpensesAsBillFlag", "value": False}]


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningSimulator]:
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as running:
        yield running


@pytest.fixture
def sim(demo: RunningSimulator) -> RunningSimulator:
    demo.state.reset()
    return demo


def patch(
    sim: RunningSimulator, company: str, public: str, private: str, timeout: float = 10
) -> Any:
    async def go() -> Any:
        async with ConnectWiseClient(
            sim.url, company, public, private, "client-id", tenant=company, timeout=timeout
        ) as client:
            return await client.patch(SETUP, FLAG_OFF)

    return asyncio.run(go())


def globex(sim: RunningSimulator, timeout: float = 10) -> Any:
    return patch(sim, "globex", "globexfix000001", "fake-globex-fix-private-0001", timeout)


def test_a_patch_answers_the_record_as_connectwise_now_holds_it(sim: RunningSimulator) -> None:
    record = globex(sim)
    assert record["transferExpensesAsBillFlag"] is False
    assert record["_info"]["updatedBy"] == "CwdriftFix"
    assert sim.state.writes("globex", method="PATCH") == 1


def test_a_403_names_the_edit_permission(sim: RunningSimulator) -> None:
    with pytest.raises(PermissionDenied) as raised:
        patch(sim, "initech", "initechfix00001", "fake-initech-fix-private-0001")
    assert raised.value.permission == "Finance > Accounting Interface: Edit"
    assert "fake-initech" not in str(raised.value)


def test_a_400_carries_connectwise_field_messages(sim: RunningSimulator) -> None:
    sim.state.add_fault(
        "globex",
        Fault(kind="validation_error", endpoint="/finance/*", field="transferExpensesAsBillFlag",
              message="Locked."),
    )  # fmt: skip
    with pytest.raises(WriteRejected) as raised:
        globex(sim)
    assert raised.value.errors == ("transferExpensesAsBillFlag: Locked.",)


def test_a_409_is_a_conflict(sim: RunningSimulator) -> None:
    sim.state.add_fault("globex", Fault(kind="status", status=409, methods=["PATCH"]))
    with pytest.raises(WriteConflict):
        globex(sim)


def test_a_write_that_times_out_is_unknown_and_never_sent_again(sim: RunningSimulator) -> None:
    sim.state.add_fault(
        "globex", Fault(kind="timeout_after_write", endpoint="/finance/*", seconds=5)
    )
    with pytest.raises(WriteOutcomeUnknown) as raised:
        globex(sim, timeout=0.5)
    assert "may or may not" in raised.value.message
    assert sim.state.writes("globex", method="PATCH") == 1
    assert sim.state.tenant("globex").accounting["transferExpensesAsBillFlag"] is False  # landed
