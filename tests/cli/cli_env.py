"""What an end-to-end CLI test gets: the simulator, a Slack sink, a config, and a runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.simulator.server import RunningSimulator
from monitor.simulator.slack import SlackSink


@dataclass
class Env:
    sim: RunningSimulator
    slack: SlackSink
    config: Path
    runner: CliRunner

    def run(self, *args: str) -> tuple[int, str]:
        result = self.runner.invoke(app, ["--config", str(self.config), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout
