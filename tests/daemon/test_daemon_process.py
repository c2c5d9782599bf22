"""The real process: started as a subprocess, reloaded with SIGHUP, stopped with SIGTERM.

Every wait is a bounded poll on database state or the process's log, never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bad_configs import CASES
from daemon_config import config_yaml
from daemon_waits import until_sync
from sqlmodel import select

from monitor.clock import utcnow
from monitor.data import bundled_file
from monitor.errors import StoreError
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app
from monitor.store import Database
from monitor.store.daemon_tables import TenantSchedule, daemon_status
from monitor.store.tables import CheckRunTable

SCRIPT = Path(__file__).with_name("daemon_process.py")

pytestmark = pytest.mark.slow


def test_the_process_checks_reloads_on_sighup_and_stops_on_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path}/cwdrift.db"
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(url, ["a"]))
    log_path = tmp_path / "daemon.log"
    db = Database(url)

    def checked() -> set[str]:
        with db.session() as session:
            return {r.tenant_id for r in session.exec(select(CheckRunTable))}

    def scheduled() -> set[str]:
        with db.session() as session:
            return {r.tenant_id for r in session.exec(select(TenantSchedule))}

    def log_text() -> str:
        return log_path.read_text() if log_path.exists() else ""

    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(config)], stderr=log_file, stdout=log_file
        )
    try:
        until_sync(lambda: "daemon running" in log_text(), "the daemon to report it is running")
        until_sync(lambda: checked() == {"a"}, "the never-checked tenant a to be checked")
        with db.session() as session:
            assert daemon_status(session, utcnow()).alive

        config.write_text(config_yaml(url, ["a", "b"]))
        process.send_signal(signal.SIGHUP)
        until_sync(lambda: "config reloaded" in log_text(), "the reload to be logged")
        until_sync(lambda: checked() == {"a", "b"}, "tenant b, added by the reload, to be checked")
        assert scheduled() == {"a", "b"}

        config.write_text("tenants: [\n")  # broken: the daemon must keep running on the old one
        process.send_signal(signal.SIGHUP)
        until_sync(
            lambda: "reload failed, keeping the previous config" in log_text(),
            "the failed reload to be logged",
        )
        assert process.poll() is None

        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = log_text()
    assert returncode == 0, output
    assert "dispatch ran" in output  # the final dispatch of pending alerts
    assert "daemon stopped" in output
    assert "not recorded" not in output  # no heartbeat or schedule write was lost
    assert f"reload failed, keeping the previous config: {config}:2:" in output  # file:line
    with db.session() as session:
        seen = daemon_status(session, utcnow())
    assert not seen.alive
    assert seen.nodes[0].stopped_at is not None
    assert set(seen.next_runs) == {"a", "b"}
    db.dispose()


def test_sighup_with_hostile_files_logs_one_line_each_and_the_daemon_carries_on(tmp_path):
    url = f"sqlite:///{tmp_path}/cwdrift.db"
    config = tmp_path / "cwdrift.yaml"
    config.write_text(config_yaml(url, ["a"]))
    log_path = tmp_path / "daemon.log"
    hostile = [c for c in CASES if c.name in {"alias-bomb", "not-utf-8", "overflowing-duration"}]

    def log_text() -> str:
        return log_path.read_text(errors="replace") if log_path.exists() else ""

    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(config)], stderr=log_file, stdout=log_file
        )
    try:
        until_sync(lambda: "daemon running" in log_text(), "the daemon to report it is running")
        for count, case in enumerate(hostile, start=1):
            if isinstance(case.content, bytes):
                config.write_bytes(case.content)
            else:
                config.write_text(case.content)
            process.send_signal(signal.SIGHUP)
            until_sync(
                lambda n=count: log_text().count("reload failed") == n,
                f"the failed reload of {case.name} to be logged",
            )
            [*_, failed] = [line for line in log_text().splitlines() if "reload failed" in line]
            assert f"{config}:{case.line}: {case.field}: " in failed
        config.write_text(config_yaml(url, ["a", "b"]))
        process.send_signal(signal.SIGHUP)
        until_sync(lambda: "config reloaded" in log_text(), "a good file to be reloaded")
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_text()
    assert returncode == 0, output
    assert "Traceback" not in output
    assert "never retrieved" not in output


def test_python_m_monitor_daemon_checks_every_tenant_and_sends_alerts_on_exit(tmp_path):
    """The production wiring (monitor.jobs) against the ConnectWise simulator and a Slack sink.

    Dispatch runs hourly here, so the Slack messages can only come from the final dispatch.
    """
    data = yaml.safe_load(bundled_file("demo.yaml").read_text())
    data["database"] = f"sqlite:///{tmp_path}/cwdrift.db"
    data["daemon"] = {"schedule": {"every": "1h", "jitter": "0s"}, "dispatch_every": "1h"}
    config = tmp_path / "cwdrift.yaml"
    config.write_text(yaml.safe_dump(data))
    tenants = {t["id"] for t in data["tenants"]}
    db = Database(data["database"])
    log_path = tmp_path / "daemon.log"
    sink = SlackSink()

    def checked() -> set[str]:
        try:
            with db.session() as session:
                return {r.tenant_id for r in session.exec(select(CheckRunTable))}
        except StoreError:  # the daemon has not created the schema yet
            return set()

    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        env = dict(
            os.environ,
            CWDRIFT_SIM_URL=sim.url,
            CWDRIFT_DEMO_SLACK_URL=f"{slack_url}/services/T000/B000/demo",
        )
        command = [sys.executable, "-m", "monitor", "--config", str(config), "run"]
        with log_path.open("w") as log_file:
            process = subprocess.Popen(command, env=env, stdout=log_file, stderr=log_file)
        try:
            until_sync(lambda: checked() == tenants, f"every demo tenant checked: {tenants}")
            assert sink.messages == []  # nothing sent while running: dispatch is hourly
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output = log_path.read_text()
        assert returncode == 0, output
        assert sink.messages, "the final dispatch should have sent the queued alerts"
    db.dispose()
