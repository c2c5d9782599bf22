"""The Admin role, expected_role, level ordering and the per-tenant options."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_snapshots import VENDOR_PERMISSIONS, SnapshotBuilder, bundled, findings_by_rule

from monitor.core.baseline import parse_baseline
from monitor.core.findings import Severity, Status
from monitor.core.options import TenantOptions
from monitor.core.rules.customize import CustomizeRequirement
from monitor.core.rules.permission import PermissionRequirement
from monitor.core.snapshot import Value, permission_key

ROLE = "api-member-has-custom-security-role"
ADMIN: dict[str, Value] = {"member.role": "Admin", "role.name": "Admin", "role.admin": True}
# An Admin role whose permission rows were not even collected: Admin alone must satisfy them.
NO_GRANTS: dict[str, Value] = {
    **{permission_key(*row): None for row in VENDOR_PERMISSIONS},
    "customize.invoicing/billing_status": None,
    "customize.invoicing/tax_code": None,
}

# A role that grants none of them, as ConnectWise lists it: every row "None", no customize item.
DENIED: dict[str, Value] = {
    **{permission_key(*row): "None" for row in VENDOR_PERMISSIONS},
    "customize.invoicing/billing_status": None,
    "customize.invoicing/tax_code": None,
}


def _granted_rules() -> list[str]:
    return [
        r.id
        for r in bundled()
        if isinstance(r.requirement, PermissionRequirement | CustomizeRequirement)
    ]


def test_admin_role_satisfies_every_permission_and_customize_rule() -> None:
    findings = findings_by_rule(SnapshotBuilder().put(ADMIN | NO_GRANTS).build())

    for rule in _granted_rules():
        assert (findings[rule].status, findings[rule].note) == (
            Status.PASS,
            "granted by the Admin role",
        ), rule


def test_admin_role_is_a_least_privilege_warning_not_drift() -> None:
    role = findings_by_rule(SnapshotBuilder().put(ADMIN).build())[ROLE]

    assert (role.status, role.severity, role.actual) == (Status.FAIL, Severity.WARNING, "Admin")
    assert "least privilege" in role.note
    assert not role.is_drift


def test_integration_mode_judges_admin_by_role_name_when_role_is_unreadable() -> None:
    snapshot = (
        SnapshotBuilder()
        .unknown("role", "the API member cannot read its own role")
        .put({"member.role": "admin", **NO_GRANTS})
        .build()
    )
    findings = findings_by_rule(snapshot)

    granted = findings["role-grants-invoicing-edit-all"]
    assert granted.status is Status.PASS
    assert "judged by the role name 'Admin'" in granted.note
    assert "cannot read its own role" in granted.note
    assert granted.keys == ("member.role",)
    assert findings[ROLE].severity is Severity.WARNING
    assert "judged by the role name" in findings[ROLE].note


@pytest.mark.parametrize(
    ("put", "unknown_role", "is_admin"),
    [
        ({"role.admin": True, "member.role": "Super User"}, False, True),  # the flag decides
        (
            {"role.admin": False, "member.role": "Admin"},
            False,
            False,
        ),  # the flag was read: trust it
        (
            {"role.admin": True, "role.inactive": True},
            False,
            False,
        ),  # an inactive role grants nothing
        ({"member.role": "Gozynta API"}, True, False),
        ({"member.role": " ADMIN "}, True, True),
    ],
)
def test_admin_detection(put: dict[str, Value], unknown_role: bool, is_admin: bool) -> None:
    builder = SnapshotBuilder()
    if unknown_role:
        builder.unknown("role")
    findings = findings_by_rule(builder.put(put | DENIED).build())

    statuses = {findings[rule].status for rule in _granted_rules()}
    assert statuses == ({Status.PASS} if is_admin else {Status.FAIL})


@pytest.mark.parametrize(
    ("expected_role", "put", "status", "severity"),
    [
        ("Gozynta API", {}, Status.PASS, Severity.HIGH),
        ("gozynta api", {}, Status.PASS, Severity.HIGH),
        ("Mobius Integration", {}, Status.FAIL, Severity.HIGH),
        ("Gozynta API", ADMIN, Status.FAIL, Severity.HIGH),  # Admin is drift once a role is pinned
        ("Admin", ADMIN, Status.PASS, Severity.HIGH),
    ],
)
def test_expected_role(
    expected_role: str, put: dict[str, Value], status: Status, severity: Severity
) -> None:
    options = TenantOptions(expected_role=expected_role)
    finding = findings_by_rule(SnapshotBuilder().put(put).build(), options)[ROLE]

    assert (finding.status, finding.severity, finding.expected) == (status, severity, expected_role)


def test_admin_with_another_expected_role_still_satisfies_permissions() -> None:
    options = TenantOptions(expected_role="Gozynta API")
    findings = findings_by_rule(SnapshotBuilder().put(ADMIN | NO_GRANTS).build(), options)

    assert findings[ROLE].is_drift
    assert findings["role-grants-accounting-interface-add-all"].status is Status.PASS


MY_LEVEL_BASELINE = """\
version: 1
rules:
  - id: role-grants-time-entry-inquire-my
    kind: permission
    module: Time & Expense
    function: Time Entry
    op: inquire
    level: My
    label: "Time & Expense > Time Entry: Inquire - My"
    severity: low
    rationale: a test requirement
    remediation: System > Security Roles
