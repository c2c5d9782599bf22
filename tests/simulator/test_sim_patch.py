"""PATCH with ConnectWise's semantics over real HTTP: every shape accepted or refused, with the
status and body a client will see, and what a GET shows afterwards."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from sim_support import (
    ACME,
    ACME_AUDITOR,
    FIXED_NOW,
    GLOBEX,
    GLOBEX_FIX,
    INITECH_FIX,
    Keys,
    get,
    patch,
    replace,
)

from monitor.simulator.server import RunningSimulator

SETUP = "/finance/accountingPackageSetup/1"
GL = "/finance/glCaptions/1"
MEMBER = "/system/apiMembers/300"  # globex's GozyntaAPI, role "Gozynta API" (20)
STAMP = {"lastUpdated": FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "updatedBy": "CwdriftFix"}
MISSING = object()


def dig(record: dict[str, Any], dotted: str) -> object:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def read(http: httpx.Client, sim: RunningSimulator, path: str, keys: Keys = GLOBEX_FIX) -> Any:
    response = get(http, sim, path, keys)
    assert response.status_code == 200
    return response.json()


ACCEPTED = [
    # (endpoint, operations, dotted field in the GET record, expected value)
    (SETUP, [replace("transferExpensesAsBillFlag", False)], "transferExpensesAsBillFlag", False),
    (SETUP, [replace("/transferExpensesAsBillFlag", False)], "transferExpensesAsBillFlag", False),
    (
        SETUP,
        [{"op": "add", "path": "transferExpensesAsBillFlag", "value": False}],
        "transferExpensesAsBillFlag",
        False,
    ),
    (SETUP, [replace("invoiceFormat", "Detailed")], "invoiceFormat", "Detailed"),
    (
        SETUP,
        [replace("accountingPackage", {"identifier": "QB99"})],
        "accountingPackage.identifier",
        "QB99",
    ),
    (SETUP, [replace("accountingPackage", {"id": 1})], "accountingPackage.identifier", "QB99"),
    (
        SETUP,
        [replace("accountingPackage", {"id": 3, "identifier": "GPlains", "name": "ignored"})],
        "accountingPackage.name",
        "Microsoft Dynamics GP",
    ),
    (SETUP, [{"op": "remove", "path": "includeItemsFlag"}], "includeItemsFlag", MISSING),
    (
        SETUP,
        [replace("includeSalesTaxFlag", True), replace("includeSalesTaxFlag", False)],
        "includeSalesTaxFlag",
        False,  # applied in order: the last one wins
    ),
    (GL, [replace("segment2type", "Class")], "segment2type", "Class"),
    (GL, [replace("/segment5", "Department")], "segment5", "Department"),
    (GL, [{"op": "remove", "path": "segment4"}], "segment4", MISSING),
    (MEMBER, [replace("securityRole", {"id": 1})], "securityRole.name", "Admin"),
    (MEMBER, [replace("securityRole", {"id": 1, "name": "Admin"})], "securityRole.id", 1),
    (MEMBER, [replace("securityRole", {"id": 21, "name": "cwdrift fixer"})], "securityRole.id", 21),
    (MEMBER, [replace("name", "Gozynta Integration")], "name", "Gozynta Integration"),
    (MEMBER, [replace("inactiveFlag", True)], "inactiveDate", STAMP["lastUpdated"]),
]


@pytest.mark.parametrize(("endpoint", "operations", "field", "expected"), ACCEPTED)
def test_accepted_patch_answers_the_full_record_and_a_get_shows_it(
    sim: RunningSimulator,
    http: httpx.Client,
    endpoint: str,
    operations: list[dict[str, object]],
    field: str,
    expected: object,
) -> None:
    before = read(http, sim, endpoint)
    response = patch(http, sim, endpoint, operations)
    after = read(http, sim, endpoint)

    assert response.status_code == 200
    assert response.json() == after  # the whole record, as a GET now shows it
    assert dig(after, field) == expected
    assert dig(before, field) != expected
    assert after["_info"] == STAMP


# (endpoint, body, ValidationError code, field)
BILL, PKG, ROLE = "transferExpensesAsBillFlag", "accountingPackage", "securityRole"
REFUSED = [
    (SETUP, [replace(BILL.capitalize(), False)], "UnknownField", BILL.capitalize()),
    (SETUP, [replace("noSuchFlag", True)], "UnknownField", "noSuchFlag"),
    (SETUP, [replace(BILL, "false")], "InvalidType", BILL),
    (SETUP, [replace(BILL, 0)], "InvalidType", BILL),
    (SETUP, [replace("invoiceFormat", "Fancy")], "InvalidValue", "invoiceFormat"),
    (SETUP, [replace("invoiceFormat", 3)], "InvalidType", "invoiceFormat"),
    (SETUP, [replace(PKG, "Other")], "InvalidType", PKG),
    (SETUP, [replace(PKG, {"identifier": "Xero"})], "InvalidValue", PKG),
    (SETUP, [replace(PKG, {"identifier": "other"})], "InvalidValue", PKG),
    (SETUP, [replace(PKG, {"id": 99})], "NotFound", PKG),
    (SETUP, [replace(PKG, {"id": True})], "InvalidType", PKG),
    (SETUP, [replace(PKG, {"id": 1, "identifier": "Other"})], "InvalidValue", PKG),
    (SETUP, [replace(PKG, {"name": "Other"})], "Required", PKG),
    (SETUP, [{"op": "remove", "path": PKG}], "Required", PKG),
    (SETUP, [replace("id", 2)], "ReadOnly", "id"),
    (SETUP, [replace("_info", {})], "ReadOnly", "_info"),
    (SETUP, [{"op": "move", "path": "invoiceFormat", "value": "Default"}], "InvalidOperation", ""),
    (SETUP, [{"op": "Replace", "path": "invoiceFormat", "value": "x"}], "InvalidOperation", ""),
    (SETUP, [{"op": "replace", "path": "invoiceFormat"}], "Required", "invoiceFormat"),
    (SETUP, [{"op": "replace", "path": "", "value": 1}], "InvalidPath", ""),
    (SETUP, [{"op": "replace", "path": 5, "value": 1}], "InvalidPath", ""),
    (SETUP, {"op": "replace", "path": "invoiceFormat", "value": "Default"}, "InvalidOperation", ""),
    (SETUP, ["replace"], "InvalidOperation", ""),
    (SETUP, None, "InvalidOperation", ""),
    # one bad operation refuses the request: the good one before it is not applied either
    (SETUP, [replace(BILL, False), replace("x", 1)], "UnknownField", "x"),
    (GL, [replace("segment2type", "Department")], "InvalidValue", "segment2type"),
    (GL, [replace("segment2type", 2)], "InvalidType", "segment2type"),
    (GL, [replace("segment11", "Eleventh")], "UnknownField", "segment11"),
    (GL, [replace("segment1", "x" * 256)], "InvalidValue", "segment1"),
    (GL, [replace("segment1", 5)], "InvalidType", "segment1"),
    (MEMBER, [replace(ROLE, {"id": 999})], "NotFound", ROLE),
    (MEMBER, [replace(ROLE, 1)], "InvalidType", ROLE),
    (MEMBER, [replace(ROLE, {"name": "Admin"})], "Required", ROLE),
    (MEMBER, [replace(ROLE, {"id": "1"})], "InvalidType", ROLE),
    (MEMBER, [replace(ROLE, {"id": 1, "name": "Gozynta API"})], "InvalidValue", ROLE),
    (MEMBER, [{"op": "remove", "path": ROLE}], "Required", ROLE),
    (MEMBER, [replace("name", "")], "Required", "name"),
    (MEMBER, [replace("name", "x" * 31)], "InvalidValue", "name"),
    (MEMBER, [{"op": "remove", "path": "name"}], "Required", "name"),
    (MEMBER, [replace("inactiveFlag", "yes")], "InvalidType", "inactiveFlag"),
    (MEMBER, [replace("inactiveDate", "2026-01-01T00:00:00Z")], "ReadOnly", "inactiveDate"),
    (MEMBER, [replace("notes", "hello")], "NotSupported", "notes"),
    (MEMBER, [replace("identifier", "Renamed")], "NotSupported", "identifier"),
    (MEMBER, [replace("SecurityRole", {"id": 1})], "UnknownField", "SecurityRole"),
]  # fmt: skip
RESOURCES = {SETUP: "accountingPackageSetup", GL: "glCaption", MEMBER: "apiMember"}


@pytest.mark.parametrize(("endpoint", "body", "code", "field"), REFUSED)
def test_refused_patch_is_a_400_error_response_message_and_changes_nothing(
    sim: RunningSimulator,
    http: httpx.Client,
    endpoint: str,
    body: object,
    code: str,
    field: str,
) -> None:
    before = read(http, sim, endpoint)
    response = patch(http, sim, endpoint, body)

    assert response.status_code == 400
    resource = RESOURCES[endpoint]
    assert response.json()["code"] == "InvalidObject"
    assert response.json()["message"] == f"{resource} object is invalid"
    errors = response.json()["errors"]
    assert [(e["code"], e["field"], e["resource"]) for e in errors] == [(code, field, resource)]
    assert errors[0]["message"]
    assert read(http, sim, endpoint) == before


def test_every_problem_of_a_request_is_reported(sim: RunningSimulator, http: httpx.Client) -> None:
    response = patch(
        http,
        sim,
        SETUP,
        [replace("invoiceFormat", "Fancy"), replace("nope", 1), replace("suppressMemoFlag", 1)],
    )
    assert [e["field"] for e in response.json()["errors"]] == [
        "invoiceFormat",
        "nope",
        "suppressMemoFlag",
    ]


@pytest.mark.parametrize(
    ("endpoint", "operation", "field", "unchanged"),
    [
        (SETUP, replace("accountingPackage/identifier", "QB99"), f"{PKG}.identifier", "Other"),
        (SETUP, replace("/accountingPackage/id", 1), f"{PKG}.identifier", "Other"),
        (MEMBER, replace("securityRole/id", 1), "securityRole.id", 20),
        (MEMBER, replace("/securityRole/name", "Admin"), "securityRole.name", "Gozynta API"),
    ],
)  # fmt: skip
def test_a_sub_path_gets_the_documented_false_200(
    sim: RunningSimulator,
    http: httpx.Client,
    endpoint: str,
    operation: dict[str, object],
    field: str,
    unchanged: object,
) -> None:
    before = read(http, sim, endpoint)
    response = patch(http, sim, endpoint, [operation])
    after = read(http, sim, endpoint)

    assert response.status_code == 200
    assert dig(response.json(), field) == unchanged
    assert after == before  # not persisted, not even stamped


def test_a_sub_path_beside_a_whole_field_only_loses_itself(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    response = patch(
        http,
        sim,
        SETUP,
        [
            replace("accountingPackage/identifier", "QB99"),
            replace("transferExpensesAsBillFlag", False),
        ],
    )
    after = read(http, sim, SETUP)
    assert response.status_code == 200
    assert (after["accountingPackage"]["identifier"], after["transferExpensesAsBillFlag"]) == (
        "Other",
        False,
    )


def test_a_sub_path_of_an_unknown_field_is_refused(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    response = patch(http, sim, SETUP, [replace("accountingPackages/identifier", "QB99")])
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "UnknownField"


def test_an_empty_patch_changes_nothing(sim: RunningSimulator, http: httpx.Client) -> None:
    before = read(http, sim, SETUP)
    response = patch(http, sim, SETUP, [])
    assert response.status_code == 200
    assert read(http, sim, SETUP) == before == response.json()


def test_updated_by_is_the_writing_member_and_last_updated_the_simulator_clock(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    """Two members of one tenant: each write names whoever made it."""
    patch(http, sim, SETUP, [replace("transferExpensesAsBillFlag", False)], GLOBEX_FIX)
    by_fixer = read(http, sim, SETUP)["_info"]
    patch(http, sim, SETUP, [replace("transferExpensesAsBillFlag", True)], GLOBEX)
    by_integration = read(http, sim, SETUP)["_info"]
    assert by_fixer == STAMP
    assert by_integration == {**STAMP, "updatedBy": "GozyntaAPI"}


def test_a_role_change_is_what_the_member_then_reads_as_itself(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    """The member's effective permissions follow its new role at once (the re-read verifies)."""
    patch(http, sim, MEMBER, [replace("securityRole", {"id": 21})])
    rows = get(http, sim, "/system/mySecurity", GLOBEX, pageSize=1000).json()
    member_edit = next(
        r["editLevel"] for r in rows if r["moduleFunctionName"] == "Member Maintenance"
    )
    assert member_edit == "All"  # "Cwdrift Fixer" grants it; "Gozynta API" did not


