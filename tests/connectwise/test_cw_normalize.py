"""The pure normalizer, table-driven over raw payloads in the documented shapes.

Payload shapes follow ../shared/connectwise-api.md §3 and the examples of §8.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.connectwise.normalize import (
    _EXACT_LEVELS,
    ACCOUNTING_FIELDS,
    normalize,
    normalize_level,
)
from monitor.connectwise.raw import RawTenant
from monitor.core.snapshot import CredentialMode, Setting, Value
from monitor.errors import MalformedResponse

AT = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
INFO = {"lastUpdated": "2025-03-04T15:22:10Z", "updatedBy": "admin1"}


def row(
    module: str, function: str, add: Any, edit: Any, delete: Any, inquire: Any
) -> dict[str, Any]:
    return {
        "id": 9112,
        "addLevel": add,
        "editLevel": edit,
        "deleteLevel": delete,
        "inquireLevel": inquire,
        "moduleFunctionName": function,
        "moduleFunctionDescription": function,
        "moduleName": module,
        "moduleDescription": module,
        "moduleIdentifier": module.replace(" ", ""),
        "moduleFunctionIdentifier": function.replace(" ", ""),
        "member": {"id": 311, "identifier": "GozyntaAPI"},
        "_info": INFO,
    }


MEMBER = {
    "id": 311,
    "identifier": "GozyntaAPI",
    "name": "Gozynta API",
    "inactiveFlag": False,
    "securityRole": {"id": 27, "name": "Gozynta API", "_info": {"securityRole_href": "x"}},
    "_info": {"lastUpdated": "2025-01-02T00:00:00Z", "updatedBy": "jdoe"},
}
ROLE = {
    "id": 27,
    "name": "Gozynta API",
    "roleType": "Member",
    "adminFlag": False,
    "inactiveFlag": False,
    "_info": INFO,
}
ACCOUNTING = {
    "id": 1,
    "accountingPackage": {"id": 6, "identifier": "Other", "name": "Other", "_info": {}},
    "directTransferFlag": False,
    "includeInvoicesFlag": True,
    "invoiceFormat": "Default",
    "includeExpensesFlag": True,
    "transferExpensesAsBillFlag": True,
    "expenseFormat": "Default",
    "suppressMemoFlag": False,
    "syncPaymentInfoFlag": False,
    "syncWisePayPaymentInfoFlag": False,
    "includeSalesTaxFlag": True,
    "enableTaxGroupsFlag": False,
    "zeroDollarTaxAmountsFlag": False,
    "includeItemsFlag": True,
    "inventorySOHFlag": True,
    "sendComponentAmountFlag": False,
    "sendUomFlag": False,
    "includeCogsEntriesFlag": True,
    "includeCogsDropShipFlag": False,
    "_info": {"lastUpdated": "2024-11-02T10:01:00Z", "updatedBy": "admin1"},
}
GL = {
    "id": 1,
    "segment1": "Account",
    "segment2": "Tracking 1",
    "segment1type": "Account",
    "segment2type": "Class",
    "segment3": "",
    "segment3type": None,
    "cogs1": "COGS",
    "_info": {"lastUpdated": "2024-11-02T10:01:00Z", "updatedBy": "admin2"},
}
SCREENS = [
    {"id": 61, "category": "Invoicing", "name": "Billing Status", "_info": {}},
    {"id": 62, "category": "Invoicing", "name": "Tax Code", "_info": {}},
    {"id": 7, "category": "General", "name": "Manage Hosted API", "_info": {}},
    {"id": 90, "category": "Service", "name": "Status", "_info": {}},
    {"id": 91, "category": "Project", "name": "Status", "_info": {}},
]


def raw(**changes: Any) -> RawTenant:
    base = RawTenant(
        tenant_id="acme",
        integration_member="GozyntaAPI",
        mode=CredentialMode.INTEGRATION,
        caller="GozyntaAPI",
        api_members=[MEMBER],
        role=ROLE,
        role_settings=[row("Finance", "Accounting Interface", "All", "All", "All", "All")],
        customize_items=[],
        setup_screens=SCREENS,
        accounting_setup=[ACCOUNTING],
        gl_captions=[GL],
    )
    return replace(base, **changes)


def setting(snapshot_raw: RawTenant, key: str) -> Setting | None:
    return normalize(snapshot_raw, AT).get(key)


# -- member and role -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_members", "expected"),
    [
        (
            [MEMBER],
            {
                "member.identifier": "GozyntaAPI",
                "member.found": True,
                "member.inactive": False,
                "member.role": "Gozynta API",
                "member.role_id": 27,
            },
        ),
        # Case-insensitive identifier match; other members ignored.
        (
            [
                {"identifier": "someone"},
                {**MEMBER, "identifier": "gozyntaapi", "inactiveFlag": True},
            ],
            {"member.identifier": "gozyntaapi", "member.found": True, "member.inactive": True},
        ),
        (
            [],
            {
                "member.identifier": "GozyntaAPI",
                "member.found": False,
                "member.inactive": None,
                "member.role": None,
            },
        ),
        # A member without a role reference.
        (
            [{"id": 1, "identifier": "GozyntaAPI", "inactiveFlag": False}],
            {"member.found": True, "member.role": None, "member.role_id": None},
        ),
    ],
)
def test_member_settings(api_members: list[dict[str, Any]], expected: dict[str, Value]) -> None:
    snapshot = normalize(raw(api_members=api_members), AT)
    assert {key: snapshot.value(key) for key in expected} == expected


def test_member_not_found_records_only_identity() -> None:
    snapshot = normalize(raw(api_members=[]), AT)
    assert sorted(k for k in snapshot.settings if k.startswith("member.")) == [
        "member.found",
        "member.identifier",
    ]


def test_member_and_role_provenance_comes_from_their_own_records() -> None:
    snapshot = normalize(raw(), AT)
    member_role = snapshot.get("member.role")
    assert member_role is not None
    assert (member_role.updated_by, member_role.last_updated) == ("jdoe", "2025-01-02T00:00:00Z")
    assert snapshot.get("role.admin") == Setting(
        "role.admin",
        "Security role is an admin role",
        False,
        "admin1",
        "2025-03-04T15:22:10Z",
    )


def test_no_role_record_means_no_role_keys_and_unknown_copied() -> None:
    reason = "cannot read the role record"
    snapshot = normalize(raw(role=None, unknown={"role": reason}), AT)
    assert not [k for k in snapshot.settings if k.startswith("role.")]
    assert snapshot.unknown_reason("role.admin") == reason


# -- permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [row("Finance", "Accounting Interface", "All", "My", "None", "All")],
            {
                "permission.finance.accounting_interface.add": "All",
                "permission.finance.accounting_interface.edit": "My",
                "permission.finance.accounting_interface.delete": "None",
                "permission.finance.accounting_interface.inquire": "All",
            },
        ),
        # null is "None"; "Mine" (UI word) is "My"; case and spaces are tolerated.
        (
            [row("Time & Expense", "Time Entry", None, "Mine", " all ", "MY")],
            {
                "permission.time_expense.time_entry.add": "None",
                "permission.time_expense.time_entry.edit": "My",
                "permission.time_expense.time_entry.delete": "All",
                "permission.time_expense.time_entry.inquire": "My",
            },
        ),
        # Names fall back to the descriptions when the names are missing.
        (
            [
                {
                    **row("x", "y", "All", "All", "All", "All"),
                    "moduleName": None,
                    "moduleFunctionName": "",
                    "moduleDescription": "System",
                    "moduleFunctionDescription": "Table Setup",
                }
            ],
            {"permission.system.table_setup.inquire": "All"},
        ),
        # Two rows with the same names: the most permissive level applies.
        (
            [
                row("System", "Member Maintenance", "None", "None", "None", "My"),
                row("System ", "member maintenance", "None", "None", "None", "All"),
            ],
            {"permission.system.member_maintenance.inquire": "All"},
        ),
    ],
)
def test_permission_levels(rows: list[dict[str, Any]], expected: dict[str, Value]) -> None:
    snapshot = normalize(raw(role_settings=rows), AT)
    assert {key: snapshot.value(key) for key in expected} == expected


def test_permission_label_and_provenance() -> None:
    got = setting(raw(), "permission.finance.accounting_interface.add")
    assert got == Setting(
        key="permission.finance.accounting_interface.add",
        label="Finance > Accounting Interface: Add",
        value="All",
        updated_by="admin1",
        last_updated="2025-03-04T15:22:10Z",
    )


@pytest.mark.parametrize("level", ["Everything", 3, "MyCompany"])
def test_unknown_level_is_a_malformed_read_not_drift(level: Any) -> None:
    rows = [row("Finance", "Invoicing", level, "All", "All", "All")]
    with pytest.raises(MalformedResponse) as caught:
        normalize(raw(role_settings=rows), AT)
    assert "Finance > Invoicing: Add" in str(caught.value)
    assert caught.value.endpoint == "/system/mySecurity"


def test_row_without_names_is_malformed_and_names_the_auditor_endpoint() -> None:
    bad = {"id": 5, "addLevel": "All"}
    with pytest.raises(MalformedResponse) as caught:
        normalize(raw(mode=CredentialMode.AUDITOR, role_settings=[bad]), AT)
    assert caught.value.endpoint == "/system/securityRoles/{id}/settings"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "None"), ("None", "None"), ("my", "My"), ("Mine", "My"), ("ALL", "All")],
)
def test_normalize_level(value: Any, expected: str) -> None:
    assert normalize_level(value, where="x", endpoint="/e") == expected


# -- customize -------------------------------------------------------------------------------


def item(identifier: Any, kind: str = "SystemTableSetup") -> dict[str, Any]:
    return {"id": 5501, "customizeIdentifier": kind, "itemIdentifier": identifier}


@pytest.mark.parametrize(
    ("items", "expected_keys"),
    [
        # By setup screen id (a number or a numeric string).
        (
            [item(61), item("62")],
            ["customize.invoicing/billing_status", "customize.invoicing/tax_code"],
        ),
        # By name, case and space tolerant.
        (
            [item("BillingStatus"), item("tax code")],
            ["customize.invoicing/billing_status", "customize.invoicing/tax_code"],
        ),
        # By "Category / Name" in any spacing or case.
        (
            [item("invoicing/billing status"), item("INVOICING / TaxCode")],
            ["customize.invoicing/billing_status", "customize.invoicing/tax_code"],
        ),
        # Other customize kinds (reports, agreements) are not Table Setup.
        ([item("BillingStatus", kind="FinanceReports"), item(61, kind="SystemMyAccount")], []),
        # Unmapped: kept under the raw identifier.
        ([item("BillingStatusV2")], ["customize.billingstatusv2"]),
        # An ambiguous bare name ("Status" in two categories) is not guessed.
        ([item("Status")], ["customize.status"]),
        # "Category / Name" that is not in the catalogue keeps its UI form.
        ([item("Invoicing / Payment Terms")], ["customize.invoicing/payment_terms"]),
        # Empty identifiers are skipped.
        ([item(None), item("  ")], []),
    ],
)
def test_customize_items(items: list[dict[str, Any]], expected_keys: list[str]) -> None:
    snapshot = normalize(raw(customize_items=items), AT)
    keys = sorted(k for k in snapshot.settings if k.startswith("customize."))
    assert keys == expected_keys
    assert all(snapshot.value(k) is True for k in keys)


def test_customize_label_names_the_table() -> None:
    got = setting(raw(customize_items=[item(61)]), "customize.invoicing/billing_status")
    assert got is not None
    assert got.label == "Table Setup > Customize: Invoicing / Billing Status"


def test_customize_without_setup_screens_still_maps_category_name_form() -> None:
    snapshot = normalize(
        raw(customize_items=[item("Invoicing / Tax Code")], setup_screens=None), AT
    )
    assert snapshot.value("customize.invoicing/tax_code") is True


def test_auditor_mode_customize_is_unknown_not_absent() -> None:
    reason = "auditor credentials cannot read another member's Table Setup customize list"
    snapshot = normalize(
        raw(
            mode=CredentialMode.AUDITOR,
            caller="CwdriftAudit",
            customize_items=None,
            setup_screens=None,
            unknown={"customize": reason},
        ),
        AT,
    )
    assert snapshot.credential_mode is CredentialMode.AUDITOR
    assert not [k for k in snapshot.settings if k.startswith("customize.")]
    assert snapshot.unknown_reason("customize.invoicing/billing_status") == reason


# -- accounting ------------------------------------------------------------------------------


def test_every_accounting_field_is_recorded_with_ui_labels_and_provenance() -> None:
    snapshot = normalize(raw(), AT)
    accounting = {k: s for k, s in snapshot.settings.items() if k.startswith("accounting.")}
    assert set(accounting) == {"accounting.package"} | {
        f"accounting.{f}" for f in ACCOUNTING_FIELDS
    }
    assert accounting["accounting.package"].value == "Other"
    assert accounting["accounting.transferExpensesAsBillFlag"] == Setting(
        "accounting.transferExpensesAsBillFlag",
        "Transfer Expenses as a Bill",
        True,
        "admin1",
        "2024-11-02T10:01:00Z",
    )
    assert accounting["accounting.inventorySOHFlag"].label == "Inventory SOH Option"
    assert accounting["accounting.includeItemsFlag"].label == "Include Procurement Items"


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        # Missing fields are recorded as None.
        (
            [{"id": 1, "accountingPackage": {"identifier": "QB99"}, "includeSalesTaxFlag": True}],
            {
                "accounting.package": "QB99",
                "accounting.includeSalesTaxFlag": True,
                "accounting.sendUomFlag": None,
            },
        ),
        # No record: "not set up", every field None.
        ([], {"accounting.package": None, "accounting.includeSalesTaxFlag": None}),
        # Several records: the lowest id wins.
        (
            [
                {**ACCOUNTING, "id": 9, "accountingPackage": {"identifier": "GPlains"}},
                {**ACCOUNTING, "id": 2, "accountingPackage": {"identifier": "Other"}},
            ],
            {"accounting.package": "Other"},
        ),
        # Package reference with a name only.
        (
            [{"id": 1, "accountingPackage": {"id": 6, "name": "Other"}}],
            {"accounting.package": "Other"},
        ),
        # A field newer than spec 2025.8 is kept so it shows up as a change.
        ([{**ACCOUNTING, "newShinyFlag": True}], {"accounting.newShinyFlag": True}),
    ],
)
def test_accounting_records(records: list[dict[str, Any]], expected: dict[str, Value]) -> None:
    snapshot = normalize(raw(accounting_setup=records), AT)
    assert {key: snapshot.value(key) for key in expected} == expected
    assert "accounting.package" in snapshot.settings


def test_missing_accounting_record_has_no_provenance() -> None:
    got = setting(raw(accounting_setup=[]), "accounting.includeSalesTaxFlag")
    assert got == Setting("accounting.includeSalesTaxFlag", "Include Sales Tax", None)


# -- GL captions -----------------------------------------------------------------------------


def test_gl_segments_present_only() -> None:
    snapshot = normalize(raw(), AT)
    gl = {k: s.value for k, s in snapshot.settings.items() if k.startswith("gl.")}
    assert gl == {
        "gl.segment1": "Account",
        "gl.segment1type": "Account",
        "gl.segment2": "Tracking 1",
        "gl.segment2type": "Class",
        "gl.cogs1": "COGS",
    }
    label = snapshot.get("gl.segment2type")
    assert label is not None
    assert (label.label, label.updated_by) == ("Account segment 2 type", "admin2")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # A type without a caption is still a present segment.
        ({"id": 1, "segment5type": "Class"}, {"gl.segment5": None, "gl.segment5type": "Class"}),
        ({"id": 1, "cogs10": "COGS 10"}, {"gl.cogs10": "COGS 10"}),
        ({"id": 1}, {}),
    ],
)
def test_gl_records(record: dict[str, Any], expected: dict[str, Value]) -> None:
    snapshot = normalize(raw(gl_captions=[record]), AT)
    assert {k: s.value for k, s in snapshot.settings.items() if k.startswith("gl.")} == expected


def test_no_gl_record_means_no_gl_keys() -> None:
    snapshot = normalize(raw(gl_captions=[]), AT)
    assert not [k for k in snapshot.settings if k.startswith("gl.")]


# -- the snapshot as a whole -----------------------------------------------------------------


def test_snapshot_identity_and_purity() -> None:
    first = normalize(raw(), AT)
    second = normalize(raw(), AT)
    assert first.tenant_id == "acme"
    assert first.collected_at == AT
    assert first.credential_mode is CredentialMode.INTEGRATION
    assert first.content_hash == second.content_hash
    assert list(first.settings) == sorted(first.settings)


def test_settings_stay_frozen_comparable_and_replaceable() -> None:
    """Setting has a hand-written __init__ (speed); it must still act as a frozen dataclass."""
    got = setting(raw(), "permission.finance.accounting_interface.add")
    assert got is not None
    twin = Setting(got.key, got.label, got.value, got.updated_by, got.last_updated)
    assert (twin, hash(twin)) == (got, hash(got))
    assert replace(got, value="None").value == "None"
    assert Setting("k", "l", 1) == Setting(key="k", label="l", value=1, updated_by=None)
    with pytest.raises(FrozenInstanceError):
        got.value = "None"  # type: ignore[misc]


def test_exact_level_spellings_agree_with_normalize_level() -> None:
    """The permission loop maps exact spellings by table; the table must say what the rule says."""
    for value, level in _EXACT_LEVELS.items():
        assert normalize_level(value, where="x", endpoint="/e") == level


def test_provenance_lists_who_changed_each_setting_that_says() -> None:
    snapshot = normalize(raw(customize_items=[item(61)]), AT)  # customize items carry no _info
    expected = {
        key: (s.updated_by, s.last_updated)
        for key, s in snapshot.settings.items()
        if s.updated_by is not None or s.last_updated is not None
    }
    provenance = snapshot.provenance()
    assert dict(provenance) == expected
    assert len(provenance) == len(expected) < len(snapshot.settings)
    unattributed = next(key for key in snapshot.settings if key not in expected)
    assert provenance.get(unattributed) is None
