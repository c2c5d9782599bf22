"""Fixtures for fix tests: the demo simulator and a Slack sink over real HTTP, per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fix_env import FixEnv

from monitor.data import bundled_file
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app
from monitor.simulator.state import SimulatorState


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[RunningSimulator, SlackSink, str]]:
    """One simulator and one Slack sink per module (each test resets them)."""
    sink = SlackSink()
    state = SimulatorState(load_scenario(bundled_file("scenarios/demo.yaml")))
    with running_simulator(state) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        yield sim, sink, slack_url


def make_env(
    servers: tuple[RunningSimulator, SlackSink, str],
    directory: Path,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> FixEnv:
    sim, sink, slack_url = servers
    sim.state.reset()
    sink.messages.clear()
    monkeypatch.setenv("FIX_TEST_SLACK_URL", f"{slack_url}/services/T0/B0/fix")
    return FixEnv(sim=sim, slack=sink, directory=directory, database=database)


@pytest.fixture
def env(
    servers: tuple[RunningSimulator, SlackSink, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FixEnv:
    """The demo simulator reset, a Slack sink emptied, a fresh SQLite database; no tenant yet."""
    return make_env(servers, tmp_path, f"sqlite:///{tmp_path}/cwdrift.db", monkeypatch)