@pytest.mark.parametrize(
    ("keys", "endpoint", "status"),
    [
        (INITECH_FIX, SETUP, 403),  # Finance > Accounting Interface: Edit = None
        (INITECH_FIX, GL, 403),
        (INITECH_FIX, MEMBER, 403),  # System > Member Maintenance: Edit = None
        (ACME_AUDITOR, SETUP, 403),  # read-only auditor
        (ACME_AUDITOR, MEMBER, 403),
        (ACME, MEMBER, 403),  # the Mobius role: Member Maintenance is Inquire only
        (ACME, SETUP, 200),  # ... but Accounting Interface is Add/Edit/Delete/Inquire
        (GLOBEX_FIX, SETUP, 200),
        (GLOBEX_FIX, GL, 200),
        (GLOBEX_FIX, MEMBER, 200),
    ],
)
def test_the_callers_role_decides_whether_it_may_edit(
    sim: RunningSimulator, http: httpx.Client, keys: Keys, endpoint: str, status: int
) -> None:
    company = keys.company_id
    member_id = next(
        m.id for m in sim.state.tenant(company).members.values() if m.identifier == "GozyntaAPI"
    )
    path = MEMBER.replace("300", str(member_id)) if endpoint == MEMBER else endpoint
    response = patch(http, sim, path, [], keys)
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "Forbidden"
        assert response.json()["errors"] is None


