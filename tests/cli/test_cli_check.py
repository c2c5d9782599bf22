"""`cwdrift check`, `history`, `show` end to end: real CLI, simulator over HTTP, real SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cli_env import Env
from freezegun import freeze_time


def findings_by_rule(tenant: dict[str, object]) -> dict[str, dict[str, object]]:
    return {f["rule"]: f for f in tenant["findings"]}  # type: ignore[index, union-attr]


def test_check_json_reports_each_tenant_and_exit_2_when_one_cannot_be_read(demo_env: Env) -> None:
    code, out = demo_env.run("check", "--json")
    data = json.loads(out)
    assert code == 2  # umbrella's keys are rejected
    assert set(data) == {"checked_at", "tenants"}
    tenants = {t["tenant"]: t for t in data["tenants"]}
    assert {t: v["status"] for t, v in tenants.items()} == {
        "acme": "compliant",
        "globex": "drift",
        "initech": "drift",
        "umbrella": "error",
    }
    globex = findings_by_rule(tenants["globex"])["transfer-expenses-as-bill-is-off"]
    assert (globex["status"], globex["severity"]) == ("fail", "critical")
    assert set(globex) >= {"rule", "label", "severity", "status", "expected", "actual"}
    initech = findings_by_rule(tenants["initech"])
    assert initech["role-grants-invoicing-delete-all"]["status"] == "fail"
    assert initech["role-grants-invoicing-delete-all"]["actual"] == "None"
    # a failed read is an error with a typed cause, never findings
    assert tenants["umbrella"]["findings"] == []
    assert tenants["umbrella"]["error"]["kind"] == "auth"
    assert "fake-umbrella" not in out and "revoked-umbrella" not in out


def test_exit_codes_per_tenant(demo_env: Env) -> None:
    assert demo_env.run("check", "--tenant", "acme")[0] == 0
    assert demo_env.run("check", "--tenant", "globex")[0] == 1
    assert demo_env.run("check", "--tenant", "umbrella")[0] == 2


def test_unknown_tenant_is_a_clear_error(demo_env: Env) -> None:
    result = demo_env.runner.invoke(
        __import__("monitor.cli.app", fromlist=["app"]).app,
        ["--config", str(demo_env.config), "check", "--tenant", "nosuch"],
    )
    assert result.exit_code != 0
    assert "nosuch" in str(result.exception)


def test_history_and_show_across_checks(demo_env: Env) -> None:
    with freeze_time("2026-11-02T09:00:00Z", real_asyncio=True):
        demo_env.run("check", "--tenant", "acme")
    with freeze_time("2026-11-03T09:00:00Z", real_asyncio=True):
        demo_env.sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
    with freeze_time("2026-11-03T10:00:00Z", real_asyncio=True):
        code, out = demo_env.run("check", "--tenant", "acme", "--json")
    assert code == 1
    acme = json.loads(out)["tenants"][0]
    assert findings_by_rule(acme)["include-sales-tax-is-on"]["status"] == "fail"
    assert [(c["setting"], c["old"], c["new"]) for c in acme["changes"]] == [
        ("accounting.includeSalesTaxFlag", True, False)
    ]

    code, out = demo_env.run("history", "--tenant", "acme", "--json")
    history = json.loads(out)
    assert code == 0 and history["tenant"] == "acme"
    [change] = history["changes"]
    assert change["setting"] == "accounting.includeSalesTaxFlag"
    assert (change["old"], change["new"], change["changed_by"]) == (True, False, "jsmith")
    assert datetime.fromisoformat(change["observed_at"]) == datetime(2026, 11, 3, 10, tzinfo=UTC)

    # filters: by label text (case-insensitive), by time window
    _, out = demo_env.run("history", "--tenant", "acme", "--setting", "SALES TAX", "--json")
    assert len(json.loads(out)["changes"]) == 1
    _, out = demo_env.run(
        "history", "--tenant", "acme", "--until", "2026-11-03T09:59:00Z", "--json"
    )
    assert json.loads(out)["changes"] == []

    # what was it on a date before the change, and after
    _, out = demo_env.run("show", "--tenant", "acme", "--at", "2026-11-03T09:30:00Z", "--json")
    before = json.loads(out)
    assert before["settings"]["accounting.includeSalesTaxFlag"]["value"] is True
    _, out = demo_env.run("show", "--tenant", "acme", "--json")
    assert json.loads(out)["settings"]["accounting.includeSalesTaxFlag"]["value"] is False


def test_human_output_is_a_table_without_colour_codes_off_terminal(demo_env: Env) -> None:
    code, out = demo_env.run("check", "--tenant", "globex")
    assert code == 1
    assert "globex" in out and "drift" in out and "Transfer Expenses" in out
    assert "\x1b[" not in out


def test_tenants_lists_last_outcome(demo_env: Env) -> None:
    demo_env.run("check", "--tenant", "globex")
    _, out = demo_env.run("tenants", "--json")
    rows = {r["tenant"]: r for r in json.loads(out)["tenants"]}
    assert rows["globex"]["outcome"] == "drift"
    assert rows["acme"]["outcome"] is None


def test_history_by_rule_and_as_a_timeline(demo_env: Env) -> None:
    with freeze_time("2026-11-02T09:00:00Z", real_asyncio=True):
        demo_env.run("check", "--tenant", "globex")
    demo_env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")
    with freeze_time("2026-11-03T09:00:00Z", real_asyncio=True):
        demo_env.run("check", "--tenant", "globex")
    # ConnectWise keeps only the record's last editor: check in between, or both read "jsmith"
    demo_env.sim.state.set_accounting("globex", "includeSalesTaxFlag", False, by="jsmith")
    with freeze_time("2026-11-04T09:00:00Z", real_asyncio=True):
        demo_env.run("check", "--tenant", "globex")

    _, out = demo_env.run(
        "history", "--tenant", "globex", "--rule", "transfer-expenses-as-bill-is-off", "--json"
    )
    assert [c["setting"] for c in json.loads(out)["changes"]] == [
        "accounting.transferExpensesAsBillFlag"
    ]
    _, out = demo_env.run("history", "--tenant", "globex", "--who", "jsmith", "--json")
    assert [c["changed_by"] for c in json.loads(out)["changes"]] == ["jsmith"]

    key = "accounting.transferExpensesAsBillFlag"
    _, out = demo_env.run("history", "--tenant", "globex", "--setting", key, "--timeline", "--json")
    periods = json.loads(out)["periods"]
    assert [(p["value"], p["start"][:10], (p["end"] or "now")[:10]) for p in periods] == [
        (True, "2026-11-02", "2026-11-03"),
        (False, "2026-11-03", "now"),
    ]
    assert periods[1]["changed_by"] == "mwilson"


def test_a_finding_several_tenants_share_is_printed_once_naming_them(demo_env: Env) -> None:
    code, out = demo_env.run("check", "--tenant", "globex", "--tenant", "initech")
    assert code == 1
    rule = "cogs-segments-are-typed-account: unknown"  # neither tenant's API shows the type
    assert out.count(rule) == 1
    shared = out[out.index("On several tenants") :]
    assert "on 2 tenants: globex, initech" in " ".join(shared.split())
    # what only one tenant has stays under that tenant
    initech = out[out.index("initech (Initech)") :]
    assert "role-grants-invoicing-delete-all" in initech