"""


@pytest.mark.parametrize(
    ("actual", "status"),
    [("None", Status.FAIL), ("My", Status.PASS), ("All", Status.PASS), ("Mine", Status.UNKNOWN)],
)
def test_levels_are_ordered_none_my_all(actual: str, status: Status) -> None:
    baseline = parse_baseline(MY_LEVEL_BASELINE, Path("my.yaml"))
    snapshot = SnapshotBuilder().put({"permission.time_expense.time_entry.inquire": actual}).build()

    finding = findings_by_rule(snapshot, baseline=baseline)["role-grants-time-entry-inquire-my"]

    assert (finding.status, finding.expected) == (status, "My")


def test_transfers_costing_off_makes_cogs_entries_not_applicable() -> None:
    snapshot = SnapshotBuilder().put({"accounting.includeCogsEntriesFlag": False}).build()

    with_costing = findings_by_rule(snapshot, TenantOptions(transfers_costing=True))
    without_costing = findings_by_rule(snapshot, TenantOptions(transfers_costing=False))

    assert with_costing["include-cogs-entries-is-on"].status is Status.FAIL
    assert "include-cogs-entries-is-on" not in without_costing


@pytest.mark.parametrize(
    ("class_segments", "types", "status"),
    [
        ((), {2: "Class"}, Status.FAIL),
        ((2,), {2: "Class"}, Status.PASS),
        ((2,), {2: "Account"}, Status.PASS),  # allowed to be Class, not required to be
        ((2, 3), {2: "Class", 3: "Class"}, Status.PASS),
        ((2,), {2: "Class", 3: "Class"}, Status.FAIL),
        ((1,), {2: "Class"}, Status.FAIL),
    ],
)
def test_class_segments(
    class_segments: tuple[int, ...], types: dict[int, str], status: Status
) -> None:
    put: dict[str, Value] = {}
    for n, kind in types.items():
        put |= {f"gl.segment{n}": f"Tracking {n}", f"gl.segment{n}type": kind}
    options = TenantOptions(class_segments=class_segments)

    finding = findings_by_rule(SnapshotBuilder().put(put).build(), options)[
        "account-segments-are-typed-account"
    ]

    assert finding.status is status
    assert set(finding.keys) >= {f"gl.segment{n}type" for n in types}


def test_least_privilege_is_off_by_default() -> None:
    snapshot = SnapshotBuilder().put({"permission.system.security_roles.edit": "All"}).build()

    assert "role-grants-nothing-beyond-baseline" not in findings_by_rule(snapshot)


def test_least_privilege_finding_is_bounded_and_never_drift() -> None:
    extra: dict[str, Value] = {f"permission.system.function_{n:02}.add": "All" for n in range(20)}
    snapshot = SnapshotBuilder().put(extra).build()

    finding = findings_by_rule(snapshot, TenantOptions(least_privilege=True))[
        "role-grants-nothing-beyond-baseline"
    ]

    assert finding.status is Status.FAIL
    assert not finding.is_drift
    assert finding.actual is not None
    assert finding.actual.endswith("; and 5 more functions")
    assert finding.actual.count("=All") == 15
    assert len(finding.keys) == 20
