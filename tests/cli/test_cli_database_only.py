"""Commands that only read the database work without the ConnectWise (and channel) settings.

The demo config takes ``site`` from ``${CWDRIFT_SIM_URL}`` and the Slack webhook from
``${CWDRIFT_DEMO_SLACK_URL}``: a new shell has neither, and ``show`` or ``report`` must still work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_configs import config, tenant
from cli_env import Env, run_main

from monitor.errors import ConfigError
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config

UNSET = {"CWDRIFT_SIM_URL": None, "CWDRIFT_DEMO_SLACK_URL": None}

# Every read-only command, with --json where it has one (parsed), or a JSON format.
READ_ONLY = [
    ("report", "--format", "json"),
    ("history", "--tenant", "globex", "--json"),
    (
        "timeline",
        "--tenant",
        "globex",
        "--setting",
        "accounting.transferExpensesAsBillFlag",
        "--json",
    ),
    ("show", "--tenant", "globex", "--json"),
    ("export", "--tenant", "globex", "--format", "json"),
    ("status", "--json"),
    ("waivers", "--json"),
    ("silence", "list", "--json"),
]


@pytest.fixture
def checked(demo_env: Env) -> Env:
    """The demo's tenants checked once (with the simulator), so the database has history."""
    assert demo_env.run("check", "--tenant", "globex", "--tenant", "acme")[0] == 1
    return demo_env


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c[:2]))
def test_read_only_commands_need_no_connectwise_variables(
    checked: Env, command: tuple[str, ...]
) -> None:
    outcome = run_main("--config", str(checked.config), *command, env=UNSET)
    assert outcome.code == 0, outcome.stderr
    json.loads(outcome.stdout)
    assert outcome.stderr == ""  # no warning, no error: nothing is missing for this command


def test_the_data_is_really_there(checked: Env) -> None:
    outcome = run_main("--config", str(checked.config), "show", "--tenant", "globex", "--json")
    settings = json.loads(outcome.stdout)["settings"]
    assert settings["accounting.transferExpensesAsBillFlag"]["value"] is True


def test_check_still_names_the_missing_variable(checked: Env) -> None:
    outcome = run_main("--config", str(checked.config), "check", "--tenant", "acme", env=UNSET)
    assert outcome.code == 2
    lines = outcome.stderr.splitlines()
    assert lines and all("is not set" in line for line in lines), outcome.stderr
    assert "tenants[0].site: environment variable CWDRIFT_SIM_URL is not set" in lines[0]
    assert "notify.slack[0].webhook_url" in outcome.stderr


def test_a_deferred_value_is_refused_where_connectwise_would_be_used(tmp_path: Path) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config(tenants=tenant(site="${CWDRIFT_TEST_NEVER_SET_SITE}")))
    loaded = load_config(path, env={}, connectwise=False)
    assert loaded.config.tenants[0].site.endswith(".invalid")  # a stand-in that never resolves
    with pytest.raises(ConfigError, match="CWDRIFT_TEST_NEVER_SET_SITE is not set") as caught:
        Runtime.open(loaded)
    assert f"{path}:5: tenants[0].site" in str(caught.value)


def test_values_the_database_needs_are_never_deferred(tmp_path: Path) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config().replace("sqlite:///cwdrift.db", "${CWDRIFT_TEST_NEVER_SET_DB}"))
    with pytest.raises(ConfigError, match="database: environment variable"):
        load_config(path, env={}, connectwise=False)


def test_a_literal_secret_warns_once_per_command(tmp_path: Path) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(
        config(tenants=tenant().replace("${CWDRIFT_TEST_UNSET_KEY:-not-a-real-key}", "x"))
    )
    outcome = run_main("--config", str(path), "status", "--json")
    assert outcome.code == 0, outcome.stderr
    json.loads(outcome.stdout)
    [warning] = outcome.stderr.splitlines()
    assert warning.startswith("warning: ") and "tenants[0].private_key: literal secret" in warning


@pytest.mark.slow
def test_run_logs_the_literal_secret_warning_once_as_json(tmp_path: Path) -> None:
    """With JSON logs, the warning is a JSON log line too: no free text in front of the logs."""
    literal = tenant(site="https://127.0.0.1:9").replace(
        "${CWDRIFT_TEST_UNSET_KEY:-not-a-real-key}", "literal-key"
    )
    path = tmp_path / "cwdrift.yaml"
    # One connection attempt, refused at once: the check at start ends quickly.
    head = "connectwise: {max_attempts: 1}\ndaemon:\n  schedule: {every: 1h, jitter: 0s}\n"
    path.write_text(config(head, literal))
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(path), "run"],
            stdout=log_file,
            stderr=log_file,
            env=os.environ.copy(),
        )
    try:
        deadline = time.monotonic() + 60  # a bound on a poll, never a synchronisation delay
        while "daemon running" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    warnings = [r for r in records if "literal secret" in r["message"]]
    assert [(w["level"], "tenants[0].private_key" in w["message"]) for w in warnings] == [
        ("warning", True)
    ]
    assert "literal-key" not in log_path.read_text()
