"""`make demo` as a newcomer meets it: headings that fit 80 columns, and every command it prints
runs as pasted into a new shell, after the demo (and its simulator) has gone."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from monitor.cli.app import app

SCRIPT = Path(sys.executable).parent / "cwdrift"
READ_ONLY = ("tenants", "history", "show", "timeline", "report", "status", "waivers")


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not SCRIPT.exists():
        pytest.skip("the cwdrift script is not installed next to this Python (make install)")
    workdir = tmp_path_factory.mktemp("demo") / "demo-out"
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CWDRIFT_")}
    try:
        result = CliRunner().invoke(app, ["demo", "--workdir", str(workdir)])
    finally:
        os.environ.update(saved)
    assert result.exit_code == 0, result.output
    return result.stdout


def printed_commands(output: str) -> list[str]:
    """Every shell line the demo prints: the transcript ($ ...) and the suggestions after it."""
    lines = output.splitlines()
    transcript = [line[2:] for line in lines if line.startswith("$ ")]
    start = next(i for i, line in enumerate(lines) if line.startswith("Next:"))
    suggested = [line.strip() for line in lines[start + 1 :] if line.startswith("  ")]
    return transcript + suggested


def subcommand(line: str) -> str:
    return re.split(r"\s+", line.split("--config", 1)[1].strip())[1]


def test_headings_fit_80_columns(demo_output: str) -> None:
    headings = [line for line in demo_output.splitlines() if line.endswith("─")]
    assert len(headings) == 7  # steps 0-5 and "Next"
    assert all(len(line) <= 80 for line in headings)
    assert not [line for line in headings if "…" in line]  # no title cut short


def test_printed_commands_are_quoted_and_one_per_line(demo_output: str) -> None:
    commands = printed_commands(demo_output)
    assert f"--setting {chr(39)}transfer expenses{chr(39)}" in "\n".join(commands)
    assert all(line.split()[0].endswith("cwdrift") for line in commands)


def test_printed_follow_ups_run_verbatim_in_a_fresh_shell(demo_output: str, tmp_path: Path) -> None:
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    runnable = [line for line in printed_commands(demo_output) if subcommand(line) in READ_ONLY]
    assert len(runnable) >= 7  # the transcript's tenants and history, and every suggestion
    for line in runnable:
        done = subprocess.run(
            ["/bin/sh", "-c", line],
            env=fresh,
            cwd=Path.cwd(),  # where the demo ran: its paths are relative to it
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert "warning" not in done.stderr, done.stderr


def test_the_printed_web_command_serves_the_demo_fleet(demo_output: str, tmp_path: Path) -> None:
    """The demo ends with the command that serves its database; run as printed (on a free
    port, so that a busy 8080 cannot fail it), it answers with the fleet, and stops on SIGTERM."""
    lines = demo_output.splitlines()
    assert lines[-2].strip().endswith(" web") and "http://127.0.0.1:8080/" in lines[-1]
    printed = lines[-2].strip()
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    process = subprocess.Popen(
        ["/bin/sh", "-c", f"exec {printed} --port 0"],
        env=fresh,
        cwd=Path.cwd(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the web command printed no address within 60 s"
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
        assert found, first
        fleet = httpx.get(found[1] + "/", timeout=30)
        assert fleet.status_code == 200
        for text in ("Fleet", "Acme Corporation", "Umbrella Corporation", "cannot verify"):
            assert text in fleet.text
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, process.stderr.read() if process.stderr else ""
