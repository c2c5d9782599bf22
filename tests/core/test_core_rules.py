"""Every bundled baseline rule: pass, fail and unknown, from snapshots built directly."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from core_snapshots import NOW, VENDOR_PERMISSIONS, SnapshotBuilder, bundled, findings_by_rule

from monitor.core.evaluate import evaluate, summarize
from monitor.core.findings import Severity, Status
from monitor.core.options import TenantOptions
from monitor.core.snapshot import CredentialMode, Value, permission_key


@dataclass(frozen=True)
class Case:
    rule: str
    status: Status
    actual: str | None
    put: dict[str, Value] = field(default_factory=dict)
    unknown: str | None = None  # a section, or one setting key, that could not be read
    options: dict[str, object] = field(default_factory=dict)
    note: str = ""  # a fragment the finding's note must contain

    def __str__(self) -> str:
        return f"{self.rule}-{self.status.value}-{self.actual}"


def _permission_id(function: str, op: str) -> str:
    return f"role-grants-{function.lower().replace(' ', '-')}-{op}-all"


PERMISSION_CASES = [
    case
    for module, function, op in VENDOR_PERMISSIONS
    for key, rule in [(permission_key(module, function, op), _permission_id(function, op))]
    for case in (
        Case(rule, Status.PASS, "All"),
        Case(rule, Status.FAIL, "My", put={key: "My"}),
        Case(rule, Status.FAIL, "None", put={key: "None"}),
        # ConnectWise lists every function of a role: a row it did not list was not read.
        Case(rule, Status.UNKNOWN, None, put={key: None}, note=f"did not list '{module} >"),
        Case(rule, Status.UNKNOWN, None, unknown="permission", note="auditor keys"),
        Case(rule, Status.UNKNOWN, None, unknown=key, note="auditor keys"),
    )
]

BILLING = "customize.invoicing/billing_status"
TAX = "customize.invoicing/tax_code"
SOH = "accounting.inventorySOHFlag"

CASES = [
    *PERMISSION_CASES,
    Case("role-customizes-invoicing-billing-status", Status.PASS, "allowed"),
    Case("role-customizes-invoicing-billing-status", Status.FAIL, "not allowed", {BILLING: False}),
    Case("role-customizes-invoicing-billing-status", Status.FAIL, "not set", {BILLING: None}),
    Case("role-customizes-invoicing-billing-status", Status.UNKNOWN, None, unknown="customize"),
    Case("role-customizes-invoicing-tax-code", Status.PASS, "allowed"),
    Case("role-customizes-invoicing-tax-code", Status.FAIL, "not allowed", {TAX: False}),
    Case("role-customizes-invoicing-tax-code", Status.FAIL, "not set", {TAX: None}),
    Case("role-customizes-invoicing-tax-code", Status.UNKNOWN, None, unknown="customize"),
    # An item whose table could not be told may be the Tax Code: not proven missing.
    Case(
        "role-customizes-invoicing-tax-code",
        Status.UNKNOWN,
        None,
        {TAX: None},
        unknown="customize.taxcodev2",
        note="auditor keys",
    ),
    Case(
        "role-customizes-invoicing-billing-status",
        Status.PASS,
        "allowed",
        unknown="customize.taxcodev2",
    ),
    Case("api-member-exists-and-is-active", Status.PASS, "active"),
    Case(
        "api-member-exists-and-is-active",
        Status.FAIL,
        "not found",
        {"member.found": False},
        note="'GozyntaAPI' was not found",
    ),
    Case("api-member-exists-and-is-active", Status.FAIL, "not found", {"member.found": None}),
    Case("api-member-exists-and-is-active", Status.FAIL, "inactive", {"member.inactive": True}),
    Case("api-member-exists-and-is-active", Status.UNKNOWN, None, unknown="member"),
    Case("api-member-has-custom-security-role", Status.PASS, "Gozynta API"),
    Case(
        "api-member-has-custom-security-role",
        Status.FAIL,
        "not set",
        {"member.role": None, "role.name": None},
        note="no security role",
    ),
    Case(
        "api-member-has-custom-security-role",
        Status.FAIL,
        "Gozynta API (inactive)",
        {"role.inactive": True},
    ),
    Case("api-member-has-custom-security-role", Status.UNKNOWN, None, unknown="member"),
    Case("accounting-package-is-other", Status.PASS, "Other"),
    Case("accounting-package-is-other", Status.FAIL, "QB99", {"accounting.package": "QB99"}),
    Case("accounting-package-is-other", Status.UNKNOWN, None, {"accounting.package": None}),
    Case("accounting-package-is-other", Status.UNKNOWN, None, unknown="accounting.package"),
    Case("accounting-package-is-other", Status.UNKNOWN, None, unknown="accounting"),
    Case("include-sales-tax-is-on", Status.PASS, "on"),
    Case("include-sales-tax-is-on", Status.FAIL, "off", {"accounting.includeSalesTaxFlag": False}),
    # A flag that was not read is unknown, never "off" (nor "on").
    Case(
        "include-sales-tax-is-on",
        Status.UNKNOWN,
        None,
        {"accounting.includeSalesTaxFlag": None},
        note="not among the settings read",
    ),
    Case(
        "include-sales-tax-is-on",
        Status.UNKNOWN,
        None,
        unknown="accounting.includeSalesTaxFlag",
        note="auditor keys",
    ),
    Case("include-sales-tax-is-on", Status.UNKNOWN, None, unknown="accounting"),
    Case("transfer-expenses-as-bill-is-off", Status.PASS, "off"),
    Case(
        "transfer-expenses-as-bill-is-off",
        Status.FAIL,
        "on",
        {"accounting.transferExpensesAsBillFlag": True},
    ),
    Case(
        "transfer-expenses-as-bill-is-off",
        Status.UNKNOWN,
        None,
        {"accounting.transferExpensesAsBillFlag": None},
    ),
    Case(
        "transfer-expenses-as-bill-is-off",
        Status.UNKNOWN,
        None,
        {"accounting.transferExpensesAsBillFlag": "false"},  # not a boolean: never coerced
        note="not a bool",
    ),
    Case("transfer-expenses-as-bill-is-off", Status.UNKNOWN, None, unknown="accounting"),
    Case("inventory-soh-option-is-on", Status.PASS, "on"),
    Case("inventory-soh-option-is-on", Status.FAIL, "off", {SOH: False}),
    Case("inventory-soh-option-is-on", Status.UNKNOWN, None, {SOH: None}),
    Case("inventory-soh-option-is-on", Status.UNKNOWN, None, {SOH: 1}, note="not a bool"),
    Case("inventory-soh-option-is-on", Status.UNKNOWN, None, unknown="accounting"),
    Case("include-cogs-entries-is-on", Status.PASS, "on"),
    Case(
        "include-cogs-entries-is-on",
        Status.FAIL,
        "off",
        {"accounting.includeCogsEntriesFlag": False},
    ),
    Case("include-cogs-entries-is-on", Status.UNKNOWN, None, unknown="accounting"),
    Case("account-segments-are-typed-account", Status.PASS, "1 'Account'=Account"),
    Case(
        "account-segments-are-typed-account",
        Status.FAIL,
        "1 'Account'=Account, 2 'Tracking 1'=Class",
        {"gl.segment2": "Tracking 1", "gl.segment2type": "Class"},
        note="options.class_segments",
    ),
    Case(
        "account-segments-are-typed-account",
        Status.UNKNOWN,
        None,
        {"gl.segment1type": None},
        note="type was not read",
    ),
    Case(
        "account-segments-are-typed-account",
        Status.UNKNOWN,
        None,
        unknown="gl.segment1type",
        note="segment 1: not readable with auditor keys",
    ),
    Case(
        "account-segments-are-typed-account",
        Status.UNKNOWN,
        None,
        {"gl.segment2": "Tracking 1"},
        unknown="gl.segment2type",
        note="segment 2",
    ),
    # A segment read as Class fails even while another segment could not be read.
    Case(
        "account-segments-are-typed-account",
        Status.FAIL,
        "1 'Account'=Class, 2 '?'=unknown",
        {"gl.segment1type": "Class"},
        unknown="gl.segment2",
        note="segment 2 could not be read",
    ),
    Case(
        "account-segments-are-typed-account",
        Status.PASS,
        "1 'Account'=Account",
        {"gl.segment3": "", "gl.segment3type": "Class"},  # an empty caption is not a segment in use
    ),
    Case(
        "account-segments-are-typed-account",
        Status.FAIL,
        "no segments",
        {"gl.segment1": None, "gl.segment1type": None},
    ),
    Case("account-segments-are-typed-account", Status.UNKNOWN, None, unknown="gl"),
    # The API has no COGS segment type: unknown unless the snapshot carries one.
    Case("cogs-segments-are-typed-account", Status.UNKNOWN, None, note="captions only"),
    Case(
        "cogs-segments-are-typed-account",
        Status.PASS,
        "1 'COGS'=Account",
        {"gl.cogs1type": "Account"},
    ),
    Case(
        "cogs-segments-are-typed-account", Status.FAIL, "1 'COGS'=Class", {"gl.cogs1type": "Class"}
    ),
    Case(
        "cogs-segments-are-typed-account",
        Status.UNKNOWN,
        None,
        {"gl.cogs1type": "Account", "gl.cogs2": "COGS 2"},  # one in-use segment without a type
        note="captions only",
    ),
    Case("cogs-segments-are-typed-account", Status.UNKNOWN, None, unknown="gl", note="auditor"),
    Case(
        "role-grants-nothing-beyond-baseline",
        Status.PASS,
        "none",
        options={"least_privilege": True},
    ),
    Case(
        "role-grants-nothing-beyond-baseline",
        Status.FAIL,
        "finance.invoicing: add=All; system.security_roles: edit=My",
        {"permission.finance.invoicing.add": "All", "permission.system.security_roles.edit": "My"},
        options={"least_privilege": True},
        note="2 grants on 2 functions",
    ),
    Case(
        "role-grants-nothing-beyond-baseline",
        Status.PASS,
        "none",
        {"permission.system.security_roles.edit": "None"},  # an explicit None grants nothing
        options={"least_privilege": True},
    ),
    Case(
        "role-grants-nothing-beyond-baseline",
        Status.UNKNOWN,
        None,
        unknown="permission",
        options={"least_privilege": True},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_rule_outcome(case: Case) -> None:
    builder = SnapshotBuilder().put(case.put)
    if case.unknown:
        builder.unknown(case.unknown)
    finding = findings_by_rule(builder.build(), TenantOptions.model_validate(case.options))[
        case.rule
    ]

    assert (finding.status, finding.actual) == (case.status, case.actual)
    assert case.note in finding.note
    assert finding.remediation == bundled().rule(case.rule).remediation
    if case.status is Status.UNKNOWN:
        assert not finding.is_drift


def test_every_bundled_rule_has_pass_fail_and_unknown_cases() -> None:
    covered = {(case.rule, case.status) for case in CASES}
    missing = [
        (rule.id, status)
        for rule in bundled()
        for status in (Status.PASS, Status.FAIL, Status.UNKNOWN)
        if (rule.id, status) not in covered
    ]
    assert missing == []


def test_compliant_tenant_passes_every_rule_except_the_unreadable_cogs_types() -> None:
    findings = findings_by_rule(SnapshotBuilder().build())

    not_passing = {rule: f.status for rule, f in findings.items() if f.status is not Status.PASS}
    assert not_passing == {"cogs-segments-are-typed-account": Status.UNKNOWN}


def test_findings_follow_baseline_order_and_carry_the_keys_read() -> None:
    findings = evaluate(bundled(), SnapshotBuilder().build(), TenantOptions(), (), NOW)

    applicable = [r.id for r in bundled() if r.applies_if != "least_privilege"]
    assert [f.rule_id for f in findings] == applicable
    by_rule = {f.rule_id: f for f in findings}
    assert by_rule["transfer-expenses-as-bill-is-off"].keys == (
        "accounting.transferExpensesAsBillFlag",
    )
    assert by_rule["role-grants-invoicing-edit-all"].keys == ("permission.finance.invoicing.edit",)
    assert by_rule["transfer-expenses-as-bill-is-off"].severity is Severity.CRITICAL


def test_auditor_snapshot_with_unreadable_customize_is_not_drift() -> None:
    snapshot = SnapshotBuilder(CredentialMode.AUDITOR).unknown("customize").build()
    findings = list(findings_by_rule(snapshot).values())

    assert summarize(findings) == "compliant"
    assert {f.rule_id for f in findings if f.status is Status.UNKNOWN} >= {
        "role-customizes-invoicing-billing-status",
        "role-customizes-invoicing-tax-code",
    }


@pytest.mark.parametrize(
    ("put", "expected"),
    [
        ({}, "compliant"),
        ({"accounting.transferExpensesAsBillFlag": True}, "drift"),
        ({"permission.finance.invoicing.edit": "My"}, "drift"),
        ({"member.role": "Admin", "role.name": "Admin", "role.admin": True}, "compliant"),
    ],
)
def test_summarize(put: dict[str, Value], expected: str) -> None:
    findings = list(findings_by_rule(SnapshotBuilder().put(put).build()).values())

    assert summarize(findings) == expected
