"""Every hint the command line gives is followed, as a person would, and leads to success.

Each test makes a command fail the way a newcomer would, reads the fix the error names, runs
exactly that (the command in backticks, or the option it suggests), and expects exit 0.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator

import pytest
from cli_env import Env

from monitor.cli import render
from monitor.cli.app import app
from monitor.errors import CwdriftError


@pytest.fixture
def acme(demo_env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """acme checked twice (Include Sales Tax turned off between), on a wide console."""
    monkeypatch.setattr(render.out, "_width", 200)  # a table cell is never folded mid-word
    assert demo_env.run("check", "--tenant", "acme")[0] == 0
    demo_env.sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
    assert demo_env.run("check", "--tenant", "acme")[0] == 1
    yield demo_env


def failure(env: Env, *args: str) -> str:
    """The one-line error a command ends with (what `cwdrift` prints after "error: ")."""
    result = env.runner.invoke(app, ["--config", str(env.config), *args])
    assert isinstance(result.exception, CwdriftError), result.output
    return str(result.exception)


def suggested(message: str) -> list[str]:
    """The command a hint names in backticks, as arguments (without the program name)."""
    commands = re.findall(r"`cwdrift ([^`]+)`", message)
    assert commands, f"no command in the hint: {message}"
    return shlex.split(commands[0])


def succeeds(env: Env, *args: str) -> str:
    code, out = env.run(*args)
    assert code == 0, out
    return out


def test_timeline_of_an_unknown_setting_points_at_show_which_lists_the_keys(acme: Env) -> None:
    message = failure(acme, "timeline", "--tenant", "acme", "--setting", "sales taxes")
    listing = succeeds(acme, *suggested(message))
    assert "accounting.includeSalesTaxFlag" in listing  # show prints each setting's key
    out = succeeds(
        acme, "timeline", "--tenant", "acme", "--setting", "accounting.includeSalesTaxFlag"
    )
    assert "Include Sales Tax" in out


def test_timeline_takes_a_name_like_history_and_an_ambiguous_one_lists_keys(acme: Env) -> None:
    by_name = succeeds(acme, "timeline", "--tenant", "acme", "--setting", "SALES TAX", "--json")
    assert json.loads(by_name)["setting"] == "accounting.includeSalesTaxFlag"
    message = failure(acme, "timeline", "--tenant", "acme", "--setting", "tax")
    assert "accounting.includeSalesTaxFlag (Include Sales Tax)" in message
    [key] = re.findall(r"e\.g\. --setting ([\w./]+)", message)
    succeeds(acme, "timeline", "--tenant", "acme", "--setting", key)


def test_history_timeline_without_a_setting_shows_how(acme: Env) -> None:
    message = failure(acme, "history", "--tenant", "acme", "--timeline")
    out = succeeds(acme, *suggested(message))
    assert "Include Sales Tax" in out and "off" in out


def test_history_of_an_unknown_rule_points_at_the_rule_ids_in_show(acme: Env) -> None:
    message = failure(acme, "history", "--tenant", "acme", "--rule", "sales-tax")
    listing = succeeds(acme, *suggested(message))
    assert "include-sales-tax-is-on" in listing
    out = succeeds(acme, "history", "--tenant", "acme", "--rule", "include-sales-tax-is-on")
    assert "Include Sales Tax" in out


@pytest.mark.parametrize(
    "command",
    [
        ("waive", "--tenant", "acme", "--rule", "include-sales-tax-is-on", "--value", "off",
         "--reason", "tax moves to Avalara", "--by", "jo@acme.example"),
        ("silence", "add", "--tenant", "acme", "--reason", "tax migration", "--author", "ana"),
    ],
    ids=["waive", "silence add"],
)  # fmt: skip
def test_expires_suggests_a_duration_and_a_date_and_both_work(
    acme: Env, command: tuple[str, ...]
) -> None:
    message = failure(acme, *command, "--expires", "next tuesday")
    durations = re.findall(r"--expires (\d+[smhdw])\b", message)
    dates = re.findall(r"--expires (\d{4}-\d{2}-\d{2})\b", message)
    assert durations == ["2d"] and len(dates) == 1
    succeeds(acme, *command, "--expires", durations[0])
    succeeds(acme, *command, "--expires", dates[0])


def test_an_expiry_in_the_past_suggests_a_duration(acme: Env) -> None:
    waive = ("waive", "--tenant", "acme", "--rule", "include-sales-tax-is-on", "--value", "off")
    waive += ("--reason", "r", "--by", "jo")
    message = failure(acme, *waive, "--expires", "2020-01-01")
    [duration] = re.findall(r"--expires (\d+[smhdw])\b", message)
    succeeds(acme, *waive, "--expires", duration)


def test_waiver_value_is_checked_against_what_the_rule_can_read(acme: Env) -> None:
    waive = ("waive", "--tenant", "acme", "--rule", "include-sales-tax-is-on")
    waive += ("--reason", "r", "--by", "jo", "--expires", "30d")
    message = failure(acme, *waive, "--value", "disabled-ish")
    assert "--value" in message and "'on', 'off', 'not set'" in message
    out = json.loads(succeeds(acme, *waive, "--value", "OFF", "--json"))
    assert out["value"] == "off"  # stored as findings show it, so it matches
    assert out["warnings"] == []  # it fails with exactly "off" now


def test_ui_package_names_are_accepted_and_stored_as_the_api_identifier(acme: Env) -> None:
    waive = ("waive", "--tenant", "acme", "--rule", "accounting-package-is-other")
    waive += ("--reason", "moving to QBO", "--by", "jo", "--expires", "90d", "--json")
    out = json.loads(succeeds(acme, *waive, "--value", "QuickBooks"))
    assert out["value"] == "QB99"
    # acme's package is Other: the rule passes, and the person is told so
    assert out["warnings"] == [
        "accounting-package-is-other passes now (actual 'Other'); the waiver changes nothing "
        "until it fails with exactly 'QB99'"
    ]
    message = failure(acme, *waive, "--value", "Xero")
    assert "'QuickBooks' for 'QB99'" in message


def test_waiving_a_passing_rule_warns_on_stderr(acme: Env) -> None:
    result = acme.runner.invoke(
        app,
        ["--config", str(acme.config), "waive", "--tenant", "acme",
         "--rule", "transfer-expenses-as-bill-is-off", "--value", "on", "--reason", "r",
         "--by", "jo", "--expires", "7d"],
    )  # fmt: skip
    assert result.exit_code == 0
    assert "warning: transfer-expenses-as-bill-is-off passes now (actual 'off')" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("waive", "--tenant", "acme", "--value", "off", "--reason", "r", "--by", "jo",
         "--expires", "2d"),
        ("silence", "add", "--tenant", "acme", "--reason", "r", "--author", "ana",
         "--expires", "2d"),
    ],
    ids=["waive", "silence add"],
)  # fmt: skip
def test_an_unknown_rule_points_at_the_baseline_listing(
    acme: Env, command: tuple[str, ...]
) -> None:
    message = failure(acme, *command, "--rule", "sales-tax-on")
    listing = succeeds(acme, *suggested(message))
    assert "include-sales-tax-is-on" in listing
    succeeds(acme, *command, "--rule", "include-sales-tax-is-on")


def test_an_unknown_silence_id_points_at_the_list(acme: Env) -> None:
    silence = ("silence", "add", "--tenant", "acme", "--reason", "r", "--author", "ana")
    succeeds(acme, *silence, "--expires", "1h")
    message = failure(acme, "silence", "expire", "99")
    [silence] = json.loads(succeeds(acme, *suggested(message), "--json"))["silences"]
    succeeds(acme, "silence", "expire", str(silence["id"]))
