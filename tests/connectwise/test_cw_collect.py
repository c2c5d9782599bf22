"""collect_tenant + normalize against the real simulator: both credential modes, failures."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from monitor.connectwise.collect import (
    AUDITOR_CUSTOMIZE_REASON,
    _warn_if_several,
    caller_of,
    collect_tenant,
    member_condition,
)
from monitor.connectwise.normalize import normalize
from monitor.connectwise.records import AccountingPackageSetup, GLCaption, MySecurity, parse_rows
from monitor.core.snapshot import CredentialMode, Snapshot
from monitor.errors import (
    ConfigError,
    IncompleteRead,
    MalformedResponse,
    PermissionDenied,
    ServerError,
)
from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator

from .conftest import AUDIT_PRIVATE, AUDIT_PUBLIC, ClientFactory

AT = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
ACCOUNTING = "/finance/accountingPackageSetup"
MOBIUS_CUSTOMIZE = ["customize.invoicing/billing_status", "customize.invoicing/tax_code"]


async def snapshot_of(
    make_client: ClientFactory, *, auditor: bool = False, member: str = "GozyntaAPI", **kw: str
) -> Snapshot:
    if auditor:
        kw = {"public_key": AUDIT_PUBLIC, "private_key": AUDIT_PRIVATE, **kw}
    async with make_client(**kw) as cw:
        raw = await collect_tenant(cw, tenant_id="t1", integration_member=member)
    return normalize(raw, AT)


def permissions(snapshot: Snapshot) -> dict[str, object]:
    return {k: v for k, v in snapshot.values().items() if k.startswith("permission.")}


async def test_integration_mode_reads_everything_but_the_role_record(
    make_client: ClientFactory,
) -> None:
    snapshot = await snapshot_of(make_client)
    assert snapshot.credential_mode is CredentialMode.INTEGRATION
    assert snapshot.value("member.found") is True
    assert snapshot.value("member.role") == "Gozynta API"
    assert snapshot.value("permission.finance.accounting_interface.add") == "All"
    assert snapshot.value("permission.finance.invoicing.delete") == "All"
    assert snapshot.value("permission.system.security_roles.inquire") == "None"
    assert sorted(k for k in snapshot.settings if k.startswith("customize.")) == MOBIUS_CUSTOMIZE
    assert snapshot.value("accounting.package") == "Other"
    assert snapshot.value("accounting.transferExpensesAsBillFlag") is False
    assert snapshot.value("gl.segment2type") == "Account"
    # The Mobius role may not read its own role record: unknown, with the reason.
    assert set(snapshot.unknown) == {"role"}
    assert "System > Security Roles: Inquire" in snapshot.unknown["role"]
    assert snapshot.get("role.admin") is None


async def test_auditor_mode_reads_the_role_by_id_and_leaves_customize_unknown(
    make_client: ClientFactory,
) -> None:
    integration = await snapshot_of(make_client)
    auditor = await snapshot_of(make_client, auditor=True)
    assert auditor.credential_mode is CredentialMode.AUDITOR
    assert auditor.unknown == {"customize": AUDITOR_CUSTOMIZE_REASON}
    assert not [k for k in auditor.settings if k.startswith("customize.")]
    assert auditor.values()["role.name"] == "Gozynta API"
    assert auditor.values()["role.admin"] is False
    # Both modes see the same permissions of the monitored member's role.
    assert permissions(auditor) == permissions(integration)
    assert len(permissions(auditor)) == 4 * 119


@pytest.mark.parametrize("company", ["onprem", "labelled"])
async def test_customize_item_formats_map_to_the_same_keys(
    make_client: ClientFactory, company: str
) -> None:
    # onprem answers setup screen ids, labelled answers "Category / Name".
    snapshot = await snapshot_of(make_client, company_id=company)
    assert sorted(k for k in snapshot.settings if k.startswith("customize.")) == MOBIUS_CUSTOMIZE


async def test_ui_changes_show_up_with_who_made_them(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    sim.state.set_accounting("acme", "transferExpensesAsBillFlag", True, by="jsmith")
    sim.state.set_permission(
        "acme", "Gozynta API", "Finance", "Invoicing", delete="None", by="mlee"
    )
    sim.state.set_customize("acme", "Gozynta API", "Invoicing / Tax Code", False)
    sim.state.set_segment("acme", 2, type="Class", by="jsmith")
    snapshot = await snapshot_of(make_client)
    expense = snapshot.get("accounting.transferExpensesAsBillFlag")
    assert expense is not None
    assert (expense.value, expense.updated_by) == (True, "jsmith")
    delete = snapshot.get("permission.finance.invoicing.delete")
    assert delete is not None
    assert (delete.value, delete.updated_by) == ("None", "mlee")
    assert snapshot.value("customize.invoicing/tax_code") is None
    assert snapshot.value("gl.segment2type") == "Class"


async def test_member_not_found_is_data_not_an_error(make_client: ClientFactory) -> None:
    snapshot = await snapshot_of(make_client, auditor=True, member="NoSuchMember")
    assert snapshot.credential_mode is CredentialMode.AUDITOR
    assert snapshot.value("member.found") is False
    assert snapshot.value("member.identifier") == "NoSuchMember"
    # The role is read through the member: its permissions are unknown, not "None".
    assert permissions(snapshot) == {}
    assert "'NoSuchMember' was not found" in snapshot.unknown["permission"]


async def test_the_caller_match_is_case_insensitive(make_client: ClientFactory) -> None:
    snapshot = await snapshot_of(make_client, member="gozyntaapi")
    assert snapshot.credential_mode is CredentialMode.INTEGRATION
    assert snapshot.value("member.found") is True


@pytest.mark.parametrize(
    ("endpoint", "fault", "error"),
    [
        ("/finance/glCaptions", Fault(kind="status", status=403), PermissionDenied),
        ("/system/setupScreens", Fault(kind="status", status=500), ServerError),
        ("/system/mySecurity/customizeItems*", Fault(kind="malformed_json"), MalformedResponse),
        ("/system/mySecurity", Fault(kind="broken_paging"), IncompleteRead),
        ("/system/apiMembers", Fault(kind="wrong_shape"), MalformedResponse),
    ],
)
async def test_any_failed_read_fails_the_whole_collection(
    sim: RunningSimulator,
    make_client: ClientFactory,
    endpoint: str,
    fault: Fault,
    error: type[Exception],
) -> None:
    sim.state.add_fault("acme", fault.model_copy(update={"endpoint": endpoint}))
    with pytest.raises(error):
        await snapshot_of(make_client)


async def test_auditor_without_security_roles_access_fails_naming_the_permission(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    sim.state.set_permission("acme", "Drift Auditor", "System", "Security Roles", inquire="None")
    with pytest.raises(PermissionDenied) as caught:
        await snapshot_of(make_client, auditor=True)
    assert caught.value.permission == "System > Security Roles: Inquire"
    assert caught.value.endpoint.startswith("/system/securit")


def test_several_accounting_records_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="cwdrift.connectwise"):
        setups = parse_rows([{"id": 4}, {"id": 2}], AccountingPackageSetup, endpoint=ACCOUNTING)
        _warn_if_several("t1", ACCOUNTING, setups)
        _warn_if_several(
            "t1", "/finance/glCaptions", parse_rows([{"id": 1}], GLCaption, endpoint="")
        )
    assert [r.getMessage() for r in caplog.records] == [
        "tenant t1: /finance/accountingPackageSetup returned 2 records (ids 2, 4); "
        "using the lowest id"
    ]


@pytest.mark.parametrize("identifier", ['Gozynta"API', "a\\b", "Goz*", "", "  ", "tab\there"])
def test_member_identifier_that_would_change_the_query_is_a_config_error(
    identifier: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        member_condition(identifier, tenant_id="acme")
    assert caught.value.location == "tenant acme: integration_member"


def test_member_condition() -> None:
    assert member_condition(" GozyntaAPI ", tenant_id="acme") == 'identifier="GozyntaAPI"'


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [{"id": 1}],
        [{"member": {"identifier": "A"}}, {"member": {"identifier": "B"}}],
        [{"member": {"identifier": 7}}, {"member": "GozyntaAPI"}],  # not a reference's identifier
    ],
)
def test_caller_must_be_one_named_member(rows: list[dict[str, object]]) -> None:
    with pytest.raises(MalformedResponse, match="/system/mySecurity"):
        caller_of(my_security(rows))


def test_caller_of_tolerates_case_differences() -> None:
    rows = [{"member": {"identifier": "GozyntaAPI"}}, {"member": {"identifier": "gozyntaapi"}}]
    assert caller_of(my_security(rows)).casefold() == "gozyntaapi"


def my_security(rows: list[dict[str, object]]) -> tuple[MySecurity, ...]:
    named = [{"moduleName": "Finance", "moduleFunctionName": "Invoicing", **row} for row in rows]
    return parse_rows(named, MySecurity, endpoint="/system/mySecurity")
