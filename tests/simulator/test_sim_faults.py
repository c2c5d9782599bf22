"""Injected faults: each kind as a ConnectWise client would see it over real HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sim_support import ACME, GLOBEX, get, scenario

from monitor.simulator.mangle import Mangle
from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator, running_simulator


def next_link(response: httpx.Response) -> str | None:
    match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return match.group(1) if match else None


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "UnexpectedServerError"), (503, "ServiceUnavailable"), (404, "NotFound")],
)
def test_status_fault_answers_with_the_connectwise_error_body(
    sim: RunningSimulator, http: httpx.Client, status: int, code: str
) -> None:
    sim.state.add_fault(
        "acme", Fault(kind="status", endpoint="/system/info", status=status, times=1)
    )
    failed = get(http, sim, "/system/info")
    recovered = get(http, sim, "/system/info")
    assert (failed.status_code, failed.json()["code"], failed.json()["errors"]) == (
        status,
        code,
        None,
    )
    assert recovered.status_code == 200


def test_rate_limit_has_retry_after_and_the_documented_429_body(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="rate_limit", retry_after=7))
    response = get(http, sim, "/finance/glCaptions")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {
        "error": "ConnectWiseAPI",
        "message": "Too many requests. Please try again in 7 seconds.",
    }


def test_latency_fault_delays_but_answers_normally_and_is_used_up(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="latency", seconds=0.01, times=1))
    assert get(http, sim, "/system/info").status_code == 200
    assert sim.state.tenant("acme").faults == []


def test_malformed_json_is_a_200_json_response_that_does_not_parse(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="malformed_json", endpoint="/system/apiMembers"))
    response = get(http, sim, "/system/apiMembers")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


@pytest.mark.parametrize("status", [502, 200])
def test_html_error_is_an_html_page(sim: RunningSimulator, http: httpx.Client, status: int) -> None:
    sim.state.add_fault("acme", Fault(kind="html_error", status=status))
    response = get(http, sim, "/system/info")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>")


def test_wrong_shape_gives_an_object_where_a_list_is_expected(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="wrong_shape", endpoint="/finance/*"))
    listed = get(http, sim, "/finance/accountingPackageSetup").json()
    single = get(http, sim, "/finance/accountingPackageSetup/1").json()
    assert isinstance(listed, dict)
    assert isinstance(single, list)


def test_connection_reset_drops_the_connection_mid_response(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault(
        "acme", Fault(kind="connection_reset", endpoint="/system/mySecurity", times=1)
    )
    with pytest.raises(httpx.RemoteProtocolError):
        get(http, sim, "/system/mySecurity")
    assert get(http, sim, "/system/mySecurity").status_code == 200
    assert sim.state.requests[-2].status == 0  # logged as "no complete response"


@pytest.mark.parametrize("status", [500, 404])
def test_broken_paging_promises_a_next_page_that_fails(
    sim: RunningSimulator, http: httpx.Client, status: int
) -> None:
    sim.state.add_fault(
        "acme", Fault(kind="broken_paging", endpoint="/system/apiMembers", status=status)
    )
    first = get(http, sim, "/system/apiMembers")  # 2 rows: would fit one page
    following = next_link(first)
    assert first.status_code == 200
    assert following is not None
    assert http.get(following, headers=ACME.headers()).status_code == status


def test_broken_paging_fails_the_real_second_page(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="broken_paging", endpoint="/system/mySecurity"))
    first = get(http, sim, "/system/mySecurity")
    assert len(first.json()) == 25
    assert get(http, sim, "/system/mySecurity", page=2).status_code == 500


def test_faults_match_only_their_endpoint_glob_and_tenant(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="status", endpoint="/system/mySecurity*", status=500))
    assert get(http, sim, "/system/mySecurity").status_code == 500
    assert get(http, sim, "/system/mySecurity/customizeItems/").status_code == 500
    assert get(http, sim, "/system/info").status_code == 200
    assert get(http, sim, "/system/mySecurity", GLOBEX).status_code == 200


def test_times_counts_down_and_clear_faults_removes_the_rest(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault("acme", Fault(kind="status", status=500, times=2))
    sim.state.add_fault("globex", Fault(kind="status", status=500))
    statuses = [get(http, sim, "/system/info").status_code for _ in range(3)]
    sim.state.clear_faults()
    assert statuses == [500, 500, 200]
    assert get(http, sim, "/system/info", GLOBEX).status_code == 200


def test_companyinfo_can_fail_too(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.add_fault("acme", Fault(kind="html_error", endpoint="/login/companyinfo/*"))
    assert http.get(f"{sim.url}/login/companyinfo/acme").status_code == 502


def test_per_tenant_latency_still_answers(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.set_latency("acme", 0.01)
    assert get(http, sim, "/system/info").status_code == 200
    assert sim.state.tenant("acme").latency == 0.01
    assert sim.state.tenant("globex").latency == 0.0


def test_faults_declared_in_a_scenario_apply(http: httpx.Client) -> None:
    faulty = scenario(
        {
            "company_id": "faulty",
            "name": "Faulty",
            "roles": [{"name": "R"}],
            "members": [
                {"identifier": "M", "role": "R", "keys": [{"public_key": "p", "private_key": "s"}]}
            ],
            "faults": [{"kind": "rate_limit", "endpoint": "/system/info", "retry_after": 3}],
        }
    )
    with running_simulator(faulty) as running:
        from sim_support import Keys

        response = get(http, running, "/system/info", Keys("faulty", "p", "s"))
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")


def mangled(
    sim: RunningSimulator, http: httpx.Client, path: str, endpoint: str | None = None, **mangle: Any
) -> Any:
    """The answer to ``path`` after a ``mangle`` fault on ``endpoint`` (default: ``path``)."""
    sim.state.add_fault(
        "acme", Fault(kind="mangle", endpoint=endpoint or path, mangle=Mangle(**mangle))
    )
    response = get(http, sim, path)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    ("mangle", "check"),
    [
        (
            {"op": "drop", "field": "includeSalesTaxFlag"},
            lambda body: "includeSalesTaxFlag" not in body[0],
        ),
        (
            {"op": "null", "field": "transferExpensesAsBillFlag"},
            lambda body: body[0]["transferExpensesAsBillFlag"] is None,
        ),
        (
            {"op": "set", "field": "includeSalesTaxFlag", "value": "False"},
            lambda body: body[0]["includeSalesTaxFlag"] == "False",
        ),
        (
            {"op": "set", "field": "accountingPackage.identifier", "value": 6},
            lambda body: body[0]["accountingPackage"]["identifier"] == 6,
        ),
        ({"op": "extra", "field": "newFlag", "value": True}, lambda body: body[0]["newFlag"]),
        ({"op": "empty"}, lambda body: body == []),
        ({"op": "duplicate"}, lambda body: len(body) == 2 and body[0] == body[1]),
    ],
)
def test_mangle_rewrites_the_body_of_a_list_answer(
    sim: RunningSimulator, http: httpx.Client, mangle: dict[str, Any], check: Any
) -> None:
    body = mangled(sim, http, "/finance/accountingPackageSetup", **mangle)
    assert check(body)
    # The simulator's record itself is untouched: without the fault the answer is whole.
    sim.state.clear_faults()
    assert get(http, sim, "/finance/accountingPackageSetup").json()[0]["includeSalesTaxFlag"]


def test_mangle_where_changes_only_the_matching_rows(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.set_permission("acme", "Gozynta API", "System", "Security Roles", inquire="All")
    body = mangled(
        sim,
        http,
        "/system/mySecurity",
        op="null",
        field="deleteLevel",
        where={"moduleName": "Finance", "moduleFunctionName": "Invoicing"},
    )
    nulled = [(r["moduleName"], r["moduleFunctionName"]) for r in body if r["deleteLevel"] is None]
    assert nulled == [("Finance", "Invoicing")]


def test_mangle_truncate_keeps_the_first_rows_and_the_paging_links(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.add_fault(
        "acme",
        Fault(kind="mangle", endpoint="/system/mySecurity", mangle=Mangle(op="truncate", keep=3)),
    )
    response = get(http, sim, "/system/mySecurity", pageSize=10)
    assert len(response.json()) == 3
    assert next_link(response) is not None  # the answer still promises page 2


def test_mangle_applies_to_a_single_record_and_leaves_errors_alone(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    sim.state.set_permission("acme", "Gozynta API", "System", "Security Roles", inquire="All")
    body = mangled(
        sim,
        http,
        "/system/securityroles/27",
        "/system/securityroles/*",
        op="drop",
        field="adminFlag",
    )
    assert "adminFlag" not in body and body["name"] == "Gozynta API"
    sim.state.set_permission("acme", "Gozynta API", "System", "Security Roles", inquire="None")
    assert get(http, sim, "/system/securityroles/27").status_code == 403


def test_a_mangle_fault_needs_a_mangle_and_a_field_where_it_changes_one() -> None:
    with pytest.raises(ValueError, match="needs a mangle"):
        Fault(kind="mangle")
    with pytest.raises(ValueError, match="needs a field"):
        Mangle(op="drop")


def test_mangle_through_the_control_api(sim: RunningSimulator, http: httpx.Client) -> None:
    fault = {
        "kind": "mangle",
        "endpoint": "/system/apiMembers",
        "mangle": {"op": "drop", "field": "identifier"},
    }
    assert http.post(f"{sim.url}/_sim/tenants/acme/faults", json=fault).status_code == 200
    assert all("identifier" not in row for row in get(http, sim, "/system/apiMembers").json())


def test_several_mangles_of_one_endpoint_all_apply_in_order(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    for change in (
        Mangle(op="drop", field="includeSalesTaxFlag"),
        Mangle(op="set", field="inventorySOHFlag", value="true"),
        Mangle(op="duplicate"),
    ):
        sim.state.add_fault(
            "acme", Fault(kind="mangle", endpoint="/finance/accountingPackageSetup", mangle=change)
        )
    body = get(http, sim, "/finance/accountingPackageSetup").json()
    assert len(body) == 2 and body[0] == body[1]
    assert "includeSalesTaxFlag" not in body[0] and body[0]["inventorySOHFlag"] == "true"
