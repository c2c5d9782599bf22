"""Each unexpected answer named in issue 11, through the real `cwdrift check --json` over HTTP.

The simulator's ``mangle`` fault rewrites one endpoint's answer of one tenant. A defective field
makes only the rules reading it unknown, with the reason (endpoint and field) in ``--json``;
the tenant's other rules still run, and its real drift (initech's Finance > Invoicing: Delete
is None) still fails and alerts. A body of the wrong shape is a malformed read of that tenant:
``error``, no drift, no findings, and the other tenants of the run still alert.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_env import Env

from monitor.simulator.mangle import Mangle
from monitor.simulator.scenario import Fault

ACCOUNTING = "/finance/accountingPackageSetup"
REAL_DRIFT = "role-grants-invoicing-delete-all"  # initech's, in the demo scenario
FLAG_RULES = {
    "includeSalesTaxFlag": "include-sales-tax-is-on",
    "transferExpensesAsBillFlag": "transfer-expenses-as-bill-is-off",
    "inventorySOHFlag": "inventory-soh-option-is-on",
    "includeCogsEntriesFlag": "include-cogs-entries-is-on",
}
CUSTOMIZE_RULES = ["role-customizes-invoicing-billing-status", "role-customizes-invoicing-tax-code"]


def mangle(env: Env, tenant: str, endpoint: str, **change: Any) -> None:
    env.sim.state.add_fault(
        tenant, Fault(kind="mangle", endpoint=endpoint, mangle=Mangle(**change))
    )


def check(env: Env, *tenants: str) -> tuple[int, dict[str, dict[str, Any]]]:
    args = [arg for tenant in tenants for arg in ("--tenant", tenant)]
    code, out = env.run("check", *args, "--json")
    return code, {t["tenant"]: t for t in json.loads(out)["tenants"]}


def findings(tenant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["rule"]: f for f in tenant["findings"]}


def open_alerts(env: Env, tenant: str) -> list[str]:
    code, out = env.run("status", "--json")
    assert code == 0
    [row] = [t for t in json.loads(out)["tenants"] if t["tenant"] == tenant]
    return [f["rule"] for f in row["open_findings"]]


def slack_texts(env: Env, tenant: str) -> list[str]:
    return [t for t in env.slack.texts() if f"({tenant})" in t]


def assert_only_these_unknown(
    tenant: dict[str, Any], reasons: dict[str, str], *, drift: str = REAL_DRIFT
) -> None:
    """The named rules are unknown with their reason; no other rule is; the drift still fails."""
    found = findings(tenant)
    for rule, reason in reasons.items():
        assert found[rule]["status"] == "unknown", found[rule]
        assert reason in found[rule]["note"], found[rule]["note"]
    unknown = {rule for rule, f in found.items() if f["status"] == "unknown"}
    assert unknown == set(reasons) | {"cogs-segments-are-typed-account"}  # COGS types: never read
    assert found[drift]["status"] == "fail"
    assert {rule for rule, f in found.items() if f["status"] == "fail"} == {drift}


@pytest.mark.parametrize("op", ["drop", "null"])
def test_an_accounting_record_missing_its_flags_makes_only_those_rules_unknown(
    demo_env: Env, op: str
) -> None:
    for field in FLAG_RULES:
        mangle(demo_env, "initech", ACCOUNTING, op=op, field=field)
    code, tenants = check(demo_env, "initech")
    said = "did not return" if op == "drop" else "returned null for"
    assert_only_these_unknown(
        tenants["initech"],
        {rule: f"ConnectWise {said} {field} on {ACCOUNTING}" for field, rule in FLAG_RULES.items()},
    )
    assert (code, tenants["initech"]["status"]) == (1, "drift")
    # Alerted: the real drift, once; not the four rules ConnectWise answered oddly.
    assert open_alerts(demo_env, "initech") == [REAL_DRIFT]
    [message] = slack_texts(demo_env, "initech")
    assert "1 new" in message


def test_a_missing_transfer_expenses_flag_is_not_read_as_off(demo_env: Env) -> None:
    mangle(demo_env, "acme", ACCOUNTING, op="drop", field="transferExpensesAsBillFlag")
    code, tenants = check(demo_env, "acme")
    rule = findings(tenants["acme"])["transfer-expenses-as-bill-is-off"]
    assert (rule["status"], rule["actual"]) == ("unknown", None)  # not "pass": it was not read
    assert (code, tenants["acme"]["status"]) == (0, "compliant")  # unknown is not drift


@pytest.mark.parametrize("value", ["false", "False", 0, "true", 1])
def test_string_and_number_booleans_are_not_booleans(demo_env: Env, value: object) -> None:
    for field in FLAG_RULES:
        mangle(demo_env, "initech", ACCOUNTING, op="set", field=field, value=value)
    _, tenants = check(demo_env, "initech")
    shown = f"the string {value!r}" if isinstance(value, str) else f"the number {value}"
    assert_only_these_unknown(
        tenants["initech"],
        {rule: f"{field} as {shown}, not a boolean" for field, rule in FLAG_RULES.items()},
    )
    assert open_alerts(demo_env, "initech") == [REAL_DRIFT]


def test_a_null_permission_level_makes_only_that_rule_unknown(demo_env: Env) -> None:
    mangle(
        demo_env,
        "initech",
        "/system/mySecurity",
        op="null",
        field="inquireLevel",
        where={"moduleName": "Finance", "moduleFunctionName": "Invoicing"},
    )
    _, tenants = check(demo_env, "initech")
    assert_only_these_unknown(
        tenants["initech"],
        {
            "role-grants-invoicing-inquire-all": "ConnectWise returned null for inquireLevel of "
            "Finance > Invoicing on /system/mySecurity"
        },
    )


def test_an_empty_setup_screen_catalogue_makes_only_the_customize_rules_unknown(
    demo_env: Env,
) -> None:
    mangle(demo_env, "initech", "/system/setupScreens", op="empty")
    code, tenants = check(demo_env, "initech")
    empty = "ConnectWise returned an empty list on /system/setupScreens"
    assert_only_these_unknown(tenants["initech"], dict.fromkeys(CUSTOMIZE_RULES, empty))
    assert code == 1 and open_alerts(demo_env, "initech") == [REAL_DRIFT]


def test_a_gl_segment_type_of_the_wrong_type_makes_only_the_segment_rule_unknown(
    demo_env: Env,
) -> None:
    mangle(demo_env, "initech", "/finance/glCaptions", op="set", field="segment2type", value=2)
    _, tenants = check(demo_env, "initech")
    assert_only_these_unknown(
        tenants["initech"],
        {"account-segments-are-typed-account": "segment2type as the number 2, not one of"},
    )


@pytest.mark.parametrize(
    ("endpoint", "fault", "message"),
    [
        # API member rows without their identifier: "member not found" would be a guess.
        (
            "/system/apiMembers",
            Fault(kind="mangle", mangle=Mangle(op="drop", field="identifier")),
            "row 1 of /system/apiMembers has no identifier, which identifies it",
        ),
        # An object where a list is due.
        (
            "/finance/glCaptions",
            Fault(kind="wrong_shape"),
            "expected a JSON list of objects from /finance/glCaptions, got an object",
        ),
        (
            "/system/mySecurity/customizeItems/",
            Fault(kind="mangle", mangle=Mangle(op="set", field="itemIdentifier", value=62)),
            "has the number 62 for itemIdentifier, which identifies it and must be a string",
        ),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_malformed_read_never_drift(
    demo_env: Env, endpoint: str, fault: Fault, message: str
) -> None:
    demo_env.sim.state.add_fault("initech", fault.model_copy(update={"endpoint": endpoint}))
    code, tenants = check(demo_env, "initech", "globex")
    initech = tenants["initech"]
    assert (initech["status"], initech["findings"]) == ("error", [])
    assert initech["error"]["kind"] == "malformed"
    assert message in initech["error"]["message"]
    assert initech["error"]["endpoint"] == endpoint
    # No drift alert for the tenant that could not be read; the others of the run still alert.
    assert code == 2
    assert slack_texts(demo_env, "initech") == []
    assert tenants["globex"]["status"] == "drift" and len(slack_texts(demo_env, "globex")) == 1


def test_a_malformed_tenant_counts_towards_cannot_verify(demo_env: Env) -> None:
    mangle(demo_env, "initech", "/system/apiMembers", op="drop", field="identifier")
    for attempt in range(1, 4):
        assert check(demo_env, "initech")[0] == 2
        assert len(slack_texts(demo_env, "initech")) == (attempt == 3), attempt
    [message] = slack_texts(demo_env, "initech")
    assert "cannot verify" in message.lower()
    assert open_alerts(demo_env, "initech") == []  # no drift was read, none is open
