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


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_main(*args: str, env: dict[str, str | None] | None = None) -> Outcome:
    """``cwdrift ARGS`` through the console entry point ``main()`` (its error handling and exit
    codes included), in this process; ``env`` values of None unset a variable."""
    import sys

    from monitor.cli.app import main

    runner = CliRunner()
    with runner.isolation(env=env) as (stdout, stderr, _):
        argv, sys.argv = sys.argv, ["cwdrift", *args]
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        return Outcome(code, stdout.getvalue().decode(), stderr.getvalue().decode())


def run_console(*args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> Outcome:
    """``python -m monitor ARGS`` in a subprocess: the real console entry, nothing shared."""
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)
