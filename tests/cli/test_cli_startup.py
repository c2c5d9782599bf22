"""Start-up: a light command imports only what it needs (issue 16), checked without timing.

Each case runs the real console entry (``monitor.cli.app:main``) in a fresh interpreter and
reads ``sys.modules`` as the command exits. ``cwdrift --help`` and ``--version`` need typer and
rich only; every group's and command's ``--help`` also pydantic (typer builds its parameter
converters with it), but not the config, the store, ConnectWise, the use cases, reports, the
web view or the simulator; ``cwdrift history`` needs the config and the store's history tables,
and nothing that sends, serves, schedules, renders or migrates; ``cwdrift check`` (against the
simulator, with no alert channel and a store already at head) ConnectWise, the store and the
use cases, but no sender, no Alembic, no Jinja2 and, on SQLite, no PostgreSQL dialect.
How long they take is measured in bench/startup_bench.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.core.snapshot import CredentialMode, Setting, Snapshot
from monitor.store.database import Database

# Runs each argv through main() in one fresh process (SystemExit caught), then writes the exit
# codes, the output and every module imported to the file named in argv[1].
PROBE = """
import json, sys, io, contextlib
from monitor.cli.app import main
report, runs = sys.argv[1], json.loads(sys.argv[2])
results = []
for argv in runs:
    sys.argv = ["cwdrift", *argv]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    results.append({"argv": argv, "code": code, "stdout": out.getvalue()})
with open(report, "w") as f:
    json.dump({"results": results, "modules": sorted(sys.modules)}, f)
"""

# Heavy third-party packages no light command may import (their top-level names).
NEVER = {
    "aiohttp",  # the HTTP engine under httpx: ConnectWise and Slack
    "aiosmtplib",  # e-mail alerts
    "alembic",  # migrations: only commands that migrate
    "apscheduler",  # the daemon's clock (and cron expressions in a config)
    "httpx",
    "jinja2",  # reports, e-mail bodies, the web view's pages
    "procrastinate",  # cluster mode
    "prometheus_client",  # /metrics
    "psycopg",  # PostgreSQL (these cases use SQLite)
    "slack_sdk",
    "starlette",  # the web view and the simulator
    "uvicorn",
    "weasyprint",  # PDF reports
}
# ...and for any --help, the config file reader and the store too; for the root --help and
# --version, pydantic as well.
NOT_FOR_HELP = NEVER | {"orjson", "sqlalchemy", "sqlmodel", "yaml"}
NOT_FOR_ROOT = NOT_FOR_HELP | {"pydantic", "pydantic_core"}

# Parts of cwdrift a light command must not load (module name prefixes).
NOT_OURS = (
    "monitor.jobs",
    "monitor.reports",
    "monitor.web",
    "monitor.simulator",
    "monitor.daemon.node",
    "monitor.daemon.loop",
    "monitor.daemon.mode",
    "monitor.daemon.scheduler",
    "monitor.daemon.cluster.scheduler",
    "monitor.daemon.cluster.queue",
    "monitor.connectwise.client",
    "monitor.connectwise.session",
    "monitor.connectwise.transport",
    "monitor.connectwise.collect",
    "monitor.alerts.notify",
    "monitor.alerts.channels",
    "monitor.alerts.slack",
    "monitor.alerts.email",
    "monitor.alerts.ticket_sender",
    "monitor.core.baseline",  # the rule kinds: commands that evaluate or validate a baseline
    "monitor.core.rules",
    "monitor.cli.fix_run",
    "monitor.observability",
)
# ...and for --help and --version, the config and the store too.
NOT_OURS_FOR_HELP = (*NOT_OURS, "monitor.settings", "monitor.store", "monitor.alerts")


def every_command() -> list[list[str]]:
    """Every group and command of the root command, as the words that name it."""
    from typer.main import get_command

    from monitor.cli.app import app

    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return [path for path in walk(get_command(app), []) if path]


HELP_RUNS = [[*command, "--help"] for command in every_command()]

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = "accounting.transferExpensesAsBillFlag"


def probe(tmp_path: Path, runs: Sequence[Sequence[str]]) -> dict[str, object]:
    report = tmp_path / "probe.json"
    env = {**os.environ, "COLUMNS": "120", "CWDRIFT_TEST_PRIVATE_KEY": "fake-private-key-0001"}
    subprocess.run(
        [sys.executable, "-c", PROBE, str(report), json.dumps(runs)],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    return result


def loaded(modules: Iterable[str], *, third_party: set[str], ours: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that are in ``third_party`` or start with one of ``ours``."""
    return sorted(
        name
        for name in modules
        if name.split(".")[0] in third_party
        or any(name == prefix or name.startswith(prefix + ".") for prefix in ours)
    )


