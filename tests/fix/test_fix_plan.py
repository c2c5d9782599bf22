"""`cwdrift fix` dry runs against the simulator over real HTTP: the exact PATCH for what the API
can write, numbered steps for what only a person can, and never a write."""

from __future__ import annotations

from typing import Any

import pytest
from fix_env import ACCOUNTING_PATCH, EXPENSES, PACKAGE, ROLE, SEGMENTS, FixEnv

from monitor.core.baseline import load_baseline
from monitor.core.remedy import ui_steps
from monitor.core.rules import KINDS
from monitor.errors import AuthenticationFailed
from monitor.simulator.mangle import Mangle
from monitor.simulator.scenario import Fault

WRITABLE_KINDS = {kind for kind, cls in KINDS.items() if cls.writable}


def drift_everywhere(env: FixEnv) -> None:
    """Globex with every writable rule failing, and the member on the wrong role, so that the
    role's permission rows and customize list fail too (only a person can fix those)."""
    env.tenant("globex", options={"expected_role": "Gozynta API"})
    state = env.sim.state
    state.set_package("globex", "QB99", by="mwilson")
    state.set_segment("globex", 2, type="Class", by="mwilson")
    state.set_member_role("globex", "GozyntaAPI", "Cwdrift Fixer", by="mwilson")


def by_rule(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in data["rules"]}


def test_dry_run_plans_the_exact_patch_or_the_steps_for_every_failing_seed_rule(
    env: FixEnv,
) -> None:
    drift_everywhere(env)
    code, data = env.run_json("fix", "--tenant", "globex")

    assert code == 1  # something planned
    assert data["applied"] is False and data["write_credentials"] is True
    rules = by_rule(data)
    gozynta = env.sim.state.tenant("globex").role_named("Gozynta API").id
    assert {rule: r["write"]["operations"] for rule, r in rules.items() if r["write"]} == {
        EXPENSES: [{"op": "replace", "path": "transferExpensesAsBillFlag", "value": False}],
        PACKAGE: [{"op": "replace", "path": "accountingPackage", "value": {"identifier": "Other"}}],
        ROLE: [{"op": "replace", "path": "securityRole", "value": {"id": gozynta}}],
        SEGMENTS: [{"op": "replace", "path": "segment2type", "value": "Account"}],
    }
    assert {rule: r["write"]["path"] for rule, r in rules.items() if r["write"]} == {
        EXPENSES: "/finance/accountingPackageSetup/1",
        PACKAGE: "/finance/accountingPackageSetup/1",
        ROLE: f"/system/apiMembers/{env.sim.state.tenant('globex').member('GozyntaAPI').id}",
        SEGMENTS: "/finance/glCaptions/1",
    }
    assert rules[EXPENSES]["write"]["endpoint"] == ACCOUNTING_PATCH
    assert rules[EXPENSES]["write"]["changes"] == [
        {
            "setting": "accounting.transferExpensesAsBillFlag",
            "field": "transferExpensesAsBillFlag",
            "label": "Transfer Expenses as a Bill",
            "from": True,
            "to": False,
        }
    ]
    assert [(c["from"], c["to"]) for c in rules[PACKAGE]["write"]["changes"]] == [("QB99", "Other")]
    assert next((c["from"], c["to"]) for c in rules[ROLE]["write"]["changes"]) == (
        "Cwdrift Fixer",
        "Gozynta API",
    )
    assert rules[PACKAGE]["write"]["inferred"] and rules[ROLE]["write"]["inferred"]

    baseline = load_baseline()
    kinds = {rule.id: rule.kind for rule in baseline}
    for rule_id, planned in rules.items():
        writable = kinds[rule_id] in WRITABLE_KINDS
        assert planned["action"] == ("patch" if writable else "person"), rule_id
        assert planned["result"] == ("planned" if writable else "needs_person")
        # Every rule carries the person's steps, from its remediation text, role named.
        steps = list(ui_steps(baseline.rule(rule_id).remediation))
        steps = [s.replace("Open the API member's role.", "Open the role 'Cwdrift Fixer' (the API "
                           "member's role).") for s in steps]  # fmt: skip
        assert planned["steps"] == steps, rule_id
    # The wrong role lacks the vendor page's rows and Table Setup items: a person's job.
    assert rules["role-grants-invoicing-delete-all"]["reason"].startswith(
        "role permission rows are read-only in the ConnectWise API"
    )
    assert "no API endpoint" in rules["role-customizes-invoicing-tax-code"]["reason"]
    assert rules["role-grants-invoicing-delete-all"]["steps"] == [
        "Open System > Security Roles.",
        "Open the role 'Cwdrift Fixer' (the API member's role).",
        "Go to Finance > Invoicing.",
        "Set Delete to All.",
        "Save.",
    ]
    assert env.writes() == 0


