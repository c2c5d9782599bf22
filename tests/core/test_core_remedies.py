"""What fixing each rule takes (pure): the exact PATCH, or why a person must, and their steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_snapshots import SnapshotBuilder, bundled, findings_by_rule
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.baseline import parse_baseline
from monitor.core.findings import Status
from monitor.core.options import TenantOptions, Waiver
from monitor.core.remediation import RulePlan, plan_fixes, plan_moved
from monitor.core.remedy import (
    FieldChange,
    FixMode,
    PatchOperation,
    PersonNeeded,
    RemedyContext,
    RoleOption,
    Targets,
    Write,
    ui_steps,
)
from monitor.core.snapshot import Snapshot
from monitor.errors import ConfigError

TARGETS = Targets(
    accounting_setup_id=1,
    gl_captions_id=7,
    api_member_id=12,
    roles=(
        RoleOption(1, "Admin", admin=True),
        RoleOption(27, "Gozynta API"),
        RoleOption(31, "Cwdrift Fixer"),
        RoleOption(40, "Old Mobius", inactive=True),
    ),
)


def plans_for(
    snapshot: Snapshot,
    options: TenantOptions | None = None,
    targets: Targets = TARGETS,
    rules: list[str] | None = None,
    waivers: tuple[Waiver, ...] = (),
) -> dict[str, RulePlan]:
    options = options or TenantOptions()
    findings = list(findings_by_rule(snapshot, options, waivers).values())
    ctx = RemedyContext(snapshot=snapshot, options=options, targets=targets)
    return {p.rule_id: p for p in plan_fixes(bundled(), findings, ctx, rules=rules)}


def body(plan: RulePlan) -> list[dict[str, Any]]:
    assert plan.write is not None, plan.person_reason
    return plan.write.body()


def test_a_compliant_tenant_has_nothing_to_fix() -> None:
    assert plans_for(SnapshotBuilder().build()) == {}


def test_each_accounting_flag_is_replaced_with_the_baseline_value() -> None:
    snapshot = (
        SnapshotBuilder()
        .put(
            {
                "accounting.transferExpensesAsBillFlag": True,
                "accounting.includeSalesTaxFlag": False,
                "accounting.inventorySOHFlag": False,
            }
        )
        .build()
    )
    plans = plans_for(snapshot)
    assert body(plans["transfer-expenses-as-bill-is-off"]) == [
        {"op": "replace", "path": "transferExpensesAsBillFlag", "value": False}
    ]
    assert body(plans["include-sales-tax-is-on"]) == [
        {"op": "replace", "path": "includeSalesTaxFlag", "value": True}
    ]
    inventory = plans["inventory-soh-option-is-on"].write
    assert inventory is not None
    assert inventory.path == "/finance/accountingPackageSetup/1"
    assert inventory.permission == "Finance > Accounting Interface: Edit"
    assert [(c.key, c.before, c.after) for c in inventory.changes] == [
        ("accounting.inventorySOHFlag", False, True)
    ]


def test_the_package_reference_is_replaced_whole_and_marked_inferred() -> None:
    plans = plans_for(SnapshotBuilder().put({"accounting.package": "QB99"}).build())
    write = plans["accounting-package-is-other"].write
    assert write is not None
    assert write.body() == [
        {"op": "replace", "path": "accountingPackage", "value": {"identifier": "Other"}}
    ]
    assert "inferred" in write.inferred
    assert [(c.before, c.after) for c in write.changes] == [("QB99", "Other")]


def test_a_package_not_in_connectwise_enum_needs_a_person() -> None:
    text = (
        "version: 1\nrules:\n  - id: accounting-package-is-xero\n    kind: accounting_setting\n"
        "    field: package\n    expected: Xero\n    label: Xero\n    severity: high\n"
        "    rationale: r\n    remediation: 'System > Setup Tables > Accounting Package: pick it'\n"
    )
    rule = parse_baseline(text, Path("b.yaml")).rule("accounting-package-is-xero")
    ctx = RemedyContext(SnapshotBuilder().build(), TenantOptions(), TARGETS)
    remedy = rule.requirement.remedy(ctx)
    assert isinstance(remedy, PersonNeeded)
    assert "not one of ConnectWise's package identifiers" in remedy.reason


def test_segments_typed_class_are_set_to_account_except_where_class_is_allowed() -> None:
    snapshot = (
        SnapshotBuilder()
        .put(
            {
                "gl.segment2": "Tracking 1",
                "gl.segment2type": "Class",
                "gl.segment3": "Tracking 2",
                "gl.segment3type": "Class",
            }
        )
        .build()
    )
    plans = plans_for(snapshot, TenantOptions(class_segments=(3,)))
    write = plans["account-segments-are-typed-account"].write
    assert write is not None
    assert write.path == "/finance/glCaptions/7"
    assert write.body() == [{"op": "replace", "path": "segment2type", "value": "Account"}]


def test_no_segment_caption_is_invented() -> None:
    snapshot = SnapshotBuilder().put({"gl.segment1": None, "gl.segment1type": None}).build()
    plan = plans_for(snapshot)["account-segments-are-typed-account"]
    assert plan.write is None
    assert "a person sets up the GL account structure" in plan.person_reason


@pytest.mark.parametrize(
    ("expected_role", "roles", "reason"),
    [
        (None, TARGETS.roles, "no options.expected_role is configured"),
        ("Admin", TARGETS.roles, "never gives the API member an Admin role"),
        ("admin", (RoleOption(5, "ADMIN"),), "never gives the API member an Admin role"),
        ("Superuser", (RoleOption(5, "Superuser", admin=True),), "never gives"),
        ("Old Mobius", TARGETS.roles, "is inactive"),
        ("Nobody", TARGETS.roles, "no security role named 'Nobody' among the 4 roles"),
        ("Twin", (RoleOption(5, "Twin"), RoleOption(6, "twin")), "2 security roles are named"),
        ("Gozynta API", None, "could not look up the role 'Gozynta API'"),
    ],
)
def test_the_member_role_is_only_set_to_one_readable_non_admin_expected_role(
    expected_role: str | None, roles: tuple[RoleOption, ...] | None, reason: str
) -> None:
    snapshot = SnapshotBuilder().put({"member.role": "Cwdrift Fixer", "member.role_id": 31})
    options = TenantOptions(expected_role=expected_role or "Gozynta API")
    if expected_role is None:
        options = TenantOptions()
        snapshot.put({"member.role": "Admin", "member.role_id": 1, "role.admin": True})
    targets = Targets(accounting_setup_id=1, gl_captions_id=7, api_member_id=12, roles=roles)
    rules = ["api-member-has-custom-security-role"]
    plan = plans_for(snapshot.build(), options, targets, rules=rules)[rules[0]]
    assert plan.write is None
    assert reason in plan.person_reason


def test_the_member_role_is_set_by_id_to_the_expected_role() -> None:
    snapshot = SnapshotBuilder().put({"member.role": "Cwdrift Fixer", "member.role_id": 31})
    plan = plans_for(snapshot.build(), TenantOptions(expected_role="gozynta api"))[
        "api-member-has-custom-security-role"
    ]
    write = plan.write
    assert write is not None
    assert (write.path, write.permission) == (
        "/system/apiMembers/12",
        "System > Member Maintenance: Edit",
    )
    assert write.body() == [{"op": "replace", "path": "securityRole", "value": {"id": 27}}]
    assert [(c.key, c.before, c.after) for c in write.changes] == [
        ("member.role", "Cwdrift Fixer", "Gozynta API"),
        ("member.role_id", 31, 27),
    ]
    assert "inferred" in write.inferred


def test_person_only_kinds_say_why_and_give_numbered_steps() -> None:
    snapshot = (
        SnapshotBuilder()
        .put(
            {
                "permission.finance.invoicing.delete": "None",
                "customize.invoicing/tax_code": None,
                "member.inactive": True,
            }
        )
        .build()
    )
    plans = plans_for(snapshot)
    reasons = {
        "role-grants-invoicing-delete-all": "read-only in the ConnectWise API",
        "role-customizes-invoicing-tax-code": "no API endpoint",
        "api-member-exists-and-is-active": "does not create or reactivate API members",
    }
    for rule_id, reason in reasons.items():
        assert plans[rule_id].write is None
        assert reason in plans[rule_id].person_reason
    assert plans["role-grants-invoicing-delete-all"].steps == (
        "Open System > Security Roles.",
        "Open the role 'Gozynta API' (the API member's role).",
        "Go to Finance > Invoicing.",
        "Set Delete to All.",
        "Save.",
    )
    assert plans["role-customizes-invoicing-tax-code"].steps[2:4] == (
        "Go to System > Table Setup > Customize.",
        'Move "Invoicing / Tax Code" to Allow Access.',
    )


def test_waived_unknown_and_advisory_rules_are_not_planned() -> None:
    snapshot = (
        SnapshotBuilder()
        .put({"accounting.transferExpensesAsBillFlag": True, "role.admin": True})
        .put({"member.role": "Admin"})
        .put({"gl.segment1type": "Class"})
        .unknown("gl")
        .build()
    )
    waiver = Waiver(
        rule="transfer-expenses-as-bill-is-off",
        value="on",
        reason="month end",
        accepted_by="cfo",
        expires=snapshot.collected_at.replace(year=2030),
    )
    findings = findings_by_rule(snapshot, waivers=(waiver,))
    assert findings["transfer-expenses-as-bill-is-off"].status is Status.WAIVED
    assert findings["account-segments-are-typed-account"].status is Status.UNKNOWN
    assert findings["api-member-has-custom-security-role"].severity.value == "warning"
    assert plans_for(snapshot, waivers=(waiver,)) == {}
    # An advisory finding is planned when asked for by name (it needs a person here).
    named = plans_for(snapshot, rules=["api-member-has-custom-security-role"], waivers=(waiver,))
    assert list(named) == ["api-member-has-custom-security-role"]


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        (
            'System > Setup Tables > Accounting Package: uncheck "Transfer Expenses as a Bill"',
            (
                "Open System > Setup Tables.",
                "Go to Accounting Package.",
                'Uncheck "Transfer Expenses as a Bill".',
                "Save.",
            ),
        ),
        (
            'System > Members > API Members > (the API member): set "Role ID" to the role',
            (
                "Open System > Members.",
                "Go to API Members.",
                "Open the API member.",
                'Set "Role ID" to the role.',
                "Save.",
            ),
        ),
        ("Ask the vendor", ("Ask the vendor.",)),
        ("Menu: ", ("Menu:.",)),
    ],
)
def test_ui_steps_from_remediation_text(text: str, steps: tuple[str, ...]) -> None:
    assert ui_steps(text) == steps


@given(st.text(max_size=300))
def test_ui_steps_never_fail_and_never_come_back_empty(text: str) -> None:
    steps = ui_steps(text, SnapshotBuilder().build())
    assert steps and all(isinstance(step, str) for step in steps)


WRITE = Write(
    "/finance/accountingPackageSetup/{id}",
    1,
    (PatchOperation("replace", "transferExpensesAsBillFlag", False),),
    (
        FieldChange(
            "accounting.transferExpensesAsBillFlag", "transferExpensesAsBillFlag", "T", True, False
        ),
    ),
    "Finance > Accounting Interface: Edit",
)


def test_a_write_survives_the_store_round_trip() -> None:
    assert Write.from_json(WRITE.to_json()) == WRITE


@pytest.mark.parametrize(
    ("before", "after", "moved"),
    [
        (True, False, None),
        (1, False, "is now 1, no longer the plan's from value true"),  # a flag is not a number
        ("on", False, "no longer the plan's from value"),
        (True, True, "the baseline or the tenant's options now ask for a different value"),
    ],
)
def test_an_approved_plan_applies_only_from_its_from_value(
    before: object, after: object, moved: str | None
) -> None:
    change = FieldChange(
        "accounting.transferExpensesAsBillFlag", "transferExpensesAsBillFlag", "T", before, after
    )
    current = Write(
        WRITE.endpoint,
        1,
        (PatchOperation("replace", "transferExpensesAsBillFlag", after),),
        (change,),
        WRITE.permission,
    )
    found = plan_moved(WRITE, current)
    assert (found is None) if moved is None else (found is not None and moved in found)


def test_another_record_is_a_move() -> None:
    other = Write(WRITE.endpoint, 2, WRITE.operations, WRITE.changes, WRITE.permission)
    assert plan_moved(WRITE, other) == (
        "the record to change is now /finance/accountingPackageSetup/2, not "
        "/finance/accountingPackageSetup/1"
    )


# -- the baseline's modes ---------------------------------------------------------------------

RULE = """  - id: {id}
    kind: {kind}
{params}    label: L
    severity: high
    rationale: R
    remediation: "System > Setup Tables > Accounting Package: do it"
{extra}"""


def rule_text(kind: str, params: str, extra: str, rule_id: str = "some-rule-here") -> str:
    return "version: 1\nrules:\n" + RULE.format(id=rule_id, kind=kind, params=params, extra=extra)


FLAG = "    field: transferExpensesAsBillFlag\n    expected: false\n"
PACKAGE = "    field: package\n    expected: Other\n"
PERMISSION = "    module: Finance\n    function: Invoicing\n    op: edit\n    level: All\n"


@pytest.mark.parametrize(
    ("kind", "params", "extra", "message"),
    [
        ("accounting_setting", PACKAGE, "    safe_to_automate: true\n", "accounting package"),
        ("member_role", "", "    safe_to_automate: true\n", "member's role"),
        ("permission", PERMISSION, "    safe_to_automate: true\n", "only be fixed by a person"),
        ("permission", PERMISSION, "    fix_mode: approve\n", "only be fixed by a person"),
        ("accounting_setting", FLAG, "    fix_mode: auto\n", "not mark it safe_to_automate"),
        ("accounting_setting", PACKAGE, "    fix_mode: auto\n", "accounting package"),
        ("accounting_setting", FLAG, "    fix_mode: sometimes\n", "invalid 'fix_mode'"),
    ],
)
def test_the_baseline_refuses_modes_a_rule_cannot_have(
    kind: str, params: str, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_baseline(rule_text(kind, params, extra), Path("b.yaml"))
    assert message in raised.value.message


def test_the_baseline_allows_auto_for_a_rule_marked_safe() -> None:
    extra = "    fix_mode: auto\n    safe_to_automate: true\n"
    rule = parse_baseline(rule_text("accounting_setting", FLAG, extra), Path("b.yaml")).rules[0]
    assert (rule.fix_mode, rule.safe_to_automate) == (FixMode.AUTO, True)
    assert rule.mode_refusal(FixMode.AUTO) is None


def test_every_bundled_rule_reports_by_default_and_only_transfer_expenses_is_safe() -> None:
    baseline = bundled()
    assert {rule.fix_mode for rule in baseline} == {FixMode.REPORT}
    assert [rule.id for rule in baseline if rule.safe_to_automate] == [
        "transfer-expenses-as-bill-is-off"
    ]
    refusals = {rule.id: rule.mode_refusal(FixMode.AUTO) for rule in baseline}
    assert refusals["transfer-expenses-as-bill-is-off"] is None
    assert "accounting package" in str(refusals["accounting-package-is-other"])
    assert "member's role" in str(refusals["api-member-has-custom-security-role"])
    assert bundled().rule("accounting-package-is-other").mode_refusal(FixMode.APPROVE) is None
