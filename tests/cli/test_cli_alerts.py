"""Alerts through `cwdrift check`: once per problem, once when fixed, never for a failed read."""

from __future__ import annotations

import json

from cli_env import Env


def slack_texts(env: Env, tenant: str) -> list[str]:
    return [t for t in env.slack.texts() if f"({tenant})" in t]


def test_three_checks_of_a_drifting_tenant_alert_once_and_a_fix_resolves_once(
    demo_env: Env,
) -> None:
    for _ in range(3):
        assert demo_env.run("check", "--tenant", "globex")[0] == 1
    [opened] = slack_texts(demo_env, "globex")
    assert "1 new" in opened and "critical" in opened.lower()

    demo_env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")
    assert demo_env.run("check", "--tenant", "globex")[0] == 0
    assert demo_env.run("check", "--tenant", "globex")[0] == 0
    texts = slack_texts(demo_env, "globex")
    assert len(texts) == 2 and "1 resolved" in texts[1]

    # the message says what to do and who changed it
    blocks = json.dumps(demo_env.slack.messages[0].get("blocks", []))
    assert "Transfer Expenses as a Bill" in blocks


def test_a_failed_read_never_alerts_drift_and_cannot_verify_comes_after_three(
    demo_env: Env,
) -> None:
    for attempt in range(1, 5):
        assert demo_env.run("check", "--tenant", "umbrella")[0] == 2
        expected = 0 if attempt < 3 else 1
        assert len(slack_texts(demo_env, "umbrella")) == expected, attempt
    [message] = slack_texts(demo_env, "umbrella")
    assert "cannot verify" in message.lower()


def test_failed_tenant_beside_a_drifting_one(demo_env: Env) -> None:
    code, out = demo_env.run("check", "--tenant", "umbrella", "--tenant", "initech", "--json")
    assert code == 2
    statuses = {t["tenant"]: t["status"] for t in json.loads(out)["tenants"]}
    assert statuses == {"umbrella": "error", "initech": "drift"}
    assert len(slack_texts(demo_env, "initech")) == 1
    assert slack_texts(demo_env, "umbrella") == []


def test_status_shows_outcomes_open_findings_channels_and_silences(demo_env: Env) -> None:
    demo_env.run("check", "--tenant", "initech")
    code, out = demo_env.run(
        "silence",
        "add",
        "--tenant",
        "acme",
        "--reason",
        "migration",
        "--author",
        "ana",
        "--expires",
        "2d",
    )
    assert code == 0, out
    code, out = demo_env.run("status", "--json")
    assert code == 0
    data = json.loads(out)
    rows = {t["tenant"]: t for t in data["tenants"]}
    assert rows["initech"]["outcome"] == "drift"
    assert [f["rule"] for f in rows["initech"]["open_findings"]] == [
        "role-grants-invoicing-delete-all"
    ]
    assert rows["acme"]["last_check"] is None
    assert data["daemon"]["alive"] is False
    assert [c["channel"] for c in data["channels"]] == ["demo-slack"]
    assert [(s["tenant"], s["author"]) for s in data["silences"]] == [("acme", "ana")]
    assert "hooks" not in out and "services/T0" not in out  # the webhook URL is a secret


def test_a_waiver_added_from_the_cli_silences_exactly_the_pinned_value(demo_env: Env) -> None:
    rule = "transfer-expenses-as-bill-is-off"
    code, out = demo_env.run(
        "waive",
        "--tenant",
        "globex",
        "--rule",
        rule,
        "--value",
        "on",
        "--reason",
        "bills reconciled by hand until Q1",
        "--by",
        "ana@globex.example",
        "--expires",
        "30d",
    )
    assert code == 0, out
    code, out = demo_env.run("check", "--tenant", "globex", "--json")
    assert code == 0  # waived is not drift
    [finding] = [f for f in json.loads(out)["tenants"][0]["findings"] if f["rule"] == rule]
    assert finding["status"] == "waived"
    assert slack_texts(demo_env, "globex") == []


def test_status_on_postgresql_shows_the_cluster(tmp_path, pg_url: str) -> None:
    from typer.testing import CliRunner

    from monitor.cli.app import app

    config = tmp_path / "c.yaml"
    config.write_text(f"database: {pg_url}\n")
    result = CliRunner().invoke(app, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    cluster = json.loads(result.stdout)["cluster"]
    assert cluster == {"leader": None, "queued": 0, "running": 0, "nodes": []}