def test_dry_run_text_shows_the_request_and_numbered_steps(env: FixEnv) -> None:
    drift_everywhere(env)
    code, out, _ = env.run("fix", "--tenant", "globex")
    assert code == 1
    assert "transfer-expenses-as-bill-is-off [critical] WOULD PATCH" in out
    assert (
        "PATCH /finance/accountingPackageSetup/1   (needs Finance > Accounting Interface: Edit)"
        in out
    )
    assert "Transfer Expenses as a Bill (accounting.transferExpensesAsBillFlag): on -> off" in out
    assert '[{"op": "replace", "path": "transferExpensesAsBillFlag", "value": false}]' in out
    assert "role-grants-invoicing-delete-all [high] NEEDS A PERSON" in out
    assert "    4. Set Delete to All." in out
    assert "Dry run: nothing was sent." in out
    assert env.writes() == 0


def test_a_missing_member_needs_a_person(env: FixEnv) -> None:
    # Auditor keys (the fix member reads too) watching an integration member that went inactive.
    env.tenant(
        "globex", public_key="globexfix000001", private_key="${G:-fake-globex-fix-private-0001}"
    )
    env.sim.state.set_member_inactive("globex", "GozyntaAPI", by="mwilson")
    code, data = env.run_json("fix", "--tenant", "globex")
    assert code == 1
    member = by_rule(data)["api-member-exists-and-is-active"]
    assert member["action"] == "person"
    assert "does not create or reactivate API members" in member["reason"]
    assert member["steps"][:2] == ["Open System > Members.", "Go to API Members."]
    # Auditor keys cannot read the customize list: unknown, so never planned.
    assert not any(r.startswith("role-customizes") for r in by_rule(data))
    assert env.writes() == 0


def test_a_compliant_tenant_has_nothing_to_plan(env: FixEnv) -> None:
    env.tenant("globex")
    env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False)
    code, out, _ = env.run("fix", "--tenant", "globex")
    assert code == 0
    assert "globex: no failing rule to fix." in out
    code, out, _ = env.run("fix", "--tenant", "globex", "--apply", "--yes")
    assert code == 0
    assert env.writes() == 0


def test_without_write_keys_fix_stays_a_dry_run_and_names_the_permission(env: FixEnv) -> None:
    env.tenant("globex", fix_keys=False)
    code, out, _ = env.run("fix", "--tenant", "globex")
    assert code == 1
    assert (
        "No write credentials for globex: this stays a dry run. Add fix_public_key and "
        "fix_private_key of an API member whose role grants Finance > Accounting Interface: Edit."
    ) in " ".join(out.split())
    _, data = env.run_json("fix", "--tenant", "globex")
    assert (data["write_credentials"], data["permissions_needed"]) == (
        False,
        ["Finance > Accounting Interface: Edit"],
    )
    code, _, err = env.run("fix", "--tenant", "globex", "--apply", "--yes")
    assert code == 2
    assert "has no write credentials" in err and "Finance > Accounting Interface: Edit" in err
    assert env.writes() == 0


def test_apply_without_a_terminal_or_yes_refuses_and_writes_nothing(env: FixEnv) -> None:
    env.tenant("globex")
    code, _, err = env.run("fix", "--tenant", "globex", "--apply")
    assert code == 2
    assert "no terminal to ask on" in err and "--yes" in err
    assert env.writes() == 0


def test_report_only_checks_write_nothing(env: FixEnv) -> None:
    env.tenant("globex")
    assert env.run("check", "--tenant", "globex")[0] == 1  # drift, reported
    env.daemon_check("globex")
    assert env.writes() == 0


def test_unknown_rules_and_conflicting_options_are_errors(env: FixEnv) -> None:
    env.tenant("globex")
    code, _, err = env.run("fix", "--tenant", "globex", "--rule", "no-such-rule")
    assert code == 2 and "unknown rule 'no-such-rule'" in err
    code, _, err = env.run("fix", "--tenant", "globex", "--apply", "--pending")
    assert code == 2 and "do not go together" in err
    code, _, err = env.run("fix")
    assert code == 2 and "--tenant is required" in err
    assert env.writes() == 0


def test_a_tenant_that_cannot_be_read_gets_no_plan_and_no_write(env: FixEnv) -> None:
    env.tenant("globex", private_key="revoked-globex-key")
    with pytest.raises(AuthenticationFailed):  # the CLI prints it and exits 2
        env.run("fix", "--tenant", "globex", "--apply", "--yes")
    assert env.writes() == 0
    assert env.stored() == ([], [])


def test_a_role_whose_admin_flag_is_not_a_boolean_is_never_given(env: FixEnv) -> None:
    drift_everywhere(env)
    mangle = Mangle(op="set", field="adminFlag", value="false", where={"name": "Gozynta API"})
    env.sim.state.add_fault(
        "globex", Fault(kind="mangle", endpoint="/system/securityroles", mangle=mangle)
    )
    code, data = env.run_json("fix", "--tenant", "globex", "--rule", ROLE)
    assert code == 1
    (role,) = data["rules"]
    assert role["action"] == "person"
    assert "never gives the API member an Admin role" in role["reason"]