def test_version_and_help_load_typer_and_rich_and_the_command_definitions(
    tmp_path: Path,
) -> None:
    found = probe(tmp_path, [["--version"], ["--help"]])
    results = found["results"]
    assert isinstance(results, list)
    assert [r["code"] for r in results] == [0, 0]
    version = results[0]["stdout"].split()
    assert len(version) == 2 and version[0] == "cwdrift" and version[1][0].isdigit()
    assert "history" in results[1]["stdout"] and "--version" in results[1]["stdout"]
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "monitor.cli.history_commands" in modules  # the probe really built the app
    assert loaded(modules, third_party=NOT_FOR_ROOT, ours=NOT_OURS_FOR_HELP) == []


def test_every_group_and_command_help_loads_neither_the_config_nor_the_store(
    tmp_path: Path,
) -> None:
    found = probe(tmp_path, HELP_RUNS)
    results = found["results"]
    assert isinstance(results, list)
    assert len(HELP_RUNS) > 30  # every group and command, history and db migrate among them
    assert ["history", "--help"] in HELP_RUNS and ["db", "migrate", "--help"] in HELP_RUNS
    assert [(r["argv"], r["code"]) for r in results] == [(argv, 0) for argv in HELP_RUNS]
    assert all("Usage" in r["stdout"] for r in results)
    modules = found["modules"]
    assert isinstance(modules, list)
    assert loaded(modules, third_party=NOT_FOR_HELP, ours=NOT_OURS_FOR_HELP) == []


@pytest.fixture
def history_config(tmp_path: Path) -> Path:
    """A SQLite store where acme's 'Transfer Expenses as a Bill' changed once, and its config."""
    url = f"sqlite:///{tmp_path}/cwdrift.db"
    db = Database(url)
    db.migrate()
    for minute, value in ((0, True), (60, False)):
        when = T0 + timedelta(minutes=minute)
        snapshot = Snapshot.build(
            tenant_id="acme",
            collected_at=when,
            credential_mode=CredentialMode.INTEGRATION,
            settings=[Setting(key=KEY, label="Transfer Expenses as a Bill", value=value)],
        )
        with db.session() as session:
            from monitor.store.runs import latest_snapshot

            previous = latest_snapshot(session, "acme")
        from monitor.core.evaluate import diff

        db.record_run(
            tenant_id="acme",
            tenant_name="Acme",
            started_at=when,
            finished_at=when,
            snapshot=snapshot,
            changes=diff(previous, snapshot) if previous else [],
            findings=[],
            error=None,
        )
    db.dispose()
    config = tmp_path / "cwdrift.yaml"
    config.write_text(
        f"database: {url}\n"
        "tenants:\n"
        "  - {id: acme, name: Acme, site: na.myconnectwise.net, company_id: acme,\n"
        "     public_key: acmepub00000001, private_key: '${CWDRIFT_TEST_PRIVATE_KEY}',\n"
        "     client_id: 00000000-0000-4000-8000-000000000001,\n"
        "     integration_member: GozyntaAPI}\n",
        encoding="utf-8",
    )
    return config


def test_history_loads_the_store_it_reads_and_nothing_that_sends_serves_or_renders(
    tmp_path: Path, history_config: Path
) -> None:
    argv = ["--config", str(history_config), "history", "--tenant", "acme", "--setting", "bill"]
    found = probe(tmp_path, [argv, [*argv, "--json"]])
    results = found["results"]
    assert isinstance(results, list)
    assert [r["code"] for r in results] == [0, 0]
    assert "Transfer Expenses as a Bill" in results[0]["stdout"]  # the table, rendered
    changes = json.loads(results[1]["stdout"])["changes"]
    assert [(c["setting"], c["old"], c["new"]) for c in changes] == [(KEY, True, False)]
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "monitor.store.history" in modules and "sqlmodel" in modules
    # The store's other tables load with the commands that read them, not with every query.
    other_tables = (
        "monitor.store.alert_tables",
        "monitor.store.outbox",
        "monitor.store.daemon_tables",
        "monitor.store.cluster_tables",
        "monitor.store.ticket_tables",
    )
    assert loaded(modules, third_party=NEVER, ours=(*NOT_OURS, *other_tables)) == []


