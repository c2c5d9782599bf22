"""Fix modes in the daemon's check (``check_and_fix``): approve records one pending plan that an
operator applies; auto applies a safe rule once per check and stops, alerting, when it does not
hold. Simulator over real HTTP, the real Slack-compatible sink, real SQLite."""

from __future__ import annotations

import pytest
from fix_env import ACCOUNTING_PATCH, EXPENSES, PACKAGE, ROLE, FixEnv

from monitor.errors import ConfigError
from monitor.simulator.scenario import Fault
from monitor.store.fix_tables import PlanSource, PlanStatus, Verification

NOT_PERSISTED = Fault(kind="not_persisted", endpoint="/finance/accountingPackageSetup/*")


def statuses(env: FixEnv) -> list[tuple[str, PlanSource, PlanStatus]]:
    plans, _ = env.stored()
    return [(p.rule_id, p.source, p.status) for p in plans]


def test_auto_fixes_a_safe_rule_once_and_says_it_was_cwdrift(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={EXPENSES: "auto"})
    result = env.daemon_check("globex")

    assert result.status == "drift"  # what the scheduled check saw, before the fix
    assert env.writes("globex", ACCOUNTING_PATCH) == 1
    assert env.sim.state.tenant("globex").accounting["transferExpensesAsBillFlag"] is False
    assert statuses(env) == [(EXPENSES, PlanSource.AUTO, PlanStatus.FIXED)]
    _, attempts = env.stored()
    assert attempts[0].operator == "cwdrift daemon"
    texts = env.slack_texts()
    assert len(texts) == 2 and "1 new" in texts[0]
    assert "FIXED BY CWDRIFT" in texts[1] and "(automatic)" in texts[1]

    env.daemon_check("globex")  # compliant now: nothing to do
    assert env.writes() == 1


def test_cwdrift_check_fixes_by_mode_as_the_daemon_does_and_only_where_a_mode_says_so(
    env: FixEnv,
) -> None:
    """The command loads the fixing machinery only for a rule in approve or auto mode."""
    env.tenant("initech")
    env.tenant("globex", fix_modes={EXPENSES: "auto"})
    code, _, _ = env.run("check", "--tenant", "initech")
    assert code == 1 and env.writes() == 0  # drift, reported only: no mode, no write

    code, _, _ = env.run("check")
    assert code == 1  # what the check saw, before the fix
    assert env.writes("globex", ACCOUNTING_PATCH) == 1 and env.writes("initech") == 0
    assert env.sim.state.tenant("globex").accounting["transferExpensesAsBillFlag"] is False
    assert statuses(env) == [(EXPENSES, PlanSource.AUTO, PlanStatus.FIXED)]


def test_auto_stops_after_a_fix_that_did_not_hold_until_a_person_resumes_it(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={EXPENSES: "auto"})
    env.sim.state.add_fault("globex", NOT_PERSISTED)

    env.daemon_check("globex")
    assert env.writes("globex", ACCOUNTING_PATCH) == 1
    assert statuses(env) == [(EXPENSES, PlanSource.AUTO, PlanStatus.HELD)]
    notices = [t for t in env.slack_texts() if "AUTOMATIC FIX DID NOT HOLD" in t]
    assert len(notices) == 1
    assert (
        "cwdrift fix --tenant globex --rule transfer-expenses-as-bill-is-off --resume"
        in (notices[0])
    )
    assert "ConnectWise answered: 200 OK" in notices[0]

    for _ in range(2):  # later checks: still failing, but no more tries and no more notices
        env.daemon_check("globex")
    assert env.writes("globex", ACCOUNTING_PATCH) == 1
    assert sum("AUTOMATIC FIX DID NOT HOLD" in t for t in env.slack_texts()) == 1
    _, pending = env.run_json("fix", "--pending")
    assert [p["rule"] for p in pending["held"]] == [EXPENSES]

    code, out, _ = env.run("fix", "--tenant", "globex", "--rule", EXPENSES, "--resume")
    assert code == 0 and "resume at the next check" in out
    env.daemon_check("globex")  # one more try, which again does not hold
    assert env.writes("globex", ACCOUNTING_PATCH) == 2
    assert [s for _, _, s in statuses(env)] == [PlanStatus.CLEARED, PlanStatus.HELD]


def test_a_hold_clears_when_the_rule_passes_and_auto_works_again(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={EXPENSES: "auto"})
    env.sim.state.add_fault(
        "globex", Fault.model_validate({**NOT_PERSISTED.model_dump(), "times": 1})
    )
    env.daemon_check("globex")
    assert statuses(env)[-1][2] is PlanStatus.HELD

    env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")
    env.daemon_check("globex")  # a person fixed it: the hold is cleared
    plans, _ = env.stored()
    assert (plans[-1].status, plans[-1].note) == (PlanStatus.CLEARED, "the rule passes again")

    env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", True, by="jsmith")
    env.daemon_check("globex")
    assert env.writes("globex", ACCOUNTING_PATCH) == 2
    assert statuses(env)[-1] == (EXPENSES, PlanSource.AUTO, PlanStatus.FIXED)


