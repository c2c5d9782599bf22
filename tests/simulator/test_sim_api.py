"""The simulated ConnectWise API over real HTTP: shapes, auth, permissions, paging, conditions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sim_support import ACME, ACME_AUDITOR, GLOBEX, Keys, get, scenario

from monitor.simulator.catalog import MODULE_FUNCTIONS
from monitor.simulator.server import RunningSimulator, running_simulator

UNAUTHENTICATED = {"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "errors": None}


def links(response: httpx.Response) -> dict[str, str]:
    """``Link`` header -> {rel: url}."""
    return dict(
        (rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    )


def test_companyinfo_has_the_documented_shape_without_auth(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    cloud = http.get(f"{sim.url}/login/companyinfo/globex").json()
    on_premise = http.get(f"{sim.url}/login/companyinfo/ACME").json()

    assert cloud == {
        "CompanyName": "Globex Corporation",
        "Codebase": "v2025_1/",
        "VersionCode": "v2025.1",
        "VersionNumber": "v4.6.10431",
        "CompanyID": "globex",
        "IsCloud": "True",
    }
    assert on_premise["IsCloud"] == "False"
    assert http.get(f"{sim.url}/login/companyinfo/nobody").status_code == 404


def test_system_info_reports_version_and_cloud(sim: RunningSimulator, http: httpx.Client) -> None:
    info = get(http, sim, "/system/info", GLOBEX).json()
    assert info["version"] == "v2025.1.10431"
    assert info["isCloud"] is True


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("wrong private key", Keys("acme", ACME.public_key, "not-the-key").headers()),
        ("wrong public key", Keys("acme", "nosuchpublickey", ACME.private_key).headers()),
        ("keys of another company", Keys("globex", ACME.public_key, ACME.private_key).headers()),
        ("unknown company", Keys("nobody", ACME.public_key, ACME.private_key).headers()),
        ("missing clientId", ACME.headers(client_id=False)),
        ("no Authorization", {"clientId": "x"}),
        ("not base64", {"Authorization": "Basic %%%", "clientId": "x"}),
        ("no company separator", {"Authorization": "Basic YWJjOmRlZg==", "clientId": "x"}),
        ("bearer scheme", {"Authorization": "Bearer abc", "clientId": "x"}),
    ],
)
def test_bad_credentials_get_401_with_the_connectwise_body(
    sim: RunningSimulator, http: httpx.Client, case: str, headers: dict[str, str]
) -> None:
    response = http.get(f"{sim.api_url('acme')}/system/info", headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHENTICATED), case


def test_good_credentials_pass_and_company_id_is_case_insensitive(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    upper = Keys("ACME", ACME.public_key, ACME.private_key)
    assert get(http, sim, "/system/info").status_code == 200
    assert get(http, sim, "/system/info", upper).status_code == 200


def test_inactive_member_is_refused(sim: RunningSimulator, http: httpx.Client) -> None:
    sim.state.set_member_inactive("acme", "GozyntaAPI", True)
    assert get(http, sim, "/system/info").status_code == 401
    assert get(http, sim, "/system/info", ACME_AUDITOR).status_code == 200


def test_client_id_can_be_optional_per_tenant(http: httpx.Client) -> None:
    lax = scenario(
        {
            "company_id": "lax",
            "name": "Lax",
            "require_client_id": False,
            "roles": [{"name": "R", "template": "none"}],
            "members": [
                {"identifier": "M", "role": "R", "keys": [{"public_key": "p", "private_key": "s"}]}
            ],
        }
    )
    with running_simulator(lax) as running:
        response = http.get(
            f"{running.api_url('lax')}/system/info",
            headers=Keys("lax", "p", "s").headers(client_id=False),
        )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("codebase", "status"), [("v2025_1", 200), ("v4_6_release", 200), ("v2019_1", 404)]
)
def test_tenant_codebase_and_v4_6_release_are_served(
    sim: RunningSimulator, http: httpx.Client, codebase: str, status: int
) -> None:
    response = http.get(f"{sim.url}/{codebase}/apis/3.0/system/info", headers=ACME.headers())
    assert response.status_code == status


def test_unknown_path_and_wrong_case_are_404_and_read_only_writes_are_405(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    assert get(http, sim, "/system/nothing").status_code == 404
    assert get(http, sim, "/System/Info").status_code == 404
    assert get(http, sim, "/system/securityRoles", ACME_AUDITOR).status_code == 404
    patch = http.patch(
        f"{sim.api_url('acme')}/system/securityRoles/27/settings", headers=ACME.headers(), json=[]
    )
    assert patch.status_code == 405
    assert patch.json()["code"] == "MethodNotAllowed"


# Endpoint -> the one permission row (inquire) that unlocks it.
GUARDED = [
    ("/system/securityroles", "System", "Security Roles"),
    ("/system/securityroles/count", "System", "Security Roles"),
    ("/system/securityroles/27", "System", "Security Roles"),
    ("/system/securityRoles/27/settings", "System", "Security Roles"),
    ("/system/securityRoles/27/settings/count", "System", "Security Roles"),
    ("/system/apiMembers", "System", "Member Maintenance"),
    ("/system/apiMembers/count", "System", "Member Maintenance"),
    ("/system/members", "System", "Member Maintenance"),
    ("/system/setupScreens", "System", "Table Setup"),
    ("/system/setupScreens/16", "System", "Table Setup"),
    ("/finance/accountingPackageSetup", "Finance", "Accounting Interface"),
    ("/finance/accountingPackageSetup", "System", "Table Setup"),
    ("/finance/accountingPackages", "Finance", "Accounting Interface"),
    ("/finance/glCaptions", "Finance", "Accounting Interface"),
    ("/finance/glCaptions/1", "System", "Table Setup"),
]


def _slug(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()).lower()


def _member_keys(module: str, function: str, level: str) -> Keys:
    return Keys(
        "perm", f"pk{_slug(module + function)}{level}", f"sk-{_slug(module + function)}-{level}"
    )


def _permission_tenant() -> dict[str, object]:
    """A tenant with one member per (row, level): each role grants inquire on that row only."""
    roles: list[dict[str, object]] = [{"name": "Target", "id": 27, "template": "none"}]
    members: list[dict[str, object]] = []
    for module, function in sorted({(m, f) for _, m, f in GUARDED} | {("Sales", "Quota")}):
        for level in ("None", "My", "All"):
            name = f"{_slug(module + function)[:24]}{level}"
            keys = _member_keys(module, function, level)
            roles.append(
                {
                    "name": name,
                    "template": "none",
                    "overrides": [{"module": module, "function": function, "inquire": level}],
                }
            )
            members.append(
                {
                    "identifier": f"Member{len(members)}",
                    "role": name,
                    "keys": [{"public_key": keys.public_key, "private_key": keys.private_key}],
                }
            )
    return {"company_id": "perm", "name": "Permissions", "roles": roles, "members": members}


@pytest.fixture(scope="module")
def permission_sim() -> Iterator[RunningSimulator]:
    """Read-only tests share one server: every member holds exactly one permission."""
    with running_simulator(scenario(_permission_tenant())) as running:
        yield running


@pytest.mark.parametrize(("path", "module", "function"), GUARDED)
@pytest.mark.parametrize("level", ["None", "My", "All"])
def test_each_endpoint_needs_its_inquire_permission(
    permission_sim: RunningSimulator,
    http: httpx.Client,
    path: str,
    module: str,
    function: str,
    level: str,
) -> None:
    keys = _member_keys(module, function, level)
    response = get(http, permission_sim, path, keys)
    if level == "None":
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "Forbidden"
        assert body["errors"] is None
        assert path.split("/")[2] in body["message"]  # names the endpoint
    else:
        assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/system/info", "/system/mySecurity", "/system/mySecurity/customizeItems/"]
)
def test_own_security_and_info_need_no_permission(
    permission_sim: RunningSimulator, http: httpx.Client, path: str
) -> None:
    response = get(http, permission_sim, path, _member_keys("Sales", "Quota", "None"))
    assert response.status_code == 200


def test_role_settings_rows_carry_every_documented_field(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    rows = get(http, sim, "/system/securityRoles/27/settings", ACME_AUDITOR, pageSize=1000).json()
    invoicing = next(r for r in rows if r["moduleFunctionName"] == "Invoicing")

    assert len(rows) == len(MODULE_FUNCTIONS)
    assert {k: invoicing[k] for k in ("addLevel", "editLevel", "deleteLevel", "inquireLevel")} == {
        "addLevel": "None",
        "editLevel": "All",
        "deleteLevel": "All",
        "inquireLevel": "All",
    }
    assert invoicing["moduleIdentifier"] == "Finance"
    assert invoicing["moduleFunctionIdentifier"] == "Invoicing"
    assert set(invoicing) == {
        "id", "addLevel", "editLevel", "deleteLevel", "inquireLevel", "moduleFunctionName",
        "moduleFunctionDescription", "myAllFlag", "moduleFunctionIdentifier", "reportFlag",
        "restrictFlag", "customFlag", "moduleDescription", "moduleIdentifier", "moduleName",
        "sortOrder", "_info",
    }  # fmt: skip
    table_setup = next(r for r in rows if r["moduleFunctionName"] == "Table Setup")
    assert table_setup["customFlag"] is True


def test_my_security_rows_name_the_caller(sim: RunningSimulator, http: httpx.Client) -> None:
    rows = get(http, sim, "/system/mySecurity", pageSize=1000).json()
    assert len(rows) == len(MODULE_FUNCTIONS)
    assert rows[0]["member"]["identifier"] == "GozyntaAPI"
    assert rows[0]["member"]["_info"]["member_href"].startswith(sim.url)
    assert list(rows[0])[-2:] == ["member", "_info"]


def test_admin_role_reads_all_everywhere(http: httpx.Client) -> None:
    admin = scenario(
        {
            "company_id": "adm",
            "name": "Admin Co",
            "roles": [{"name": "Admin", "id": 1, "template": "admin"}],
            "members": [
                {
                    "identifier": "A",
                    "role": "Admin",
                    "keys": [{"public_key": "p", "private_key": "s"}],
                }
            ],
        }
    )
    with running_simulator(admin) as running:
        base, headers = running.api_url("adm"), Keys("adm", "p", "s").headers()
        role = http.get(f"{base}/system/securityroles/1", headers=headers).json()
        rows = http.get(f"{base}/system/mySecurity?pageSize=1000", headers=headers).json()
    assert role["adminFlag"] is True
    assert {r["inquireLevel"] for r in rows} == {"All"}


@pytest.mark.parametrize(
    ("company_id", "expected"),
    [
        ("idformat", {"16", "20"}),
        ("catformat", {"Invoicing / Billing Status", "Invoicing / Tax Code"}),
        ("classco", {"Billing Status", "Tax Code"}),
    ],
)
def test_customize_item_identifier_follows_the_tenant_format(
    http: httpx.Client, company_id: str, expected: set[str]
) -> None:
    from sim_support import SCENARIOS

    from monitor.simulator.scenario import load_scenario

    edge = load_scenario(SCENARIOS / "edge-cases.yaml")
    tenant = next(t for t in edge.tenants if t.company_id == company_id)
    key = tenant.members[0].keys[0]
    keys = Keys(company_id, key.public_key, key.private_key.get_secret_value())
    with running_simulator(edge) as running:
        items = get(http, running, "/system/mySecurity/customizeItems/", keys).json()
        screens = get(http, running, "/system/setupScreens", keys, pageSize=1000).json()
    assert {i["itemIdentifier"] for i in items} == expected
    assert {i["customizeIdentifier"] for i in items} == {"SystemTableSetup"}
    by_id = {str(s["id"]): f"{s['category']} / {s['name']}" for s in screens}
    if company_id == "idformat":
        assert {by_id[i] for i in expected} == {
            "Invoicing / Billing Status",
            "Invoicing / Tax Code",
        }


def test_customize_items_accept_the_path_without_trailing_slash(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    with_slash = get(http, sim, "/system/mySecurity/customizeItems/").json()
    without = get(http, sim, "/system/mySecurity/customizeItems").json()
    assert with_slash == without
    assert len(with_slash) == 2


def test_api_member_references_its_role(sim: RunningSimulator, http: httpx.Client) -> None:
    members = get(http, sim, "/system/apiMembers").json()
    gozynta = next(m for m in members if m["identifier"] == "GozyntaAPI")
    assert gozynta["securityRole"]["id"] == 27
    assert gozynta["securityRole"]["name"] == "Gozynta API"
    assert gozynta["securityRole"]["_info"]["securityRole_href"] == (
        f"{sim.api_url('acme')}/system/securityroles/27"
    )
    member = get(http, sim, f"/system/members/{gozynta['id']}").json()
    assert member["licenseClass"] == "A"


def test_accounting_setup_defaults_are_mobius_compliant(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    acme = get(http, sim, "/finance/accountingPackageSetup").json()
    globex = get(http, sim, "/finance/accountingPackageSetup/1", GLOBEX).json()
    assert acme[0]["accountingPackage"]["identifier"] == "Other"
    assert acme[0]["includeSalesTaxFlag"] is True
    assert acme[0]["transferExpensesAsBillFlag"] is False
    assert globex["transferExpensesAsBillFlag"] is True
    assert get(http, sim, "/finance/accountingPackageSetup/count").json() == {"count": 1}
    assert get(http, sim, "/finance/accountingPackageSetup/2").status_code == 404
    packages = get(http, sim, "/finance/accountingPackages").json()
    assert {p["identifier"] for p in packages} == {
        "QB99",
        "Mas200",
        "GPlains",
        "SBA",
        "Mas200v4",
        "Other",
    }


def test_settings_of_unknown_role_is_404(sim: RunningSimulator, http: httpx.Client) -> None:
    assert get(http, sim, "/system/securityRoles/999/settings", ACME_AUDITOR).status_code == 404


# -- paging ------------------------------------------------------------------------------


def test_paging_walks_every_row_by_link_next(sim: RunningSimulator, http: httpx.Client) -> None:
    path = "/system/securityRoles/27/settings"
    everything = get(http, sim, path, ACME_AUDITOR, pageSize=1000).json()
    first = get(http, sim, path, ACME_AUDITOR)
    pages, response = [first], first
    while "next" in links(response):
        response = http.get(links(response)["next"], headers=ACME_AUDITOR.headers())
        pages.append(response)

    assert len(first.json()) == 25  # the documented default page size
    assert len(pages) == 5  # 119 rows
    assert [row for page in pages for row in page.json()] == everything
    assert set(links(first)) == {"first", "next", "last"}
    assert set(links(pages[2])) == {"first", "prev", "next", "last"}
    assert set(links(pages[-1])) == {"first", "prev", "last"}
    assert links(first)["last"] == f"{sim.api_url('acme')}{path}?pageSize=25&page=5"
    assert links(first)["next"].startswith("http://127.0.0.1:")


def test_page_size_is_clamped_to_1000_and_other_params_are_kept(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    response = get(http, sim, "/system/mySecurity", pageSize=5000, conditions='moduleName="System"')
    assert len(response.json()) == 21
    assert set(links(response)) == {"first", "last"}
    assert "pageSize=1000" in links(response)["last"]
    assert "conditions=moduleName" in links(response)["last"]


def test_roles_beyond_one_page(http: httpx.Client) -> None:
    from sim_support import SCENARIOS

    from monitor.simulator.scenario import load_scenario

    keys = Keys("manyroles", "manyaudit000001", "fake-manyroles-audit-0001")
    with running_simulator(load_scenario(SCENARIOS / "edge-cases.yaml")) as running:
        page1 = get(http, running, "/system/securityroles", keys)
        page2 = http.get(links(page1)["next"], headers=keys.headers())
        count = get(http, running, "/system/securityroles/count", keys).json()
    assert (len(page1.json()), len(page2.json()), count) == (25, 5, {"count": 30})
    assert "/v4_6_release/apis/3.0/" in links(page1)["next"]


def test_a_page_beyond_the_last_is_empty(sim: RunningSimulator, http: httpx.Client) -> None:
    assert get(http, sim, "/system/mySecurity", page=99).json() == []


# -- conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "conditions", "count"),
    [
        ("/system/apiMembers", 'identifier="GozyntaAPI"', 1),
        ("/system/apiMembers", 'identifier="gozyntaapi"', 1),
        ("/system/apiMembers", 'identifier="Nobody"', 0),
        ("/system/apiMembers", 'identifier="Gozynta*"', 1),
        ("/system/apiMembers", "id=300", 1),
        ("/system/apiMembers", "inactiveFlag=False", 2),
        ("/system/apiMembers", "inactiveFlag=true", 0),
        ("/system/apiMembers", "securityRole/id=27", 1),
        ("/system/apiMembers", "securityRole/id!=27", 1),
        ("/system/apiMembers", 'securityRole/id=27 AND identifier="CwdriftAudit"', 0),
        ("/system/securityroles", 'name="Gozynta API"', 1),
        ("/system/securityroles", "id>27", 1),
        (
            "/system/securityRoles/27/settings",
            'moduleIdentifier="Finance" and inquireLevel="All"',
            2,
        ),
        ("/system/securityRoles/27/settings", 'moduleFunctionIdentifier="TableSetup"', 1),
        ("/system/setupScreens", 'category="Invoicing"', 6),
    ],
)
def test_conditions_filter_rows_and_counts(
    sim: RunningSimulator, http: httpx.Client, path: str, conditions: str, count: int
) -> None:
    rows = get(http, sim, path, ACME_AUDITOR, conditions=conditions, pageSize=1000).json()
    counted = get(http, sim, f"{path}/count", ACME_AUDITOR, conditions=conditions).json()
    assert (len(rows), counted) == (count, {"count": count})


def test_conditions_on_customize_items(sim: RunningSimulator, http: httpx.Client) -> None:
    rows = get(
        http,
        sim,
        "/system/mySecurity/customizeItems/",
        conditions='customizeIdentifier="SystemTableSetup"',
    ).json()
    assert len(rows) == 2


@pytest.mark.parametrize(
    "conditions",
    [
        'identifier="GozyntaAPI" OR id=1',
        "identifier=",
        "identifier GozyntaAPI",
        "(id=1)",
        'name like "x"',
    ],
)
def test_unparseable_conditions_are_400_invalid_object(
    sim: RunningSimulator, http: httpx.Client, conditions: str
) -> None:
    response = get(http, sim, "/system/apiMembers", conditions=conditions)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidObject"


def test_non_integer_paging_is_400(sim: RunningSimulator, http: httpx.Client) -> None:
    assert get(http, sim, "/system/apiMembers", page="two").status_code == 400