# A one-off check: the config, the store, ConnectWise and the use cases, but nothing that sends
# (no channel is configured), serves, schedules, renders a report or migrates a current schema.
NOT_FOR_CHECK = {
    "aiosmtplib",
    "alembic",
    "apscheduler",
    "jinja2",
    "procrastinate",
    "psycopg",  # the store is SQLite here
    "slack_sdk",
    "starlette",
    "uvicorn",
    "weasyprint",
}
NOT_OURS_FOR_CHECK = (
    "monitor.reports",
    "monitor.web",
    "monitor.simulator",  # it runs in the test's process; the check in the probe's
    "monitor.daemon.node",
    "monitor.daemon.loop",
    "monitor.daemon.mode",
    "monitor.daemon.scheduler",
    "monitor.daemon.cluster.scheduler",
    "monitor.daemon.cluster.queue",
    # No rule is in approve or auto mode: nothing to plan, apply or record as a fix.
    "monitor.cli.fix_run",
    "monitor.jobs.fix",
    "monitor.store.fixes",
    "monitor.store.fix_tables",
    "sqlalchemy.dialects.postgresql",
)


def test_check_without_alert_channels_loads_neither_senders_nor_alembic_nor_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.data import bundled_file
    from monitor.simulator.scenario import load_scenario
    from monitor.simulator.server import running_simulator

    url = f"sqlite:///{tmp_path}/cwdrift.db"
    db = Database(url)
    db.migrate()  # a store already at head: every check but the very first one
    db.dispose()
    config = tmp_path / "cwdrift.yaml"
    config.write_text(
        f"database: {url}\n"
        "tenants:\n"
        "  - {id: acme, name: Acme, site: '${CWDRIFT_SIM_URL}', company_id: acme,\n"
        "     public_key: acmepub00000001, private_key: '${CWDRIFT_TEST_ACME_KEY}',\n"
        "     client_id: 00000000-0000-4000-8000-000000000001,\n"
        "     integration_member: GozyntaAPI}\n",
        encoding="utf-8",
    )
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as sim:
        monkeypatch.setenv("CWDRIFT_SIM_URL", sim.url)
        monkeypatch.setenv("CWDRIFT_TEST_ACME_KEY", "fake-acme-private-key-0001")
        found = probe(tmp_path, [["--config", str(config), "check", "--json"]])
        assert len(sim.state.requests) >= 5  # the probe really read acme
    results = found["results"]
    assert isinstance(results, list)
    assert results[0]["code"] in (0, 1)  # compliant or drift: acme was checked
    (tenant,) = json.loads(results[0]["stdout"])["tenants"]
    assert tenant["tenant"] == "acme" and tenant["status"] in ("compliant", "drift")
    modules = found["modules"]
    assert isinstance(modules, list)
    assert {"monitor.jobs.check", "aiohttp", "sqlmodel"} <= set(modules)
    assert loaded(modules, third_party=NOT_FOR_CHECK, ours=NOT_OURS_FOR_CHECK) == []


def test_check_loads_slack_sdk_only_when_a_slack_message_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Slack channel configured is not enough: the SDK loads with a message to send."""
    from monitor.data import bundled_file
    from monitor.simulator.scenario import load_scenario
    from monitor.simulator.server import running_simulator, serve_asgi
    from monitor.simulator.slack import SlackSink, create_slack_app

    url = f"sqlite:///{tmp_path}/cwdrift.db"
    db = Database(url)
    db.migrate()
    db.dispose()
    config = tmp_path / "cwdrift.yaml"
    config.write_text(
        f"database: {url}\n"
        "tenants:\n"
        "  - {id: globex, name: Globex, site: '${CWDRIFT_SIM_URL}', company_id: globex,\n"
        "     public_key: globexpub000001, private_key: '${CWDRIFT_TEST_GLOBEX_KEY}',\n"
        "     client_id: 00000000-0000-4000-8000-000000000001,\n"
        "     integration_member: GozyntaAPI}\n"
        "notify:\n"
        "  slack:\n"
        "    - {name: ops, webhook_url: '${CWDRIFT_TEST_SLACK_URL}'}\n",
        encoding="utf-8",
    )
    argv = ["--config", str(config), "check", "--json"]
    sink = SlackSink()
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack:
        monkeypatch.setenv("CWDRIFT_SIM_URL", sim.url)
        monkeypatch.setenv("CWDRIFT_TEST_GLOBEX_KEY", "fake-globex-private-key-0001")
        monkeypatch.setenv("CWDRIFT_TEST_SLACK_URL", f"{slack}/services/T0/B0/test")
        first = probe(tmp_path, [argv])
        sent = len(sink.messages)
        again = probe(tmp_path, [argv])
        assert len(sink.messages) == sent  # the drift was told once; nothing new to send
    assert sent >= 1  # the first check opened an alert and sent it to Slack
    for found in (first, again):
        results = found["results"]
        assert isinstance(results, list) and results[0]["code"] == 1  # drift
    sent_with = first["modules"]
    assert isinstance(sent_with, list) and "slack_sdk" in sent_with  # a message went out
    modules = again["modules"]
    assert isinstance(modules, list)
    assert "monitor.jobs.check" in modules
    assert loaded(modules, third_party={"slack_sdk", "aiosmtplib", "jinja2"}, ours=()) == []
