"""The commands end to end: report, waive, waivers, timeline, export, prune (real CLI + SQLite)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from freezegun import freeze_time
from report_history import History
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.store.database import Database
from monitor.store.tables import CheckRunTable, FindingTransitionTable, SettingChangeTable

FLAG = "accounting.transferExpensesAsBillFlag"


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def private_copy(history: History, tmp_path: Path) -> Path:
    """A config on a copy of the shared history, for commands that write."""
    source = Path(history.database.removeprefix("sqlite:///"))
    target = tmp_path / "copy.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    config = tmp_path / "cwdrift.yaml"
    config.write_text(
        history.config_file.read_text().replace(history.database, f"sqlite:///{target}")
    )
    return config


@pytest.mark.parametrize(
    ("args", "label", "violations"),
    [
        (["--week", "2026-W47"], "2026-W47", 3),
        (["--week", "2026-W46"], "2026-W46", 2),
        (
            ["--since", "2026-11-17T00:00:00Z", "--until", "2026-11-18"],
            "2026-11-17 to 2026-11-18",
            2,  # globex was fixed on 11-17
        ),
        (["--week", "2026-W47", "--tenant", "acme"], "2026-W47", 1),
    ],
)
def test_report_json_periods_and_tenants(
    sqlite_history: History, args: list[str], label: str, violations: int
) -> None:
    data = json.loads(run(sqlite_history.config_file, "report", *args, "--format", "json"))
    assert data["label"] == label
    assert len(data["violations"]) == violations


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("html", lambda body: b'<table id="violations"' in body and b"<script" not in body),
        ("pdf", lambda body: body.startswith(b"%PDF-")),
        ("csv", lambda body: body.startswith(b"section,tenant,tenant_name,item")),
        ("text", lambda body: b"Fleet compliance: " in body),
    ],
)
def test_report_formats_to_a_file(
    sqlite_history: History, tmp_path: Path, fmt: str, check: object
) -> None:
    out = tmp_path / f"report.{fmt}"
    run(
        sqlite_history.config_file,
        "report",
        "--week",
        "2026-W47",
        "--format",
        fmt,
        "--out",
        str(out),
    )
    assert callable(check) and check(out.read_bytes())


def test_report_refuses_an_unknown_format(sqlite_history: History) -> None:
    result = CliRunner().invoke(
        app, ["--config", str(sqlite_history.config_file), "report", "--format", "docx"]
    )
    assert result.exit_code != 0
    assert "html, text, json, csv, pdf" in str(result.exception)


def test_timeline_lists_each_period_of_a_setting(sqlite_history: History) -> None:
    out = run(
        sqlite_history.config_file, "timeline", "--tenant", "globex", "--setting", FLAG, "--json"
    )
    periods = json.loads(out)["periods"]
    assert [(p["start"], p["end"], p["value"], p["changed_by"]) for p in periods] == [
        ("2026-11-02T09:00:00+00:00", "2026-11-17T10:00:00+00:00", True, "admin1"),
        ("2026-11-17T10:00:00+00:00", "2026-11-19T12:00:00+00:00", False, "mwilson"),
        ("2026-11-19T12:00:00+00:00", None, True, "jsmith"),
    ]


def test_export_csv_and_json_for_auditors(sqlite_history: History) -> None:
    config = sqlite_history.config_file
    rows = list(csv.DictReader(io.StringIO(run(config, "export", "--tenant", "globex"))))
    assert rows == [
        {
            "observed_at": "2026-11-17T10:00:00+00:00",
            "setting": FLAG,
            "label": "Transfer Expenses as a Bill",
            "old": "true",
            "new": "false",
            "changed_by": "mwilson",
            "changed_at": "2026-11-17T08:30:00Z",
            "fixed_by_cwdrift": "",  # a person's change, not a cwdrift fix
        },
        {
            "observed_at": "2026-11-19T12:00:00+00:00",
            "setting": FLAG,
            "label": "Transfer Expenses as a Bill",
            "old": "false",
            "new": "true",
            "changed_by": "jsmith",
            "changed_at": "2026-11-19T11:00:00Z",
            "fixed_by_cwdrift": "",  # a person's change, not a cwdrift fix
        },
    ]
    data = json.loads(
        run(config, "export", "--tenant", "globex", "--since", "2026-11-18", "--format", "json")
    )
    assert [(c["new"], c["changed_by"]) for c in data["changes"]] == [(True, "jsmith")]


def test_waive_list_remove_and_log(sqlite_history: History, tmp_path: Path) -> None:
    config = private_copy(sqlite_history, tmp_path)
    with freeze_time("2026-11-24T10:00:00Z"):
        args = [
            "waive", "--tenant", "globex", "--rule", "transfer-expenses-as-bill-is-off",
            "--value", "on", "--reason", "migration week", "--by", "cfo@globex.example",
            "--expires", "7d", "--json",
        ]  # fmt: skip
        added = json.loads(run(config, *args))
        assert (added["action"], added["expires"]) == ("accepted", "2026-12-01T10:00:00Z")
        listed = json.loads(run(config, "waivers", "--tenant", "globex", "--json"))["waivers"]
        assert [(w["rule"], w["source"], w["expired"]) for w in listed] == [
            ("inventory-soh-option-is-on", "database", False),
            ("transfer-expenses-as-bill-is-off", "database", False),
        ]
        args = [
            "waive", "--remove", "--tenant", "globex", "--rule", "transfer-expenses-as-bill-is-off",
            "--by", "auditor", "--reason", "too risky",
        ]  # fmt: skip
        run(config, *args)
        log = json.loads(run(config, "waivers", "--log", "--json"))["events"]
    assert [(e["tenant"], e["action"], e["actor"], e["note"]) for e in log] == [
        ("globex", "added", "ana@msp.example", ""),
        ("globex", "added", "cfo@globex.example", ""),
        ("globex", "removed", "auditor", "too risky"),
    ]


def test_waive_needs_every_field(sqlite_history: History, tmp_path: Path) -> None:
    config = private_copy(sqlite_history, tmp_path)
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "waive", "--tenant", "acme", "--rule", "x", "--by", "me"],
    )
    assert result.exit_code != 0
    assert "missing --value, --reason, --expires" in str(result.exception)


def test_prune_keeps_every_change_and_transition(sqlite_history: History, tmp_path: Path) -> None:
    config = private_copy(sqlite_history, tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'copy.db'}")

    def counts() -> tuple[int, int, int]:
        with db.session() as session:
            return tuple(  # type: ignore[return-value]
                session.exec(select(func.count()).select_from(table)).one()
                for table in (CheckRunTable, SettingChangeTable, FindingTransitionTable)
            )

    before = counts()
    export_before = run(config, "export", "--tenant", "globex")
    with freeze_time("2027-06-01T00:00:00Z"):  # everything is older than the 90-day retention
        deleted = json.loads(run(config, "prune", "--json"))["deleted"]
    after = counts()
    db.dispose()
    assert deleted > 0
    assert after == (before[0] - deleted, before[1], before[2])
    assert run(config, "export", "--tenant", "globex") == export_before
