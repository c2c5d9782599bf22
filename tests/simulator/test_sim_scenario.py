"""Scenario files: every bundled one loads; mistakes name the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_support import SCENARIOS

from monitor.errors import ConfigError
from monitor.simulator.catalog import MODULE_FUNCTIONS, SETUP_SCREENS, find_function, find_screen
from monitor.simulator.scenario import fleet_company_id, generate_fleet, load_scenario
from monitor.simulator.state import SimulatorState


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_scenario_loads(path: Path) -> None:
    loaded = load_scenario(path)
    state = SimulatorState(loaded)
    assert loaded.tenants
    assert state.company_ids() == [t.company_id for t in loaded.tenants]


def test_demo_has_the_promised_tenants() -> None:
    demo = load_scenario(SCENARIOS / "demo.yaml")
    state = SimulatorState(demo)
    acme, globex, initech, msp = (
        state.tenant(c) for c in ("acme", "globex", "initech", "northwind")
    )
    invoicing = initech.role_named("Gozynta API").setting("Finance", "Invoicing")
    assert [t.company_id for t in demo.tenants] == [
        "acme",
        "globex",
        "initech",
        "umbrella",
        "northwind",
    ]
    assert {m.identifier for m in acme.members.values()} == {"GozyntaAPI", "CwdriftAudit"}
    assert globex.accounting["transferExpensesAsBillFlag"] is True
    assert invoicing.levels == {"add": "None", "edit": "All", "delete": "None", "inquire": "All"}
    # remediation: globex's fix member may edit, initech's may not
    fixers = [t.roles[t.member("CwdriftFix").role_id] for t in (globex, initech)]
    assert [r.level("Finance", "Accounting Interface", "edit") for r in fixers] == ["All", "None"]
    assert [r.level("System", "Member Maintenance", "edit") for r in fixers] == ["All", "None"]
    # tickets: the MSP's board, its statuses, a company per customer tenant
    alerts = next(b for b in msp.desk.boards if b.name == "Alerts")
    assert [(s.name, s.default, s.closed) for s in alerts.statuses if not s.inactive] == [
        ("New", True, False),
        ("In Progress", False, False),
        (">Closed", False, True),
    ]
    assert {c.identifier for c in msp.desk.companies} >= {"Acme", "Globex", "Initech", "Umbrella"}
    ticket_role = msp.roles[msp.member("CwdriftTickets").role_id]
    assert {
        op: ticket_role.level("Service Desk", "Service Tickets", op)
        for op in ("add", "edit", "inquire")
    } == dict.fromkeys(("add", "edit", "inquire"), "All")


def test_catalog_has_the_required_rows_and_screens() -> None:
    required = [
        ("Companies", "Company Maintenance"), ("Companies", "Contacts"),
        ("Finance", "Accounting Interface"), ("Finance", "Invoicing"),
        ("Procurement", "Product Catalog"), ("Procurement", "Products"),
        ("Procurement", "Purchase Orders"), ("System", "API Reports"),
        ("System", "Member Maintenance"), ("System", "Table Setup"), ("System", "Security Roles"),
        ("Time & Expense", "Expense Report Entry"), ("Time & Expense", "Time Entry"),
    ]  # fmt: skip
    assert all(find_function(m, f) is not None for m, f in required)
    assert 110 <= len(MODULE_FUNCTIONS) <= 130
    assert len({(m.module_identifier, m.function_identifier) for m in MODULE_FUNCTIONS}) == len(
        MODULE_FUNCTIONS
    )
    assert find_screen("Invoicing / Billing Status") is not None
    assert find_screen("Invoicing / Tax Code") is not None
    assert len(SETUP_SCREENS) >= 40


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


TENANT = """tenants:
  - company_id: t1
    name: T1
    roles: [{name: R, template: mobius}]
    members: [{identifier: M, role: R, keys: [{public_key: p, private_key: s}]}]
