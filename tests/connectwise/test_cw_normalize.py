"""The pure normalizer, table-driven over raw payloads in the documented shapes.

Payload shapes follow ../shared/connectwise-api.md §3 and the examples of §8. Each payload goes
through the typed records (monitor/connectwise/records.py) first, as in a real check.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.connectwise.normalize import ACCOUNTING_FIELDS, normalize
from monitor.connectwise.raw import RawTenant
from monitor.connectwise.records import (
    ACCOUNTING_SETUP,
    API_MEMBERS,
    CUSTOMIZE_ITEMS,
    GL_CAPTIONS,
    MY_SECURITY,
    SETUP_SCREENS,
    AccountingPackageSetup,
    ApiMember,
    CustomizeItem,
    GLCaption,
    MySecurity,
    SecurityRole,
    SecurityRoleSetting,
    SetupScreen,
    parse_one,
    parse_rows,
)
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


AUDITOR_SETTINGS = "/system/securityRoles/27/settings"


def raw(**changes: Any) -> RawTenant:
    """A tenant read whose payloads (dicts, as ConnectWise sends them) went through the records."""
    given: dict[str, Any] = {
        "mode": CredentialMode.INTEGRATION,
        "caller": "GozyntaAPI",
        "api_members": [MEMBER],
        "role": ROLE,
        "role_settings": [row("Finance", "Accounting Interface", "All", "All", "All", "All")],
        "customize_items": [],
        "setup_screens": SCREENS,
        "accounting_setup": [ACCOUNTING],
        "gl_captions": [GL],
        "unknown": {},
        **changes,
    }
    integration = given["mode"] is CredentialMode.INTEGRATION
    settings_endpoint = MY_SECURITY if integration else AUDITOR_SETTINGS
    items, screens, role = given["customize_items"], given["setup_screens"], given["role"]
    return RawTenant(
        tenant_id="acme",
        integration_member="GozyntaAPI",
        mode=given["mode"],
        caller=given["caller"],
        api_members=parse_rows(given["api_members"], ApiMember, endpoint=API_MEMBERS),
        role=None if role is None else parse_one(role, SecurityRole, endpoint="/role/27"),
        role_settings=parse_rows(
            given["role_settings"],
            MySecurity if integration else SecurityRoleSetting,
            endpoint=settings_endpoint,
        ),
        customize_items=(
            None if items is None else parse_rows(items, CustomizeItem, endpoint=CUSTOMIZE_ITEMS)
        ),
        setup_screens=(
            None if screens is None else parse_rows(screens, SetupScreen, endpoint=SETUP_SCREENS)
        ),
        accounting_setup=parse_rows(
            given["accounting_setup"], AccountingPackageSetup, endpoint=ACCOUNTING_SETUP
        ),
        gl_captions=parse_rows(given["gl_captions"], GLCaption, endpoint=GL_CAPTIONS),
        unknown=given["unknown"],
        settings_endpoint=settings_endpoint,
    )


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
        # A member without a role reference: the role is unknown, not "none".
        (
            [{"id": 1, "identifier": "GozyntaAPI", "inactiveFlag": False}],
            {"member.found": True, "member.role": None, "member.role_id": None},
        ),
    ],
)
def test_member_settings(api_members: list[dict[str, Any]], expected: dict[str, Value]) -> None:
    snapshot = normalize(raw(api_members=api_members), AT)
    assert {key: snapshot.value(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"inactiveFlag": None}, "member.inactive", "returned null for inactiveFlag on"),
        ({"inactiveFlag": "false"}, "member.inactive", "inactiveFlag as the string 'false'"),
        ({"inactiveFlag": 0}, "member.inactive", "inactiveFlag as the number 0, not a boolean"),
        ({"securityRole": None}, "member.role", "returned null for securityRole on"),
        ({"securityRole": {"id": 27}}, "member.role", "did not return securityRole.name on"),
        ({"securityRole": {"id": "27", "name": "x"}}, "member.role_id", "securityRole.id as"),
    ],
)
def test_a_member_field_that_was_not_read_is_unknown_with_the_reason(
    change: dict[str, Any], key: str, reason: str
) -> None:
    snapshot = normalize(raw(api_members=[{**MEMBER, **change}]), AT)
    assert snapshot.get(key) is None
    assert reason in snapshot.unknown[key]
    assert "/system/apiMembers" in snapshot.unknown[key]
    assert snapshot.value("member.found") is True


def test_members_without_an_identifier_are_malformed() -> None:
    with pytest.raises(MalformedResponse, match="row 2 of /system/apiMembers has no identifier"):
        raw(api_members=[MEMBER, {k: v for k, v in MEMBER.items() if k != "identifier"}])


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


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        (None, "returned null for addLevel of Finance > Invoicing on /system/mySecurity"),
        ("Mine", "addLevel of Finance > Invoicing as the string 'Mine', not one of"),
        ("all", "as the string 'all'"),
        ("Everything", "as the string 'Everything'"),
        (3, "as the number 3"),
        (True, "as true"),
    ],
)
def test_a_level_other_than_none_my_all_is_unknown_not_drift(level: Any, reason: str) -> None:
    rows = [row("Finance", "Invoicing", level, "All", "None", "All")]
    snapshot = normalize(raw(role_settings=rows), AT)
    assert snapshot.get("permission.finance.invoicing.add") is None
    assert reason in snapshot.unknown["permission.finance.invoicing.add"]
    # Only that level: the row's other levels were read.
    assert snapshot.value("permission.finance.invoicing.edit") == "All"
    assert snapshot.value("permission.finance.invoicing.delete") == "None"


def test_a_level_left_out_is_unknown() -> None:
    bare = row("Finance", "Invoicing", "All", "All", "All", "All")
    del bare["deleteLevel"]
    snapshot = normalize(raw(role_settings=[bare]), AT)
    assert snapshot.unknown["permission.finance.invoicing.delete"] == (
        "ConnectWise did not return deleteLevel of Finance > Invoicing on /system/mySecurity"
    )


def test_an_unreadable_level_on_one_of_two_rows_is_unknown_unless_the_other_grants_all() -> None:
    rows = [
        row("Finance", "Invoicing", None, "My", "All", "All"),
        row("Finance", "Invoicing", "My", None, "All", "All"),
    ]
    snapshot = normalize(raw(role_settings=rows), AT)
    assert "permission.finance.invoicing.add" in snapshot.unknown  # My, or more?
    assert "permission.finance.invoicing.edit" in snapshot.unknown
    assert snapshot.value("permission.finance.invoicing.delete") == "All"
    settled = normalize(raw(role_settings=[*rows, row("Finance", "Invoicing", *["All"] * 4)]), AT)
    assert settled.value("permission.finance.invoicing.add") == "All"
    assert "permission.finance.invoicing.add" not in settled.unknown


def test_an_empty_permission_list_is_not_data() -> None:
    snapshot = normalize(raw(mode=CredentialMode.AUDITOR, role_settings=[]), AT)
    assert not [k for k in snapshot.settings if k.startswith("permission.")]
    assert snapshot.unknown["permission"].startswith(
        f"ConnectWise returned an empty list on {AUDITOR_SETTINGS}"
    )


def test_row_without_names_is_malformed_and_names_the_auditor_endpoint() -> None:
    bad = {"id": 5, "addLevel": "All"}
    with pytest.raises(MalformedResponse) as caught:
        raw(mode=CredentialMode.AUDITOR, role_settings=[bad])
    assert caught.value.endpoint == AUDITOR_SETTINGS
    assert "row 1" in caught.value.message


# -- customize -------------------------------------------------------------------------------


def item(identifier: Any, kind: str = "SystemTableSetup") -> dict[str, Any]:
    return {"id": 5501, "customizeIdentifier": kind, "itemIdentifier": identifier}


@pytest.mark.parametrize(
    ("items", "expected_keys"),
    [
        # By setup screen id.
        (
            [item("61"), item("62")],
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
        ([item("BillingStatus", kind="FinanceReports"), item("61", kind="SystemMyAccount")], []),
        # An ambiguous bare name ("Status" in two categories) is not guessed.
        ([item("Status")], ["customize.status"]),
        # "Category / Name" that is not in the catalogue keeps its UI form.
        ([item("Invoicing / Payment Terms")], ["customize.invoicing/payment_terms"]),
    ],
)
def test_customize_items(items: list[dict[str, Any]], expected_keys: list[str]) -> None:
    snapshot = normalize(raw(customize_items=items), AT)
    keys = sorted(k for k in snapshot.settings if k.startswith("customize."))
    assert keys == expected_keys
    assert all(snapshot.value(k) is True for k in keys)


@pytest.mark.parametrize(
    "bad",
    [item(None), item("  "), item(61), item("61", kind=None), {"id": 3, "itemIdentifier": "61"}],
)
def test_customize_items_that_cannot_be_identified_are_malformed(bad: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse, match="/system/mySecurity/customizeItems/"):
        raw(customize_items=[item("62"), bad])


@pytest.mark.parametrize("identifier", ["BillingStatusV2", "999"])
def test_an_item_not_in_the_catalogue_is_unknown_it_may_be_any_table(identifier: str) -> None:
    snapshot = normalize(raw(customize_items=[item("61"), item(identifier)]), AT)
    assert snapshot.value("customize.invoicing/billing_status") is True
    key = f"customize.{identifier.lower()}"
    assert snapshot.get(key) is None
    assert "is not in /system/setupScreens" in snapshot.unknown[key]


def test_customize_label_names_the_table() -> None:
    got = setting(raw(customize_items=[item("61")]), "customize.invoicing/billing_status")
    assert got is not None
    assert got.label == "Table Setup > Customize: Invoicing / Billing Status"


def test_an_empty_setup_screen_catalogue_makes_customize_unknown() -> None:
    snapshot = normalize(raw(customize_items=[item("Invoicing / Tax Code")], setup_screens=[]), AT)
    assert not [k for k in snapshot.settings if k.startswith("customize.")]
    assert snapshot.unknown["customize"].startswith(
        "ConnectWise returned an empty list on /system/setupScreens"
    )
    assert snapshot.value("accounting.package") == "Other"  # the rest was read


def test_an_empty_customize_list_is_data() -> None:
    snapshot = normalize(raw(customize_items=[]), AT)
    assert "customize" not in snapshot.unknown


@pytest.mark.parametrize(
    "bad", [{"id": 61, "category": "Invoicing"}, {"category": "Invoicing", "name": "Tax Code"}]
)
def test_setup_screens_without_id_category_or_name_are_malformed(bad: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse, match="/system/setupScreens"):
        raw(setup_screens=[*SCREENS, bad])


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
        (
            [{"id": 1, "accountingPackage": {"identifier": "QB99"}, "includeSalesTaxFlag": True}],
            {"accounting.package": "QB99", "accounting.includeSalesTaxFlag": True},
        ),
        # Several records: the lowest id wins.
        (
            [
                {**ACCOUNTING, "id": 9, "accountingPackage": {"identifier": "GPlains"}},
                {**ACCOUNTING, "id": 2, "accountingPackage": {"identifier": "Other"}},
            ],
            {"accounting.package": "Other"},
        ),
        # Exact duplicates of the record are one record.
        ([ACCOUNTING, ACCOUNTING], {"accounting.transferExpensesAsBillFlag": True}),
    ],
)
def test_accounting_records(records: list[dict[str, Any]], expected: dict[str, Value]) -> None:
    snapshot = normalize(raw(accounting_setup=records), AT)
    assert {key: snapshot.value(key) for key in expected} == expected


def test_fields_a_newer_connectwise_adds_are_ignored() -> None:
    snapshot = normalize(raw(accounting_setup=[{**ACCOUNTING, "newShinyFlag": True}]), AT)
    assert snapshot == normalize(raw(), AT)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (
            None,
            "ConnectWise returned null for includeSalesTaxFlag on /finance/accountingPackageSetup",
        ),
        ("true", "ConnectWise sent includeSalesTaxFlag as the string 'true', not a boolean, on"),
        ("False", "as the string 'False', not a boolean"),
        (0, "as the number 0, not a boolean"),
        (1, "as the number 1, not a boolean"),
        ([], "as a list, not a boolean"),
    ],
)
def test_a_flag_that_is_null_or_not_a_boolean_is_unknown_and_nothing_else_is(
    value: Any, reason: str
) -> None:
    snapshot = normalize(raw(accounting_setup=[{**ACCOUNTING, "includeSalesTaxFlag": value}]), AT)
    assert snapshot.get("accounting.includeSalesTaxFlag") is None
    assert reason in snapshot.unknown["accounting.includeSalesTaxFlag"]
    others = {k for k in snapshot.unknown if k != "accounting.includeSalesTaxFlag"}
    assert others == set()
    assert snapshot.value("accounting.transferExpensesAsBillFlag") is True


def test_a_flag_left_out_is_unknown_never_off() -> None:
    record = {k: v for k, v in ACCOUNTING.items() if k != "transferExpensesAsBillFlag"}
    snapshot = normalize(raw(accounting_setup=[record]), AT)
    assert snapshot.unknown == {
        "accounting.transferExpensesAsBillFlag": "ConnectWise did not return "
        "transferExpensesAsBillFlag on /finance/accountingPackageSetup"
    }


@pytest.mark.parametrize(
    ("package", "reason"),
    [
        (None, "returned null for accountingPackage on"),
        ({"id": 6, "name": "Other"}, "did not return accountingPackage.identifier on"),
        ({"identifier": 6}, "sent accountingPackage.identifier as the number 6"),
        ("Other", "sent accountingPackage as the string 'Other', not an object"),
    ],
)
def test_an_unreadable_package_is_unknown(package: Any, reason: str) -> None:
    snapshot = normalize(raw(accounting_setup=[{**ACCOUNTING, "accountingPackage": package}]), AT)
    assert snapshot.get("accounting.package") is None
    assert reason in snapshot.unknown["accounting.package"]


def test_an_empty_accounting_list_is_not_data() -> None:
    snapshot = normalize(raw(accounting_setup=[]), AT)
    assert not [k for k in snapshot.settings if k.startswith("accounting.")]
    assert snapshot.unknown_reason("accounting.includeSalesTaxFlag") == (
        "ConnectWise returned an empty list on /finance/accountingPackageSetup, where it always "
        "lists records; the answer is not trusted"
    )


def test_several_different_accounting_records_without_ids_are_malformed() -> None:
    records = raw(accounting_setup=[{**ACCOUNTING, "id": None}, {**ACCOUNTING, "id": 3}])
    with pytest.raises(MalformedResponse, match="2 different records"):
        normalize(records, AT)


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


def test_no_gl_record_makes_gl_unknown() -> None:
    snapshot = normalize(raw(gl_captions=[]), AT)
    assert not [k for k in snapshot.settings if k.startswith("gl.")]
    assert "/finance/glCaptions" in snapshot.unknown["gl"]


@pytest.mark.parametrize(
    ("change", "unknown"),
    [
        # Unused segments are omitted or null (connectwise-api.md §8): "not set", not unknown.
        ({"segment2": None, "segment2type": None}, {}),
        ({"cogs1": None}, {}),
        # A segment in use whose type is left out, null or not Account/Class is unknown.
        ({"segment2type": None}, {"gl.segment2type": "returned null for segment2type on"}),
        ({"segment2type": "class"}, {"gl.segment2type": "as the string 'class', not one of"}),
        ({"segment2type": 2}, {"gl.segment2type": "as the number 2"}),
        # A caption that is not a string is unknown: it may be a segment in use.
        ({"segment2": 7}, {"gl.segment2": "sent segment2 as the number 7, not a string"}),
    ],
)
def test_gl_fields_missing_null_or_wrong(change: dict[str, Any], unknown: dict[str, str]) -> None:
    snapshot = normalize(raw(gl_captions=[{**GL, **change}]), AT)
    assert set(snapshot.unknown) == set(unknown)
    for key, reason in unknown.items():
        assert reason in snapshot.unknown[key]


def test_a_missing_type_of_a_segment_in_use_names_the_segment() -> None:
    record = {k: v for k, v in GL.items() if k != "segment1type"}
    snapshot = normalize(raw(gl_captions=[record]), AT)
    assert snapshot.unknown["gl.segment1type"] == (
        "ConnectWise did not return segment1type on /finance/glCaptions (segment 1 'Account' "
        "is in use)"
    )


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


def test_provenance_lists_who_changed_each_setting_that_says() -> None:
    snapshot = normalize(raw(customize_items=[item("61")]), AT)  # customize items carry no _info
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
