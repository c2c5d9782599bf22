"""Fixtures for the simulator tests: the demo scenario served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sim_support import FIXED_NOW, demo_scenario

from monitor.simulator.server import RunningSimulator, running_simulator
from monitor.simulator.state import SimulatorState


@pytest.fixture(scope="module")
def demo_server() -> Iterator[RunningSimulator]:
    """One demo server per test module, with a fixed clock for ``_info`` stamps."""
    with running_simulator(SimulatorState(demo_scenario(), now=lambda: FIXED_NOW)) as running:
        yield running


@pytest.fixture
def sim(demo_server: RunningSimulator) -> RunningSimulator:
    """The demo server, reset to the scenario as loaded before each test."""
    demo_server.state.reset()
    return demo_server


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the session: building TLS contexts per test is slow and tests nothing."""
    with httpx.Client(timeout=10) as client:
        yield client