def test_edit_granted_in_the_ui_lets_the_same_member_write(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    operations = [replace("transferExpensesAsBillFlag", True)]
    refused = patch(http, sim, SETUP, operations, INITECH_FIX)
    sim.state.set_permission(
        "initech", "Cwdrift Fixer", "Finance", "Accounting Interface", edit="All"
    )
    allowed = patch(http, sim, SETUP, operations, INITECH_FIX)
    assert (refused.status_code, allowed.status_code) == (403, 200)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PUT", "/finance/accountingPackageSetup/1", 405),  # PUT is not simulated
        ("PATCH", "/finance/accountingPackageSetup", 405),
        ("PATCH", "/system/securityRoles/20/settings", 405),  # role rows: read-only in the API
        ("PATCH", "/system/securityRoles/20/settings/9000", 405),
        ("PUT", "/system/securityRoles/20/settings/9000", 405),
        ("PATCH", "/system/mySecurity/customizeItems/", 405),  # customize: read-only
        ("PUT", "/system/mySecurity/customizeItems", 405),
        ("POST", "/system/securityroles", 405),
        ("DELETE", "/system/apiMembers/300", 405),
        ("PATCH", "/system/info", 405),
        ("PATCH", "/finance/accountingPackageSetup/2", 404),
        ("PATCH", "/finance/glCaptions/7", 404),
        ("PATCH", "/system/apiMembers/999", 404),
        ("PATCH", "/system/nothing/1", 404),
        ("PATCH", "/Finance/AccountingPackageSetup/1", 404),  # paths are case-sensitive
    ],
)
def test_writes_where_connectwise_allows_none(
    sim: RunningSimulator, http: httpx.Client, method: str, path: str, status: int
) -> None:
    before = read(http, sim, SETUP)
    response = http.request(
        method, sim.api_url("globex") + path, headers=GLOBEX_FIX.headers(), json=[]
    )
    assert response.status_code == status
    assert response.json()["code"] == {404: "NotFound", 405: "MethodNotAllowed"}[status]
    assert read(http, sim, SETUP) == before


