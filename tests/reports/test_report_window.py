"""What a report says about its window: the default is this week to date, built by REAL checks.

The story (2026-W49 is Monday 11-30 to Monday 12-07; all times UTC):

    11-27 09:00  (W48) check acme, globex, initech: globex fails "Transfer Expenses as a Bill"
    12-01 09:00  check acme and globex only: initech is not checked this week
    12-02 10:00  jsmith turns acme's "Include Sales Tax" off; check acme at 11:00 (drift)
    12-02 12:30  mwilson turns it back on; check acme at 13:00 (fixed after 2h)
    12-02 14:00  the report is made (umbrella, whose keys are revoked, was never checked)
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from report_history import History, write_config
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.data import bundled_file
from monitor.jobs.check import check_many
from monitor.jobs.runtime import Runtime
from monitor.settings import LoadedConfig, load_config
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator

NOW = "2026-12-02T14:00:00Z"
TAX_RULE = "include-sales-tax-is-on"
EXPENSES_RULE = "transfer-expenses-as-bill-is-off"


@dataclass
class Story:
    config_file: Path


def check(loaded: LoadedConfig, at: str, *tenant_ids: str) -> None:
    async def run(rt: Runtime) -> None:
        async with rt:
            await check_many(rt, [rt.config.tenant(t) for t in tenant_ids])

    with freeze_time(at, real_asyncio=True):
        rt = Runtime.open(loaded)
        try:
            asyncio.run(run(rt))
        finally:
            rt.db.dispose()


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    workdir = tmp_path_factory.mktemp("report-window")
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as sim:
        config_file = write_config(
            workdir / "cwdrift.yaml", f"sqlite:///{workdir}/cwdrift.db", sim.url
        )
        loaded = load_config(config_file)
        check(loaded, "2026-11-27T09:00:00Z", "acme", "globex", "initech")
        check(loaded, "2026-12-01T09:00:00Z", "acme", "globex")
        with freeze_time("2026-12-02T10:00:00Z"):
            sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
        check(loaded, "2026-12-02T11:00:00Z", "acme")
        with freeze_time("2026-12-02T12:30:00Z"):
            sim.state.set_accounting("acme", "includeSalesTaxFlag", True, by="mwilson")
        check(loaded, "2026-12-02T13:00:00Z", "acme")
    yield Story(config_file)


def report_json(config: Path, *args: str, at: str = NOW) -> dict[str, Any]:
    with freeze_time(at):
        result = CliRunner().invoke(app, ["--config", str(config), "report", *args, "-f", "json"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def by_rule(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["tenant"], i["rule"]): i for i in items}


def test_the_default_report_is_this_week_to_date_with_todays_drift_and_fix(story: Story) -> None:
    data = report_json(story.config_file)
    assert (data["label"], data["since"], data["until"]) == (
        "2026-W49, to date",
        "2026-11-30T00:00:00+00:00",
        "2026-12-02T14:00:00+00:00",
    )
    new = by_rule(data["new"])[("acme", TAX_RULE)]
    assert (new["at"], new["actual"]) == ("2026-12-02T11:00:00+00:00", "off")
    fixed = by_rule(data["resolved"])[("acme", TAX_RULE)]
    assert (fixed["at"], fixed["time_to_fix_hours"]) == ("2026-12-02T13:00:00+00:00", 2.0)
    assert data["median_time_to_fix_hours"] == 2.0
    assert [(c["tenant"], c["new"], c["changed_by"]) for c in data["changes"]] == [
        ("acme", False, "jsmith"),
        ("acme", True, "mwilson"),
    ]
    # the trend ends at now; the weeks before it end on their Mondays
    assert [(p["week"], p["until"]) for p in data["trend"][-3:]] == [
        ("2026-W47", "2026-11-23T00:00:00+00:00"),
        ("2026-W48", "2026-11-30T00:00:00+00:00"),
        ("2026-W49", "2026-12-02T14:00:00+00:00"),
    ]


def test_last_week_is_the_last_full_week_and_the_current_week_is_cut_at_now(
    story: Story,
) -> None:
    last = report_json(story.config_file, "--last-week")
    assert (last["label"], last["until"]) == ("2026-W48", "2026-11-30T00:00:00+00:00")
    # the first checks' failures were new then; today's drift and fix are not in it
    assert sorted(by_rule(last["new"])) == [
        ("globex", EXPENSES_RULE),
        ("initech", "role-grants-invoicing-delete-all"),
    ]
    assert last["resolved"] == last["changes"] == []
    # --week of the current week is the same report as the default: to date, never beyond now
    this_week = report_json(story.config_file, "--week", "2026-W49")
    assert this_week == report_json(story.config_file)


def test_a_tenant_checked_last_week_is_not_checked_in_this_period(story: Story) -> None:
    unchecked = {u["tenant"]: u for u in report_json(story.config_file)["unchecked"]}
    assert set(unchecked) == {"initech", "umbrella"}
    initech = unchecked["initech"]
    assert (initech["state"], initech["last_checked_at"], initech["summary"]) == (
        "not_checked",
        "2026-11-27T09:00:00+00:00",
        "not checked in this period (last checked 2026-11-27 09:00 UTC)",
    )
    umbrella = unchecked["umbrella"]
    assert (umbrella["state"], umbrella["summary"]) == ("never", "never checked")
    # Last week initech was checked: it is not listed then.
    last = report_json(story.config_file, "--last-week")
    assert [u["tenant"] for u in last["unchecked"]] == ["umbrella"]


def test_a_tenant_first_checked_after_the_period_is_not_called_never_checked(
    story: Story,
) -> None:
    early = report_json(story.config_file, "--week", "2026-W47")
    assert {u["tenant"]: u["summary"] for u in early["unchecked"]} == {
        "acme": "not checked in this period (first checked later, 2026-11-27 09:00 UTC)",
        "globex": "not checked in this period (first checked later, 2026-11-27 09:00 UTC)",
        "initech": "not checked in this period (first checked later, 2026-11-27 09:00 UTC)",
        "umbrella": "never checked",
    }


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--week", "2026-W49"),
        ("--since", "2026-11-25", "--until", "2027-01-01"),  # an end in the future
    ],
)
def test_ages_and_durations_never_run_past_now(story: Story, args: tuple[str, ...]) -> None:
    data = report_json(story.config_file, *args)
    now = datetime.fromisoformat(NOW)
    assert datetime.fromisoformat(data["until"]) == now
    violation = by_rule(data["violations"])[("globex", EXPENSES_RULE)]
    first_failed = datetime.fromisoformat(violation["first_failed_at"])
    assert first_failed == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert violation["age_hours"] == (now - first_failed).total_seconds() / 3600  # 125h
    for v in data["violations"]:
        age = now - datetime.fromisoformat(v["first_failed_at"])
        assert v["age_hours"] == round(age.total_seconds() / 3600, 1)
    assert all(datetime.fromisoformat(p["until"]) <= now for p in data["trend"])
    for event in data["resolved"]:
        assert datetime.fromisoformat(event["at"]) <= now


def test_a_week_that_has_not_begun_is_refused(story: Story) -> None:
    with freeze_time(NOW):
        result = CliRunner().invoke(
            app, ["--config", str(story.config_file), "report", "--week", "2026-W50"]
        )
    assert result.exit_code != 0
    assert "2026-W50 has not started yet" in str(result.exception)


def test_a_london_report_across_the_october_change_lists_eight_distinct_weeks(
    sqlite_history: History, tmp_path: Path
) -> None:
    config = tmp_path / "london.yaml"
    config.write_text(
        sqlite_history.config_file.read_text().replace("timezone: UTC", "timezone: Europe/London")
    )
    # 2026-W47 in London; British Summer Time ended on Sunday 2026-10-25, inside the trend.
    data = report_json(config, "--week", "2026-W47")
    weeks = [p["week"] for p in data["trend"]]
    assert weeks == [f"2026-W{n}" for n in range(40, 48)]
    # each week ends at a London Monday midnight: 23:00 UTC in summer, 00:00 UTC in winter
    assert [p["until"] for p in data["trend"][:5]] == [
        "2026-10-04T23:00:00+00:00",
        "2026-10-11T23:00:00+00:00",
        "2026-10-18T23:00:00+00:00",
        "2026-10-26T00:00:00+00:00",
        "2026-11-02T00:00:00+00:00",
    ]


def test_pdf_is_refused_on_a_terminal(sqlite_history: History, tmp_path: Path) -> None:
    """A real pseudo-terminal as stdout: the refusal comes before any PDF is built."""
    main, terminal = pty.openpty()
    try:
        command = [sys.executable, "-m", "monitor", "--config", str(sqlite_history.config_file)]
        result = subprocess.run(
            [*command, "report", "--last-week", "-f", "pdf"],
            stdout=terminal,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=120,
            check=False,
            env={**os.environ, "COLUMNS": "200"},
        )
    finally:
        os.close(terminal)
        os.close(main)
    assert result.returncode == 2
    assert b"PDF output is binary and stdout is a terminal" in result.stderr
    assert b"--out report.pdf" in result.stderr
