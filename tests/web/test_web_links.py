"""What we send links to the pages when ``web.base_url`` is set, and nothing changes without it:
Slack and e-mail alerts link each item to its timeline (the tenant page for "cannot verify"),
the weekly report links tenants, rules and settings, and its Slack summary the report page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.alerts.messages import build_email, build_slack
from monitor.alerts.model import AlertEvent, EventKind, NotificationGroup, TenantRef
from monitor.cli.app import app
from monitor.core.findings import Severity
from monitor.data import bundled_file
from monitor.reports.messages import build_report_email, build_report_slack
from monitor.reports.model import Score, TrendPoint, Violation, WeeklyReport
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app
from monitor.weblinks import WebLinks

BASE = "https://cwdrift.example/ops/"
LINKS = WebLinks(BASE)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EVENT = AlertEvent(
    kind=EventKind.NEW,
    alert_key="include-sales-tax-is-on",
    label="Include Sales Tax is off",
    severity=Severity.HIGH,
    expected="on",
    actual="off",
)
COLLECTION = AlertEvent(
    kind=EventKind.CANNOT_VERIFY,
    alert_key="collection",
    label="cannot verify tenant",
    severity=Severity.HIGH,
    error={"kind": "auth", "message": "keys rejected", "fix": "new keys"},
)


def group(links: WebLinks | None) -> NotificationGroup:
    return NotificationGroup(
        tenant=TenantRef("acme", "Acme"), checked_at=T0, events=(EVENT, COLLECTION), links=links
    )


def test_slack_alerts_link_the_timeline_and_the_tenant() -> None:
    payload = build_slack(group(LINKS))
    text = json.dumps(payload)
    assert "<https://cwdrift.example/ops/tenants/acme|Open in cwdrift>" in text
    assert (
        "<https://cwdrift.example/ops/tenants/acme/rules/include-sales-tax-is-on|Timeline>"
        in (payload["blocks"][2]["text"]["text"])
    )
    assert "<https://cwdrift.example/ops/tenants/acme|Timeline>" in text  # cannot verify
    assert "https://" not in json.dumps(build_slack(group(None)))


def test_email_alerts_link_the_timeline_and_the_tenant() -> None:
    payload = build_email(group(LINKS), channel="mail", domain="example.com")
    rule_url = "https://cwdrift.example/ops/tenants/acme/rules/include-sales-tax-is-on"
    assert f'<a href="{rule_url}">' in payload["html"]
    assert '<a href="https://cwdrift.example/ops/tenants/acme">Acme</a>' in payload["html"]
    assert f"On the web: {rule_url}" in payload["text"]
    plain = build_email(group(None), channel="mail", domain="example.com")
    assert "href" not in plain["html"] and "On the web" not in plain["text"]


def test_a_message_rebuilt_late_links_where_the_first_did() -> None:
    stored = json.loads(json.dumps(group(LINKS).to_dict()))
    assert NotificationGroup.from_dict(stored).links == LINKS
    assert "web" not in group(None).to_dict()  # without links, the stored shape is unchanged


def report() -> WeeklyReport:
    violation = Violation(
        tenant_id="acme", tenant_name="Acme", rule_id="include-sales-tax-is-on",
        label="Include Sales Tax", severity="high", expected="on", actual="off",
        first_failed_at=T0, age=datetime(2026, 11, 5, tzinfo=UTC) - T0, command="cwdrift show",
    )  # fmt: skip
    return WeeklyReport(
        label="2026-W45", since=T0, until=datetime(2026, 11, 9, tzinfo=UTC), generated_at=T0,
        fleet=Score(1, 2), trend=(TrendPoint("2026-W45", T0, Score(1, 2)),), tenants=(),
        violations=(violation,), new=(), resolved=(), regressed=(), changes=(), unchecked=(),
        waivers=(), silences=(), warning_days=14, median_time_to_fix=None,
    )  # fmt: skip


def test_the_weekly_report_links_into_the_pages() -> None:
    email = build_report_email(report(), channel="mail", domain="example.com", links=LINKS)
    assert (
        'href="https://cwdrift.example/ops/tenants/acme/rules/include-sales-tax-is-on"'
        in (email["html"])
    )
    assert 'href="https://cwdrift.example/ops/tenants/acme"' in email["html"]
    assert "On the web: https://cwdrift.example/ops/reports?week=2026-W45" in email["text"]
    slack = json.dumps(build_report_slack(report(), links=LINKS))
    assert "<https://cwdrift.example/ops/reports?week=2026-W45|on the web>" in slack
    plain = build_report_email(report(), channel="mail", domain="example.com")
    assert "cwdrift.example" not in plain["html"] + plain["text"]


@pytest.fixture
def sink_and_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SlackSink, Path]]:
    sink = SlackSink()
    config = tmp_path / "cwdrift.yaml"
    shutil.copyfile(bundled_file("demo.yaml"), config)
    with config.open("a", encoding="utf-8") as file:
        file.write(f"web:\n  base_url: {BASE}\n")
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        monkeypatch.setenv("CWDRIFT_SIM_URL", sim.url)
        monkeypatch.setenv("CWDRIFT_DEMO_SLACK_URL", f"{slack_url}/services/T0/B0/test")
        yield sink, config


def test_a_real_check_sends_slack_alerts_with_links(
    sink_and_config: tuple[SlackSink, Path],
) -> None:
    sink, config = sink_and_config
    result = CliRunner().invoke(app, ["--config", str(config), "check"])
    assert result.exit_code == 2, result.output  # umbrella's keys are revoked in the demo
    sent = json.dumps(sink.messages)
    assert "https://cwdrift.example/ops/tenants/globex/rules/" in sent
    assert "<https://cwdrift.example/ops/tenants/initech|Open in cwdrift>" in sent
