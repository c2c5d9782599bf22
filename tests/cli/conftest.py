"""End-to-end fixtures: the simulator and a Slack sink over real HTTP, a config pointing at them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import Env
from typer.testing import CliRunner

from monitor.data import bundled_file
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The bundled demo scenario and demo config, on fresh loopback ports and a fresh database."""
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    sink = SlackSink()
    config = tmp_path / "cwdrift.yaml"
    shutil.copyfile(bundled_file("demo.yaml"), config)
    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        monkeypatch.setenv("CWDRIFT_SIM_URL", sim.url)
        monkeypatch.setenv("CWDRIFT_DEMO_SLACK_URL", f"{slack_url}/services/T0/B0/test")
        yield Env(sim=sim, slack=sink, config=config, runner=CliRunner())
