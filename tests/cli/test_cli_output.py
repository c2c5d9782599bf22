"""Readable, consistent human output: `show` filters, one time format, live nodes in `status`,
progress bars only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cli_env import Env
from freezegun import freeze_time

from monitor.cli import render
from monitor.cli.app import app
from monitor.clock import utcnow
from monitor.errors import ConfigError
from monitor.settings import load_config
from monitor.store.daemon_tables import record_beat, record_stop
from monitor.store.database import Database

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")  # how a raw isoformat() would look


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.out, "_width", 200)  # a cell is never folded mid-word


@pytest.fixture
def checked(demo_env: Env, wide: None) -> Env:
    """acme, globex and initech checked on 2026-11-02 at 09:00."""
    with freeze_time("2026-11-02T09:00:00Z", real_asyncio=True):
        for tenant in ("acme", "globex", "initech"):
            demo_env.run("check", "--tenant", tenant)
    return demo_env


def show(env: Env, *args: str) -> dict[str, object]:
    code, out = env.run("show", "--tenant", *args, "--json")
    assert code == 0, out
    data: dict[str, object] = json.loads(out)
    return data


def test_show_filters_by_failing_rule_and_setting(checked: Env) -> None:
    failing = show(checked, "initech", "--failing")
    assert list(failing["findings"]) == ["role-grants-invoicing-delete-all"]  # type: ignore[arg-type]
    assert list(failing["settings"]) == ["permission.finance.invoicing.delete"]  # type: ignore[arg-type]

    by_rule = show(checked, "globex", "--rule", "transfer-expenses-as-bill-is-off")
    assert list(by_rule["findings"]) == ["transfer-expenses-as-bill-is-off"]  # type: ignore[arg-type]
    assert list(by_rule["settings"]) == ["accounting.transferExpensesAsBillFlag"]  # type: ignore[arg-type]

    by_name = show(checked, "acme", "--setting", "SALES TAX")
    assert list(by_name["settings"]) == ["accounting.includeSalesTaxFlag"]  # type: ignore[arg-type]
    assert list(by_name["findings"]) == ["include-sales-tax-is-on"]  # type: ignore[arg-type]

    assert show(checked, "acme", "--failing")["findings"] == {}  # compliant
    result = checked.runner.invoke(
        app, ["--config", str(checked.config), "show", "--tenant", "acme", "--rule", "nope"]
    )
    assert isinstance(result.exception, ConfigError) and "--rule" in str(result.exception)


def test_show_tells_unknown_apart_from_the_level_none(checked: Env) -> None:
    code, out = checked.run("show", "--tenant", "initech")
    assert code == 0
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    # the permission level None, read from ConnectWise
    assert re.search(r"│ fail\s+│ All\s+│ None\s+│", rows["role-grants-invoicing-delete-all"])
    # a rule that could not read its setting: unknown, with no value at all
    assert re.search(r"│ unknown\s+│ Account\s+│ —\s+│", rows["cogs-segments-are-typed-account"])
    # a section cwdrift could not read is named as unknown, with the reason
    assert re.search(r"^unknown role\.\*: .+", out, re.MULTILINE)


def test_one_time_format_everywhere(checked: Env) -> None:
    with freeze_time("2026-11-02T09:30:00Z", real_asyncio=True):
        checked.run(
            "waive", "--tenant", "globex", "--rule", "transfer-expenses-as-bill-is-off",
            "--value", "on", "--reason", "r", "--by", "jo", "--expires", "2026-12-01",
        )  # fmt: skip
        checked.run(
            "silence", "add", "--tenant", "acme", "--reason", "r", "--author", "ana",
            "--expires", "3d",
        )  # fmt: skip
        outputs = {
            args: checked.run(*args)[1]
            for args in (
                ("tenants",),
                ("waivers",),
                ("waivers", "--log"),
                ("silence", "list"),
                ("status",),
                ("history", "--tenant", "globex"),
                ("show", "--tenant", "globex", "--failing"),
            )
        }
    for args, out in outputs.items():
        assert not ISO.search(out), f"{' '.join(args)} printed a raw ISO time:\n{out}"
    assert "2026-11-02 09:00 UTC" in outputs[("tenants",)]
    assert "2026-12-01 00:00 UTC" in outputs[("waivers",)]
    assert "2026-11-02 09:30 UTC" in outputs[("waivers", "--log")]
    assert "until 2026-11-05 09:30 UTC" in outputs[("silence", "list")]
    assert "2026-11-02 09:00 UTC" in outputs[("status",)]


def test_status_counts_only_live_nodes(checked: Env) -> None:
    db = Database(load_config(checked.config).config.database)
    now = utcnow()
    with db.session() as session:
        old = now - timedelta(days=30)
        for node, at in (("copied-from-sqlite", old), ("stopped", old), ("alive", now)):
            record_beat(
                session, node_id=node, hostname="h", pid=1, started_at=at, version="1",
                role="single", now=at,
            )  # fmt: skip
        record_stop(session, "stopped", old)
        session.commit()
    code, out = checked.run("status")
    assert code == 0
    assert "daemon: running (1 live node; 2 stopped or silent, not counted)" in out
    _, raw = checked.run("status", "--json")
    assert len(json.loads(raw)["daemon"]["nodes"]) == 3  # --json keeps every row, with alive


def on_a_terminal(env: Env, *args: str) -> str:
    """Run cwdrift with stdout and stderr on a pseudo-terminal; everything it wrote."""
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "monitor", "--config", str(env.config), *args]
    proc = subprocess.Popen(
        command, stdout=terminal, stderr=terminal, env={**os.environ, "TERM": "xterm"}
    )
    os.close(terminal)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    proc.wait(timeout=120)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def history(demo_env: Env) -> Iterator[Env]:
    demo_env.run("check", "--tenant", "acme")
    demo_env.sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
    demo_env.run("check", "--tenant", "acme")
    yield demo_env


def test_progress_shows_on_a_terminal_only(history: Env, tmp_path: Path) -> None:
    assert "checking tenants" in on_a_terminal(history, "check", "--tenant", "acme")
    assert "checking tenants" not in on_a_terminal(history, "check", "--tenant", "acme", "--json")
    out = tmp_path / "acme.csv"
    assert "exporting acme" in on_a_terminal(
        history, "export", "--tenant", "acme", "--out", str(out)
    )
    assert "accounting.includeSalesTaxFlag" in out.read_text()
    # not a terminal: nothing but the data
    code, csv = history.run("export", "--tenant", "acme")
    assert code == 0 and csv.splitlines()[0].startswith("observed_at,setting")
    assert "exporting" not in csv