def test_a_body_that_is_not_json_is_a_400(sim: RunningSimulator, http: httpx.Client) -> None:
    response = http.patch(
        sim.api_url("globex") + SETUP, headers=GLOBEX_FIX.headers(), content=b"[{not json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "InvalidObject")


def test_unauthenticated_writes_are_401(sim: RunningSimulator, http: httpx.Client) -> None:
    response = patch(http, sim, SETUP, [], Keys("globex", "globexfix000001", "wrong"))
    assert response.status_code == 401


# Every combination of these, one operation per request: an exhaustive grid rather than a
# Hypothesis search (Hypothesis is not one of the project's dependencies).
GRID_OPS = ("add", "replace", "remove", "move", "REPLACE")
GRID_PATHS = ("transferExpensesAsBillFlag", "/invoiceFormat", "accountingPackage",
              "accountingPackage/id", "id", "Nope", "", "/")  # fmt: skip
GRID_VALUES = (None, True, "Detailed", [], {"identifier": "QB99"}, {"id": "6"}, MISSING)


def grid() -> list[object]:
    bodies: list[object] = [None, {}, "[]", 7, [[]], [None]]
    for op, path, value in itertools.product(GRID_OPS, GRID_PATHS, GRID_VALUES):
        operation: dict[str, object] = {"op": op, "path": path}
        if value is not MISSING:
            operation["value"] = value
        bodies.append([operation])
    return bodies


def test_any_body_is_answered_200_or_400_and_a_400_changes_nothing(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    outcomes = set()
    before = read(http, sim, SETUP)
    for body in grid():
        response = patch(http, sim, SETUP, body)
        after = read(http, sim, SETUP)
        outcomes.add(response.status_code)
        assert response.status_code in (200, 400), body
        if response.status_code == 400:
            assert response.json()["code"] == "InvalidObject", body
            assert response.json()["errors"], body
            assert after == before, body
        else:
            assert response.json() == after, body
            sim.state.reset()
            before = read(http, sim, SETUP)
    assert outcomes == {200, 400}
