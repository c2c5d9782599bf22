"""`cwdrift fix --apply` against the simulator over real HTTP: the writes, the re-read that
decides, what ConnectWise answered when it did not hold, and everything recorded."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from fix_env import ACCOUNTING_PATCH, EXPENSES, PACKAGE, ROLE, SEGMENTS, FixEnv
from freezegun import freeze_time

from monitor.errors import ConfigError
from monitor.simulator.scenario import Fault
from monitor.store.fix_tables import PlanSource, PlanStatus, Verification

EXPENSES_SETTING = "accounting.transferExpensesAsBillFlag"


def results(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {r["rule"]: r for r in data["rules"]}  # type: ignore[index, union-attr]


def test_apply_fixes_the_flag_the_package_and_the_role_and_verifies_by_reading_back(
    env: FixEnv,
) -> None:
    env.tenant("globex", options={"expected_role": "Gozynta API"})
    state = env.sim.state
    state.set_package("globex", "QB99", by="mwilson")
    state.set_segment("globex", 2, type="Class", by="mwilson")
    state.set_member_role("globex", "GozyntaAPI", "Cwdrift Fixer", by="mwilson")

    code, data = env.run_json("fix", "--tenant", "globex", "--apply", "--yes", "--by", "jane")

    fixed = results(data)
    assert {rule: r["result"] for rule, r in fixed.items() if r["action"] == "patch"} == {
        EXPENSES: "fixed",
        PACKAGE: "fixed",
        ROLE: "fixed",
        SEGMENTS: "fixed",
    }
    # With the member back on its role, the permission rows and customize list pass again.
    assert data["still_failing"] == [] and data["verify_error"] is None
    assert all(r["result"] == "needs_person" for r in fixed.values() if r["action"] == "person")
    assert code == (1 if any(r["action"] == "person" for r in fixed.values()) else 0)
    tenant = state.tenant("globex")
    assert tenant.accounting["transferExpensesAsBillFlag"] is False
    assert tenant.package == "Other"
    assert tenant.gl["segment2type"] == "Account"
    member = tenant.member("GozyntaAPI")
    assert tenant.roles[member.role_id].name == "Gozynta API"
    assert member.info["updatedBy"] == "CwdriftFix"  # ConnectWise knows the fix member only
    assert tenant.accounting_info["updatedBy"] == "CwdriftFix"
    # One PATCH per rule, never a PUT.
    assert env.writes("globex", ACCOUNTING_PATCH) == 2
    assert env.writes("globex", "/finance/glCaptions/{id}") == 1
    assert env.writes("globex", "/system/apiMembers/{id}") == 1
    assert env.sim.state.writes("globex", method="PUT") == 0

    plans, attempts = env.stored()
    assert {p.rule_id: p.status for p in plans} == {
        EXPENSES: PlanStatus.FIXED,
        PACKAGE: PlanStatus.FIXED,
        ROLE: PlanStatus.FIXED,
        SEGMENTS: PlanStatus.FIXED,
    }
    assert {p.source for p in plans} == {PlanSource.CLI}
    assert {(a.operator, a.status_code, a.verification) for a in attempts} == {
        ("jane", 200, Verification.FIXED)
    }
    assert len({a.verify_run_id for a in attempts}) == 1 and attempts[0].verify_run_id
    role_attempt = next(a for a in attempts if a.rule_id == ROLE)
    assert role_attempt.request == [
        {"op": "replace", "path": "securityRole", "value": {"id": member.role_id}}
    ]
    assert role_attempt.host and role_attempt.path.startswith("/system/apiMembers/")
    assert "200 OK" in role_attempt.answer


def test_a_200_that_did_not_persist_is_not_fixed(env: FixEnv) -> None:
    env.tenant("globex")
    env.sim.state.add_fault(
        "globex", Fault(kind="not_persisted", endpoint="/finance/accountingPackageSetup/*")
    )
    code, data = env.run_json("fix", "--tenant", "globex", "--apply", "--yes")
    assert code == 1
    result = results(data)[EXPENSES]
    assert result["result"] == "not_fixed"
    assert "200 OK (transferExpensesAsBillFlag=false)" in str(result["answer"])
    assert "but the re-read still shows 'on'" in str(result["answer"])
    assert result["actual_after"] == "on"
    assert data["still_failing"] == [EXPENSES]
    plans, attempts = env.stored()
    assert [
        (p.status, a.verification, a.verified_value) for p, a in zip(plans, attempts, strict=True)
    ] == [(PlanStatus.NOT_FIXED, Verification.NOT_FIXED, "on")]


def test_a_403_names_the_missing_permission(env: FixEnv) -> None:
    env.tenant("initech")  # its fix member's role has no Edit
    env.sim.state.set_accounting("initech", "transferExpensesAsBillFlag", True, by="mwilson")
    code, out, _ = env.run("fix", "--tenant", "initech", "--rule", EXPENSES, "--apply", "--yes")
    assert code == 1
    assert "transfer-expenses-as-bill-is-off [critical] NOT FIXED" in out
    flat = " ".join(out.split())
    assert "role lacks Finance > Accounting Interface: Edit" in flat
    assert "To fix it by hand instead:" in out
    _, attempts = env.stored()
    assert [(a.status_code, a.error_kind) for a in attempts] == [(403, "permission")]
    assert env.sim.state.tenant("initech").accounting["transferExpensesAsBillFlag"] is True


def test_an_error_after_the_write_is_never_retried_and_the_re_read_decides(env: FixEnv) -> None:
    env.tenant("globex")
    env.sim.state.add_fault(
        "globex",
        Fault(kind="error_after_write", endpoint="/finance/accountingPackageSetup/*", status=503),
    )
    code, data = env.run_json("fix", "--tenant", "globex", "--apply", "--yes")
    result = results(data)[EXPENSES]
    assert result["result"] == "fixed"  # it landed: the re-read shows it
    assert "may or may not have been applied" in str(result["answer"])
    assert result["error"]["status"] == "503"  # type: ignore[index]
    assert env.writes("globex", ACCOUNTING_PATCH) == 1  # sent once
    assert code == 0


def test_a_refused_write_reports_connectwise_field_messages(env: FixEnv) -> None:
    env.tenant("globex")
    env.sim.state.add_fault(
        "globex",
        Fault(
            kind="validation_error",
            endpoint="/finance/accountingPackageSetup/*",
            field="transferExpensesAsBillFlag",
            message="Expenses are locked for the period close.",
        ),
    )
    code, data = env.run_json("fix", "--tenant", "globex", "--apply", "--yes")
    assert code == 1
    result = results(data)[EXPENSES]
    assert result["result"] == "not_fixed"
    assert "transferExpensesAsBillFlag: Expenses are locked for the period close." in str(
        result["answer"]
    )


def test_a_waived_rule_is_never_touched(env: FixEnv) -> None:
    env.tenant("globex", fix_modes={EXPENSES: "auto"})
    code, _, _ = env.run(
        "waive", "--tenant", "globex", "--rule", EXPENSES, "--value", "on",
        "--reason", "period close", "--by", "cfo@globex.example", "--expires", "7d",
    )  # fmt: skip
    assert code == 0
    code, data = env.run_json("fix", "--tenant", "globex", "--rule", EXPENSES, "--apply", "--yes")
    assert code == 0 and data["rules"] == []
    code, out, _ = env.run("fix", "--tenant", "globex", "--rule", EXPENSES)
    assert "transfer-expenses-as-bill-is-off: waived; nothing to fix" in out
    env.daemon_check("globex")  # auto mode, but waived
    assert env.writes() == 0
    assert env.stored() == ([], [])


def test_the_write_key_loads_from_fix_private_key_file(env: FixEnv, tmp_path: Path) -> None:
    secret = tmp_path / "globex-fix.key"
    secret.write_text("fake-globex-fix-private-0001\n", encoding="utf-8")
    env.tenant("globex", fix_keys=False, fix_public_key="globexfix000001")
    env.tenants["globex"]["fix_private_key_file"] = str(secret)
    env.write()
    code, data = env.run_json("fix", "--tenant", "globex", "--apply", "--yes")
    assert (code, results(data)[EXPENSES]["result"]) == (0, "fixed")
    assert "fake-globex-fix-private" not in json.dumps(data)


def test_a_literal_fix_key_in_the_file_is_warned_about(env: FixEnv) -> None:
    env.tenant("globex", fix_keys=False, fix_public_key="globexfix000001")
    env.tenants["globex"]["fix_private_key"] = "fake-globex-fix-private-0001"
    env.write()
    code, _, err = env.run("fix", "--tenant", "globex")
    assert code == 1
    assert "fix_private_key: literal secret in the config file" in err
    assert "fake-globex-fix-private" not in err


@pytest.mark.parametrize("missing", ["fix_public_key", "fix_private_key"])
def test_fix_keys_come_in_pairs(env: FixEnv, missing: str) -> None:
    env.tenant("globex")
    del env.tenants["globex"][missing]
    env.write()
    with pytest.raises(ConfigError) as raised:  # the CLI prints it and exits 2
        env.run("fix", "--tenant", "globex")
    assert f"fix_public_key and fix_private_key go together: add {missing}" in str(raised.value)
    assert "tenants[0]" in str(raised.value)


def test_an_applied_fix_shows_in_history_the_alert_thread_and_the_weekly_report(
    env: FixEnv,
) -> None:
    env.tenant("globex")
    with freeze_time("2026-11-17T09:00:00Z", real_asyncio=True):
        assert env.run("check", "--tenant", "globex")[0] == 1
    with freeze_time("2026-11-17T12:00:00Z", real_asyncio=True):
        code, _ = env.run_json("fix", "--tenant", "globex", "--apply", "--yes", "--by", "jane")
    assert code == 0

    _, history = env.run_json("history", "--tenant", "globex", "--setting", EXPENSES_SETTING)
    (change,) = history["changes"]
    assert (change["old"], change["new"], change["changed_by"]) == (True, False, "CwdriftFix")
    mark = change["fixed_by_cwdrift"]
    assert (mark["by"], mark["operator"], mark["source"]) == ("cwdrift", "jane", "cli")
    assert mark["applied_at"] == "2026-11-17T12:00:00+00:00" and mark["host"]
    _, out, _ = env.run("history", "--tenant", "globex")
    cell = " ".join(line.split("│")[-2].strip() for line in out.splitlines() if "│" in line)
    assert "changed by cwdrift fix, run by jane on" in cell  # the wrapped last column

    texts = env.slack_texts()
    assert len(texts) == 2  # the opening, then one closing notice
    assert "1 new" in texts[0]
    assert sum("FIXED BY CWDRIFT" in t for t in texts) == 1
    assert "1 resolved (1 fixed by cwdrift)" in texts[1]
    assert "fixed by cwdrift (jane on " in texts[1]

    with freeze_time("2026-11-24T08:00:00Z", real_asyncio=True):
        code, out, err = env.run("report", "--week", "2026-W47", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    (resolved,) = report["resolved"]
    assert (resolved["rule"], resolved["fixed_by"], resolved["time_to_fix_hours"]) == (
        EXPENSES,
        "cwdrift",
        3.0,
    )
    assert resolved["cwdrift_operator"] == "jane"
    assert report["fixed_by"]["cwdrift"] == {"count": 1, "median_time_to_fix_hours": 3.0}
    assert report["fixed_by"]["person"]["count"] == 0


def run_on_a_terminal(env: FixEnv, answer: str, *args: str) -> tuple[int, str]:
    """The installed ``cwdrift`` in a child process whose stdin and stdout are a real terminal."""
    primary, secondary = pty.openpty()
    command = [str(Path(sys.executable).with_name("cwdrift")), "--config", str(env.config), *args]
    process = subprocess.Popen(
        command, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True
    )
    os.close(secondary)
    output = b""
    answered = False
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(primary, answer.encode() + b"\n")
            answered = True
    os.close(primary)
    return process.wait(timeout=60), output.decode(errors="replace")


@pytest.mark.parametrize(("answer", "sent"), [("n", 0), ("y", 1)])
def test_apply_asks_on_a_terminal_and_sends_only_on_yes(
    env: FixEnv, answer: str, sent: int
) -> None:
    env.tenant("globex")
    code, output = run_on_a_terminal(env, answer, "fix", "--tenant", "globex", "--apply")
    assert "Send 1 PATCH request to globex? [y/N]" in output
    assert env.writes("globex", ACCOUNTING_PATCH) == sent
    assert code == (1 if answer == "n" else 0)
    if answer == "n":
        assert "Nothing was sent." in output
    else:
        assert "FIXED (verified by re-reading)" in output
