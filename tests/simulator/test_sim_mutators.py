"""Mutators (in-process and through ``/_sim/``) change what the API returns and stamp ``_info``."""

from __future__ import annotations

import httpx
import pytest
from freezegun import freeze_time
from sim_support import ACME, ACME_AUDITOR, FIXED_NOW, demo_scenario, get

from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator
from monitor.simulator.state import SimulatorState, SimulatorStateError

STAMP = {"lastUpdated": "2026-03-04T15:22:10Z", "updatedBy": "jdoe"}


def accounting(http: httpx.Client, sim: RunningSimulator) -> dict[str, object]:
    rows: list[dict[str, object]] = get(http, sim, "/finance/accountingPackageSetup").json()
    return rows[0]


def setting(http: httpx.Client, sim: RunningSimulator, function: str) -> dict[str, object]:
    rows = get(http, sim, "/system/securityRoles/27/settings", ACME_AUDITOR, pageSize=1000).json()
    return next(r for r in rows if r["moduleFunctionName"] == function)


def test_set_accounting_changes_the_field_and_stamps_info(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    before = accounting(http, sim)
    sim.state.set_accounting("acme", "transferExpensesAsBillFlag", True, by="jdoe")
    after = accounting(http, sim)
    assert before["transferExpensesAsBillFlag"] is False
    assert after["transferExpensesAsBillFlag"] is True
    assert before["_info"] == {"lastUpdated": "2024-11-02T10:01:00Z", "updatedBy": "admin1"}
    assert after["_info"] == STAMP


def test_set_package(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.set_package("acme", "QB99", by="jdoe")
    package = accounting(http, sim)["accountingPackage"]
    assert isinstance(package, dict)
    assert (package["identifier"], package["name"]) == ("QB99", "QuickBooks")


def test_set_permission_changes_the_row_and_what_the_member_may_read(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    assert get(http, sim, "/system/securityroles").status_code == 403
    sim.state.set_permission(
        "acme", "Gozynta API", "System", "Security Roles", inquire="All", by="jdoe"
    )
    sim.state.set_permission(
        "acme", "Gozynta API", "Finance", "Invoicing", delete="None", by="jdoe"
    )
    invoicing = setting(http, sim, "Invoicing")
    assert get(http, sim, "/system/securityroles").status_code == 200
    assert (invoicing["deleteLevel"], invoicing["editLevel"]) == ("None", "All")
    assert invoicing["_info"] == STAMP


def test_set_customize_removes_and_restores_an_item(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.set_customize("acme", "Gozynta API", "Invoicing / Tax Code", False, by="jdoe")
    removed = get(http, sim, "/system/mySecurity/customizeItems/").json()
    sim.state.set_customize("acme", "gozynta api", "invoicing/tax code", True)
    restored = get(http, sim, "/system/mySecurity/customizeItems/").json()
    role = get(http, sim, "/system/securityroles/27", ACME_AUDITOR).json()
    assert [i["itemIdentifier"] for i in removed] == ["Billing Status"]
    assert [i["itemIdentifier"] for i in restored] == ["Billing Status", "Tax Code"]
    assert role["_info"]["lastUpdated"] == STAMP["lastUpdated"]


def test_set_member_role_moves_the_member_and_its_effective_rights(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.set_member_role("acme", "GozyntaAPI", "Cwdrift Auditor", by="jdoe")
    member = get(http, sim, "/system/apiMembers", conditions='identifier="GozyntaAPI"').json()[0]
    mine = get(http, sim, "/system/mySecurity", pageSize=1000).json()
    assert member["securityRole"]["name"] == "Cwdrift Auditor"
    assert member["_info"] == STAMP
    assert next(r for r in mine if r["moduleFunctionName"] == "Invoicing")["inquireLevel"] == "None"
    assert get(http, sim, "/system/securityroles").status_code == 200


def test_set_member_inactive_shows_and_refuses_the_keys(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.set_member_inactive("acme", "GozyntaAPI", by="jdoe")
    listed = get(
        http, sim, "/system/apiMembers", ACME_AUDITOR, conditions="inactiveFlag=True"
    ).json()
    assert [m["identifier"] for m in listed] == ["GozyntaAPI"]
    assert listed[0]["inactiveDate"] == STAMP["lastUpdated"]
    assert get(http, sim, "/system/info").status_code == 401


def test_set_segment(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.set_segment("acme", 2, type="Class", by="jdoe")
    sim.state.set_segment("acme", 5, caption="Region", type="Account", by="jdoe")
    captions = get(http, sim, "/finance/glCaptions").json()[0]
    assert (captions["segment2type"], captions["segment5"], captions["segment5type"]) == (
        "Class",
        "Region",
        "Account",
    )
    assert captions["_info"] == STAMP


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.set_accounting("acme", "noSuchFlag", True), "unknown AccountingPackageSetup"),
        (lambda s: s.set_accounting("acme", "includeSalesTaxFlag", "yes"), "true or false"),
        (lambda s: s.set_accounting("acme", "invoiceFormat", "Fancy"), "Default, Condensed"),
        (lambda s: s.set_package("acme", "Xero"), "QB99"),
        (
            lambda s: s.set_permission("acme", "Gozynta API", "Finance", "Nope", add="All"),
            "Finance > Nope",
        ),
        (
            lambda s: s.set_permission("acme", "Gozynta API", "Finance", "Invoicing", add="Mine"),
            "None, My or All",
        ),
        (
            lambda s: s.set_permission("acme", "No Role", "Finance", "Invoicing", add="All"),
            "no role",
        ),
        (
            lambda s: s.set_customize("acme", "Gozynta API", "Invoicing / Nope", True),
            "Table Setup item",
        ),
        (lambda s: s.set_member_role("acme", "Nobody", "Gozynta API"), "no API member"),
        (lambda s: s.set_segment("acme", 11, type="Account"), "1-10"),
        (lambda s: s.set_segment("acme", 1, type="Dept"), "Account or Class"),
        (lambda s: s.set_latency("acme", -1), ">= 0"),
        (lambda s: s.set_package("nowhere", "Other"), "no tenant"),
    ],
)
def test_mutators_reject_what_the_ui_would_not_allow(mutate: object, message: str) -> None:
    state = SimulatorState(demo_scenario())
    with pytest.raises(SimulatorStateError, match=message):
        mutate(state)  # type: ignore[operator]


def test_default_clock_is_freezable() -> None:
    state = SimulatorState(demo_scenario())
    with freeze_time("2026-01-02 03:04:05"):
        state.set_accounting("acme", "includeSalesTaxFlag", False)
    assert state.tenant("acme").accounting_info == {
        "lastUpdated": "2026-01-02T03:04:05Z",
        "updatedBy": "admin1",
    }


def test_request_log_records_requests_without_secrets(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    get(http, sim, "/system/apiMembers", conditions='identifier="GozyntaAPI"')
    record = sim.state.requests[-1]
    assert (record.company_id, record.method, record.path, record.status) == (
        "acme",
        "GET",
        "/system/apiMembers",
        200,
    )
    assert record.query == {"conditions": 'identifier="GozyntaAPI"'}
    assert "clientId" in record.headers
    assert ACME.private_key not in repr(sim.state.requests)
    assert ACME.private_key not in repr(sim.state.tenant("acme").members)
    assert ACME.private_key not in repr(demo_scenario())


def test_reset_undoes_mutations(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.set_package("acme", "QB99")
    sim.state.add_fault("acme", Fault(kind="status"))
    sim.state.reset()
    assert (
        get(http, sim, "/finance/accountingPackageSetup").json()[0]["accountingPackage"][
            "identifier"
        ]
        == "Other"
    )
    assert len(sim.state.requests) == 1


# -- the control API ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "path", "check"),
    [
        (
            "accounting",
            {"field": "includeSalesTaxFlag", "value": False, "by": "jdoe"},
            "/finance/accountingPackageSetup",
            lambda rows: rows[0]["includeSalesTaxFlag"] is False and rows[0]["_info"] == STAMP,
        ),
        (
            "accounting",
            {"field": "package", "value": "GPlains"},
            "/finance/accountingPackageSetup",
            lambda rows: rows[0]["accountingPackage"]["identifier"] == "GPlains",
        ),
        (
            "package",
            {"identifier": "SBA"},
            "/finance/accountingPackageSetup",
            lambda rows: rows[0]["accountingPackage"]["identifier"] == "SBA",
        ),
        (
            "permission",
            {"role": "Gozynta API", "module": "Finance", "function": "Invoicing", "edit": "My"},
            "/system/mySecurity?pageSize=1000",
            lambda rows: any(
                r["moduleFunctionName"] == "Invoicing" and r["editLevel"] == "My" for r in rows
            ),
        ),
        (
            "customize",
            {"role": "Gozynta API", "item": "Invoicing / Billing Status", "allowed": False},
            "/system/mySecurity/customizeItems/",
            lambda rows: [r["itemIdentifier"] for r in rows] == ["Tax Code"],
        ),
        (
            "member-role",
            {"member": "GozyntaAPI", "role": "Cwdrift Auditor"},
            "/system/apiMembers/300",
            lambda row: row["securityRole"]["name"] == "Cwdrift Auditor",
        ),
        (
            "segment",
            {"n": 3, "type": "Class", "by": "jdoe"},
            "/finance/glCaptions/1",
            lambda row: row["segment3type"] == "Class" and row["_info"] == STAMP,
        ),
        (
            "faults",
            {"kind": "status", "status": 503, "endpoint": "/finance/glCaptions"},
            None,
            None,
        ),
    ],
)
def test_control_api_applies_the_same_mutators(
    sim: RunningSimulator,
    http: httpx.Client,
    action: str,
    body: dict[str, object],
    path: str | None,
    check: object,
) -> None:
    answer = http.post(f"{sim.url}/_sim/tenants/acme/{action}", json=body)
    assert answer.json() == {"ok": True}
    if path is None:
        assert get(http, sim, "/finance/glCaptions").status_code == 503
        assert http.delete(f"{sim.url}/_sim/tenants/acme/faults").json() == {"ok": True}
        assert get(http, sim, "/finance/glCaptions").status_code == 200
        return
    response = http.get(
        sim.api_url("acme") + path,
        headers=ACME_AUDITOR.headers() if "apiMembers" in path else ACME.headers(),
    )
    assert check(response.json())  # type: ignore[operator]


def test_control_api_member_inactive_and_latency(sim: RunningSimulator, http: httpx.Client) -> None:
    http.post(f"{sim.url}/_sim/tenants/acme/member-inactive", json={"member": "GozyntaAPI"})
    http.post(f"{sim.url}/_sim/tenants/acme/latency", json={"seconds": 0.01})
    http.post(f"{sim.url}/_sim/latency", json={"seconds": 0.02})
    assert get(http, sim, "/system/info").status_code == 401
    assert {t.latency for t in (sim.state.tenant("acme"), sim.state.tenant("globex"))} == {0.02}


def test_control_api_summary_requests_and_reset(sim: RunningSimulator, http: httpx.Client) -> None:
    get(http, sim, "/system/info")
    summary = http.get(f"{sim.url}/_sim/tenants").json()
    logged = http.get(f"{sim.url}/_sim/requests").json()
    acme = next(t for t in summary if t["company_id"] == "acme")
    assert [t["company_id"] for t in summary] == [
        "acme",
        "globex",
        "initech",
        "umbrella",
        "northwind",
    ]
    assert {m["identifier"]: m["role"] for m in acme["members"]} == {
        "GozyntaAPI": "Gozynta API",
        "CwdriftAudit": "Cwdrift Auditor",
    }
    assert "private" not in str(summary)
    assert logged[-1]["path"] == "/system/info"
    assert http.post(f"{sim.url}/_sim/reset").json() == {"ok": True}
    assert http.get(f"{sim.url}/_sim/requests").json() == []


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        ("/_sim/tenants/nobody/accounting", {"field": "includeSalesTaxFlag", "value": True}, 404),
        ("/_sim/tenants/acme/accounting", {"field": "noSuchFlag", "value": True}, 400),
        ("/_sim/tenants/acme/accounting", {"value": True}, 400),
        (
            "/_sim/tenants/acme/permission",
            {"role": "Gozynta API", "module": "X", "function": "Y"},
            400,
        ),
        ("/_sim/tenants/acme/faults", {"kind": "explode"}, 400),
        ("/_sim/tenants/acme/segment", {"n": 1, "type": "Dept"}, 400),
    ],
)
def test_control_api_rejects_bad_requests(
    sim: RunningSimulator, http: httpx.Client, url: str, body: dict[str, object], status: int
) -> None:
    response = http.post(sim.url + url, json=body)
    assert response.status_code == status
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("url", "content", "error"),
    [
        (
            "/_sim/tenants/acme/accounting",
            b'{"field": "includeSalesTaxFlag" "value": false}',
            "body is not JSON: Expecting ',' delimiter at line 1, column 33",
        ),
        (
            "/_sim/tenants/acme/accounting",
            b"\xff\xfe{",
            "body is not UTF-8 text: send a JSON object",
        ),
        (
            "/_sim/tenants/acme/accounting",
            b'{"value": true}',
            "bad body: field: Field required (a JSON object with by?, field, value)",
        ),
        (
            "/_sim/tenants/acme/segment",
            b'{"n": "two", "colour": 1}',
            "bad body: n: Input should be a valid integer, unable to parse string as an "
            "integer; colour: Extra inputs are not permitted "
            "(a JSON object with by?, n, caption?, type?)",
        ),
        (
            "/_sim/latency",
            b"[1]",
            "bad body: (the body): Input should be a valid dictionary or instance of "
            "LatencyChange (a JSON object with seconds)",
        ),
    ],
)
def test_a_bad_body_is_answered_with_what_is_wrong(
    sim: RunningSimulator, http: httpx.Client, url: str, content: bytes, error: str
) -> None:
    response = http.post(sim.url + url, content=content)
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_fixed_clock_is_the_one_injected() -> None:
    assert STAMP["lastUpdated"] == FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
