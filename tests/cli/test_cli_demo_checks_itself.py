"""``cwdrift demo`` checks its own results: a demo whose checks fail unexpectedly exits 1.

Both runs are the real command in a subprocess. The broken one sends the checks' HTTP through a
proxy that is not there (the ConnectWise session honours HTTP_PROXY), so every read fails: the
commands still "run", and only the demo's own expectations can tell.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def demo(workdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**clean, "COLUMNS": "200", **env},
    )


def test_the_demo_exits_0_when_everything_goes_as_the_scenario_says(tmp_path: Path) -> None:
    result = demo(tmp_path / "demo")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "did not go as expected" not in result.stdout


def test_the_demo_exits_1_naming_each_surprise_when_its_checks_fail(tmp_path: Path) -> None:
    result = demo(tmp_path / "demo", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "The demo did not go as expected:" in result.stdout
    assert "acme is error after the first check, expected compliant" in result.stdout
    assert "no alert reached the Slack sink" in result.stdout