"""


@pytest.mark.parametrize(
    ("yaml_text", "field", "words"),
    [
        ("tenants:\n  - name: No Id\n", "tenants[0].company_id", "Field required"),
        (TENANT + "    cloud: maybe\n", "tenants[0].cloud", "boolean"),
        (
            TENANT.replace("template: mobius", "template: superuser"),
            "tenants[0].roles[0].template",
            "mobius",
        ),
        (
            TENANT + "    customize_item_format: guid\n",
            "tenants[0].customize_item_format",
            "category_name",
        ),
        (TENANT + "    codebase: v2025_1\n", "tenants[0].codebase", "trailing slash"),
        (
            TENANT + "    accounting: {transferExpensesAsBill: false}\n",
            "tenants[0].accounting",
            "unknown AccountingPackageSetup",
        ),
        (TENANT + "    accounting: {package: Xero}\n", "tenants[0].accounting", "Other"),
        (
            TENANT + "    accounting: {includeSalesTaxFlag: sometimes}\n",
            "tenants[0].accounting",
            "true or false",
        ),
        (
            TENANT + "    gl_captions: {segment1type: Department}\n",
            "tenants[0].gl_captions",
            "Account or Class",
        ),
        (TENANT + "    gl_captions: {segment11: X}\n", "tenants[0].gl_captions", "segment1..10"),
        (TENANT + "    faults: [{kind: explode}]\n", "tenants[0].faults[0].kind", "rate_limit"),
        (
            TENANT + "    faults: [{kind: status, times: 0}]\n",
            "tenants[0].faults[0].times",
            "greater than",
        ),
        (TENANT + "    latency: -1\n", "tenants[0].latency", "greater than"),
        (TENANT + "    colour: blue\n", "tenants[0].colour", "Extra inputs"),
        (TENANT.replace("role: R", "role: Missing"), "tenants[0]", "not in this tenant's roles"),
        (
            TENANT.replace(
                "template: mobius}",
                "template: mobius, overrides: [{module: Finance, function: Invoices, add: All}]}",
            ),
            "tenants[0].roles[0].overrides[0]",
            "Finance > Invoices",
        ),
        (
            TENANT.replace(
                "template: mobius}",
                "template: mobius, overrides: [{module: Finance, function: Invoicing, add: Mine}]}",
            ),
            "tenants[0].roles[0].overrides[0].add",
            "'None', 'My' or 'All'",
        ),
        (
            TENANT.replace("template: mobius}", "customize: [Billing Status]}"),
            "tenants[0].roles[0].customize",
            "Category / Name",
        ),
        (
            TENANT + "    faults: [{kind: not_persisted, methods: [GET]}]\n",
            "tenants[0].faults[0]",
            "writes only",
        ),
        (
            TENANT + "    faults: [{kind: status, methods: [FETCH]}]\n",
            "tenants[0].faults[0].methods[0]",
            "PATCH",
        ),
        (
            TENANT + "    service_desk: {boards: [{name: B, statuses: []}]}\n",
            "tenants[0].service_desk.boards[0].statuses",
            "at least 1",
        ),
        (
            TENANT
            + "    service_desk:\n      boards: [{name: B, statuses: [{name: X, closed: true}]}]\n",
            "tenants[0].service_desk.boards[0]",
            "must be open and active",
        ),
        (
            TENANT + "    service_desk: {boards: [{name: B, statuses: [{name: N}, {name: n}]}]}\n",
            "tenants[0].service_desk.boards[0]",
            "unique within a board",
        ),
        (
            TENANT + "    service_desk:\n      companies: [{identifier: A, name: A}, "
            "{identifier: a, name: A}]\n",
            "tenants[0].service_desk",
            "company identifiers must be unique",
        ),
        (
            TENANT + "    service_desk: {companies: [{identifier: A}]}\n",
            "tenants[0].service_desk.companies[0].name",
            "Field required",
        ),
        (TENANT + TENANT.removeprefix("tenants:\n"), "(top level)", "unique"),
        ("- just\n- a list\n", "(top level)", "mapping"),
    ],
)
def test_invalid_scenarios_name_the_file_and_field(
    tmp_path: Path, yaml_text: str, field: str, words: str
) -> None:
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert caught.value.location == f"{path}: {field}"
    assert words in caught.value.message
    assert caught.value.fix


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n  - company_id: a\n    name: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert caught.value.location.startswith(f"{path}:")
    assert caught.value.location.removeprefix(f"{path}:").isdigit()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_private_keys_never_appear_in_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path, TENANT.replace("private_key: s}", "private_key: hunter2-secret, extra: 1}")
    )
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert "hunter2" not in str(caught.value)


def test_generate_fleet_is_deterministic_and_mostly_compliant() -> None:
    fleet = generate_fleet(40, seed=3, latency=0.1)
    again = generate_fleet(40, seed=3, latency=0.1)
    other = generate_fleet(40, seed=4)
    drifting = [
        t.company_id
        for t in fleet.tenants
        if t.accounting or t.gl_captions or t.roles[0].overrides or t.roles[0].customize is not None
    ]
    assert fleet.model_dump(mode="json") == again.model_dump(mode="json")
    assert fleet.model_dump(mode="json") != other.model_dump(mode="json")
    assert len(fleet.tenants) == 40
    assert len(drifting) == 4
    assert fleet.tenants[0].company_id == fleet_company_id(0)
    assert {t.latency for t in fleet.tenants} == {0.1}