def test_a_silence_suppresses_automatic_fixes(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={EXPENSES: "auto"})
    code, _, _ = env.run(
        "silence", "add", "--tenant", "globex", "--rule", EXPENSES, "--reason", "period close",
        "--author", "ana", "--expires", "2d",
    )  # fmt: skip
    assert code == 0
    env.daemon_check("globex")
    assert env.writes() == 0
    assert statuses(env) == []


def test_auto_without_write_keys_plans_for_approval_and_the_config_says_so(env: FixEnv) -> None:
    env.tenant("globex", fix_keys=False, fix_modes={EXPENSES: "auto"})
    code, _, err = env.run("fix", "--pending")
    assert code == 0
    assert "in auto mode, but the tenant has no fix_public_key/fix_private_key" in (
        " ".join(err.split())
    )
    env.daemon_check("globex")
    assert env.writes() == 0
    plans, _ = env.stored()
    assert [(p.status, p.source) for p in plans] == [(PlanStatus.PENDING, PlanSource.APPROVE)]
    assert "no fix keys" in plans[0].note


def test_approve_records_one_pending_plan_and_applies_it_when_approved(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={PACKAGE: "approve"})
    env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False)
    env.sim.state.set_package("globex", "QB99", by="mwilson")
    for _ in range(3):  # refreshed, not duplicated
        env.daemon_check("globex")
    assert env.writes() == 0
    _, listed = env.run_json("fix", "--pending")
    (plan,) = listed["pending"]
    assert (plan["tenant"], plan["rule"], plan["status"]) == ("globex", PACKAGE, "pending")
    assert plan["write"]["operations"] == [
        {"op": "replace", "path": "accountingPackage", "value": {"identifier": "Other"}}
    ]
    _, text, _ = env.run("fix", "--pending")
    assert "cwdrift fix --approve PLAN_ID" in text

    code, data = env.run_json("fix", "--approve", str(plan["plan"]), "--by", "ana")
    assert code == 0
    assert [(r["rule"], r["result"]) for r in data["rules"]] == [(PACKAGE, "fixed")]
    assert env.sim.state.tenant("globex").package == "Other"
    assert env.writes() == 1
    plans, attempts = env.stored()
    assert [(p.id, p.status) for p in plans] == [(plan["plan"], PlanStatus.FIXED)]
    assert [(a.operator, a.source, a.verification) for a in attempts] == [
        ("ana", "approve", Verification.FIXED)
    ]
    with pytest.raises(ConfigError, match="is fixed, not pending"):
        env.run("fix", "--approve", str(plan["plan"]))


def test_approving_refuses_when_the_value_moved_since_the_plan(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={PACKAGE: "approve"})
    env.sim.state.set_package("globex", "QB99", by="mwilson")
    env.daemon_check("globex")
    _, listed = env.run_json("fix", "--pending")
    plan_id = str(listed["pending"][0]["plan"])

    env.sim.state.set_package("globex", "GPlains", by="jsmith")  # someone else moved it
    code, out, _ = env.run("fix", "--approve", plan_id, "--by", "ana")
    assert code == 1
    assert "REFUSED" in out
    assert 'Accounting Package is now "GPlains", no longer the plan\'s from value "QB99"' in (
        " ".join(out.split())
    )
    assert env.writes() == 0
    assert [s for _, _, s in statuses(env)] == [PlanStatus.REFUSED]


def test_approving_a_plan_whose_rule_passes_now_writes_nothing(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={EXPENSES: "approve"})
    env.daemon_check("globex")
    _, listed = env.run_json("fix", "--pending")
    env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")
    code, data = env.run_json("fix", "--approve", str(listed["pending"][0]["plan"]))
    assert code == 0
    assert [r["result"] for r in data["rules"]] == ["obsolete"]
    assert env.writes() == 0


def test_the_member_role_is_approved_not_automated(env: FixEnv) -> None:
    env.tenant("globex", options={"expected_role": "Gozynta API"}, fix_modes={ROLE: "auto"})
    with pytest.raises(ConfigError, match="may not be fixed automatically"):
        env.run("config", "validate")
    env.tenant("globex", options={"expected_role": "Gozynta API"}, fix_modes={ROLE: "approve"})
    env.sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False)
    env.sim.state.set_member_role("globex", "GozyntaAPI", "Cwdrift Fixer", by="mwilson")
    env.daemon_check("globex")
    assert env.writes() == 0
    _, listed = env.run_json("fix", "--pending")
    code, data = env.run_json("fix", "--approve", str(listed["pending"][0]["plan"]))
    assert (code, [r["result"] for r in data["rules"]]) == (0, ["fixed"])
    tenant = env.sim.state.tenant("globex")
    assert tenant.roles[tenant.member("GozyntaAPI").role_id].name == "Gozynta API"


def test_fix_modes_name_baseline_rules(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={"no-such-rule-here": "approve"})
    with pytest.raises(ConfigError, match="fix mode for unknown rule 'no-such-rule-here'"):
        env.run("config", "validate")
    env.tenant("globex", fix_modes={"role-grants-invoicing-delete-all": "approve"})
    with pytest.raises(ConfigError, match="can only be fixed by a person") as raised:
        env.run("fix", "--tenant", "globex")
    assert "tenants[0].fix_modes.role-grants-invoicing-delete-all" in raised.value.location
