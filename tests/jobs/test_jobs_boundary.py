"""Property: an unexpected ConnectWise answer is never drift, end to end.

Hypothesis mutates the simulator's valid answers (a field left out, sent as ``null`` or as
another JSON type such as ``"true"`` for ``true``; a list emptied, truncated or with its rows
twice; a field a newer ConnectWise might add) through its ``mangle`` fault, and each example
runs the real use case over HTTP: collect -> records -> normalize -> evaluate -> record (SQLite)
-> alert planning. Compared with the same tenant's unmutated check:

* nothing raises but our typed errors, and a tenant error is a MalformedResponse;
* a finding's status changes only to ``unknown``, and only for rules that read a section the
  mutated endpoint feeds: a ``fail`` is always a valid value that breaks the rule (it failed
  before the mutation too), and a drift elsewhere in the tenant still fails and alerts;
* the alerts left open are exactly the drift findings (none at all for a tenant error).

Three tenants cover both directions: one compliant (no mutation may make a rule fail), one
failing every rule it can (no mutation may make a rule pass; e.g. a missing
``transferExpensesAsBillFlag`` read as "off"), and one read with auditor keys.

Two answers are exempt from "only towards unknown", as documented in records.py: a list where
an empty or shorter answer is a fact (the API member filtered by identifier, the customize
items) is never emptied or truncated here, and a GL caption left out or ``null`` means "segment
not in use".
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from monitor.alerts.model import COLLECTION_KEY
from monitor.core.findings import Finding, Status
from monitor.core.snapshot import section_of
from monitor.jobs.check import TenantResult, check_tenant
from monitor.jobs.runtime import Runtime
from monitor.settings import Config, LoadedConfig, TenantConfig
from monitor.simulator.mangle import Mangle
from monitor.simulator.scenario import Fault, scenario_from_data
from monitor.simulator.server import RunningSimulator, running_simulator
from monitor.store.outbox import load_states

# The endpoints, written out (not imported from the code under test).
MY_SECURITY = "/system/mySecurity"
API_MEMBERS = "/system/apiMembers"
CUSTOMIZE_ITEMS = "/system/mySecurity/customizeItems/"
SETUP_SCREENS = "/system/setupScreens"
ACCOUNTING_SETUP = "/finance/accountingPackageSetup"
GL_CAPTIONS = "/finance/glCaptions"
# Where an empty or shorter list is a real answer: no member by that identifier, no item allowed.
EMPTY_IS_DATA = {API_MEMBERS, CUSTOMIZE_ITEMS}

CLIENT_ID = "00000000-0000-4000-8000-000000000001"
MOBIUS_KEYS = ("mobpub0000001", "fake-mobius-private-0001")
AUDIT_KEYS = ("audpub0000001", "fake-audit-private-0001")


def _tenant(company: str, *, role: dict[str, Any], inactive: bool = False, **extra: Any) -> dict:
    return {
        "company_id": company,
        "name": company.title(),
        "roles": [role, {"name": "Drift Auditor", "template": "auditor"}],
        "members": [
            {
                "identifier": "GozyntaAPI",
                "role": role["name"],
                "inactive": inactive,
                "keys": [{"public_key": MOBIUS_KEYS[0], "private_key": MOBIUS_KEYS[1]}],
            },
            {
                "identifier": "CwdriftAudit",
                "role": "Drift Auditor",
                "keys": [{"public_key": AUDIT_KEYS[0], "private_key": AUDIT_KEYS[1]}],
            },
        ],
        **extra,
    }


DRIFTING_ACCOUNTING = {
    "package": "QB99",
    "includeSalesTaxFlag": False,
    "transferExpensesAsBillFlag": True,
    "inventorySOHFlag": False,
    "includeCogsEntriesFlag": False,
}
SCENARIO = scenario_from_data(
    {
        "tenants": [
            _tenant("good", role={"name": "Gozynta API", "template": "mobius"}),
            _tenant(
                "bad",
                customize_item_format="id",
                role={
                    "name": "Gozynta API",
                    "template": "mobius",
                    "customize": ["Invoicing / Billing Status"],
                    "overrides": [
                        {"module": "Finance", "function": "Invoicing", "delete": "None"},
                        {"module": "Companies", "function": "Contacts", "inquire": "My"},
                    ],
                },
                accounting=DRIFTING_ACCOUNTING,
                gl_captions={
                    "segment1": "Account",
                    "segment1type": "Account",
                    "segment2": "Tracking 1",
                    "segment2type": "Class",
                },
            ),
            _tenant(
                "audited",
                inactive=True,
                role={
                    "name": "Gozynta API",
                    "template": "mobius",
                    "overrides": [{"module": "Finance", "function": "Invoicing", "edit": "My"}],
                },
                accounting={"transferExpensesAsBillFlag": True},
            ),
        ]
    },
    source="tests/jobs/test_jobs_boundary.py",
)
AUDITED = {"audited"}  # read with the auditor's keys


@dataclass
class World:
    sim: RunningSimulator
    rt: Runtime
    tenants: dict[str, TenantConfig]
    bodies: dict[str, dict[str, Any]]  # company -> endpoint -> the valid answer
    before: dict[str, dict[str, Finding]]  # company -> rule -> finding, unmutated

    def __repr__(self) -> str:  # Hypothesis prints the arguments of a failing example
        return f"World({', '.join(self.tenants)})"


def _config(site: str, database: str) -> LoadedConfig:
    tenants = []
    for company in ("good", "bad", "audited"):
        public, private = AUDIT_KEYS if company in AUDITED else MOBIUS_KEYS
        tenants.append(
            {
                "id": company,
                "name": company.title(),
                "site": site,
                "company_id": company,
                "public_key": public,
                "private_key": private,
                "client_id": CLIENT_ID,
                "integration_member": "GozyntaAPI",
                "options": {"least_privilege": company == "good"},
            }
        )
    data = {
        "database": database,
        "connectwise": {"requests_per_minute": 60000, "max_attempts": 1},
        "tenants": tenants,
        "notify": {"slack": [{"name": "ops", "webhook_url": "http://127.0.0.1:9/services/x"}]},
    }
    return LoadedConfig(config=Config.model_validate(data), path=Path("boundary.yaml"))


def _bodies(sim: RunningSimulator, company: str, keys: tuple[str, str]) -> dict[str, Any]:
    """Every answer the check reads for ``company``, as the simulator gives it unmutated."""
    auth = httpx.BasicAuth(f"{company}+{keys[0]}", keys[1])
    with httpx.Client(base_url=sim.api_url(company), auth=auth, timeout=10) as http:

        def get(path: str, **params: str) -> Any:
            response = http.get(path, params=params, headers={"clientId": CLIENT_ID})
            return response.json() if response.status_code == 200 else None

        members = get(API_MEMBERS, conditions='identifier="GozyntaAPI"')
        role_id = members[0]["securityRole"]["id"]
        paths = [MY_SECURITY, ACCOUNTING_SETUP, GL_CAPTIONS, f"/system/securityroles/{role_id}"]
        if company in AUDITED:
            paths.append(f"/system/securityRoles/{role_id}/settings")
        else:
            paths += [CUSTOMIZE_ITEMS, SETUP_SCREENS]
        found = {path: get(path) for path in paths}
    found[API_MEMBERS] = members
    return {path: body for path, body in found.items() if body is not None}  # 403: not read


_ids = itertools.count()


def _check(world: World, company: str) -> TenantResult:
    """One check of ``company`` as a tenant never seen before (no earlier state to compare)."""
    tenant = world.tenants[company].model_copy(update={"id": f"{company}-{next(_ids)}"})

    async def once() -> TenantResult:
        async with world.rt:
            return await check_tenant(world.rt, tenant)

    return asyncio.run(once())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database = f"sqlite:///{tmp_path_factory.mktemp('boundary')}/cwdrift.db"
    with running_simulator(SCENARIO) as sim:
        loaded = _config(sim.url, database)
        rt = Runtime.open(loaded)
        tenants = {t.id: t for t in loaded.config.tenants}
        world = World(sim, rt, tenants, {}, {})
        for company in tenants:
            keys = AUDIT_KEYS if company in AUDITED else MOBIUS_KEYS
            world.bodies[company] = _bodies(sim, company, keys)
            result = _check(world, company)
            assert result.error is None, result.error
            world.before[company] = {f.rule_id: f for f in result.findings}
        yield world
        rt.db.dispose()


def test_the_unmutated_tenants_are_what_the_property_needs(world: World) -> None:
    """One compliant tenant, and drifting ones where every kind of rule fails."""
    good = {rule: f.status for rule, f in world.before["good"].items()}
    assert set(good.values()) == {Status.PASS, Status.UNKNOWN}  # COGS types: never exposed
    bad = {rule for rule, f in world.before["bad"].items() if f.status is Status.FAIL}
    assert {
        "role-grants-invoicing-delete-all",
        "role-grants-contacts-inquire-all",
        "role-customizes-invoicing-tax-code",
        "accounting-package-is-other",
        "include-sales-tax-is-on",
        "transfer-expenses-as-bill-is-off",
        "inventory-soh-option-is-on",
        "include-cogs-entries-is-on",
        "account-segments-are-typed-account",
    } <= bad
    audited = world.before["audited"]
    assert audited["api-member-exists-and-is-active"].status is Status.FAIL
    assert audited["role-grants-invoicing-edit-all"].status is Status.FAIL


# -- the mutations ---------------------------------------------------------------------------

WRONG_TYPE: dict[type, list[Any]] = {
    bool: ["true", "false", "True", "False", 0, 1, "", [], {}],
    str: [0, 1, True, False, 2.5, [], {}],
    int: ["1", "27", True, False, 2.5, [], {}],
    dict: ["x", 1, True, []],
    list: [{}, "x", 1],
}
NEW_FIELDS = ["newShinyFlag", "cwNewSetting", "_links"]


def _fields(rows: list[dict[str, Any]]) -> list[str]:
    """Every field of the rows, and the fields inside their references ("securityRole.id")."""
    found: set[str] = set()
    for row in rows:
        for key, value in row.items():
            found.add(key)
            if isinstance(value, dict) and key != "_info":
                found.update(f"{key}.{inner}" for inner in value)
    return sorted(found)


def _value_at(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@st.composite
def mutations(draw: st.DrawFn, bodies: dict[str, Any]) -> tuple[str, Mangle]:
    endpoint = draw(st.sampled_from(sorted(bodies)))
    body = bodies[endpoint]
    rows: list[dict[str, Any]] = body if isinstance(body, list) else [body]
    shrinkable = isinstance(body, list) and endpoint not in EMPTY_IS_DATA and rows
    ops = ["drop", "null", "retype", "extra", "duplicate"]
    if shrinkable:
        ops += ["empty", "truncate"]
    op = draw(st.sampled_from(ops))
    where: dict[str, Any] = {}
    if isinstance(body, list) and rows and "id" in rows[0] and draw(st.booleans()):
        where = {"id": draw(st.sampled_from([row["id"] for row in rows]))}
    if op in ("empty", "duplicate"):
        return endpoint, Mangle(op=op, where=where)
    if op == "truncate":
        return endpoint, Mangle(op="truncate", keep=draw(st.integers(0, len(rows) - 1)))
    if op == "extra":
        value = draw(st.sampled_from([True, "x", 1, None, {"a": 1}]))
        return endpoint, Mangle(op="extra", field=draw(st.sampled_from(NEW_FIELDS)), value=value)
    field = draw(st.sampled_from(_fields(rows)))
    if op != "retype":
        return endpoint, Mangle(op=op, field=field, where=where)
    original = next((v for row in rows if (v := _value_at(row, field)) is not None), None)
    choices = WRONG_TYPE.get(type(original), ["x", 1, True])
    return endpoint, Mangle(
        op="set", field=field, value=draw(st.sampled_from(choices)), where=where
    )


def _sections_fed_by(endpoint: str, company: str) -> set[str]:
    auditor = company in AUDITED
    if endpoint == MY_SECURITY:
        return set() if auditor else {"permission"}  # the auditor's own rows name the caller only
    if endpoint == API_MEMBERS:
        return {"member", "role", "permission"} if auditor else {"member", "role"}
    if endpoint.endswith("/settings"):
        return {"permission"}
    if endpoint.startswith("/system/securityroles/"):
        return {"role"}
    if endpoint in (CUSTOMIZE_ITEMS, SETUP_SCREENS):
        return {"customize"}
    return {"accounting"} if endpoint == ACCOUNTING_SETUP else {"gl"}


def _means_not_set(endpoint: str, mangle: Mangle) -> bool:
    """A GL caption left out or null: "segment not in use", a real answer (records.GLCaption)."""
    field = mangle.field or ""
    is_caption = field.startswith(("segment", "cogs")) and not field.endswith("type")
    return endpoint == GL_CAPTIONS and mangle.op in ("drop", "null") and is_caption


# The end-to-end property gets three times the profile's budget: it is the one that matters.
@settings(max_examples=3 * settings().max_examples)
@given(data=st.data())
def test_an_unexpected_answer_is_never_drift(world: World, data: st.DataObject) -> None:
    company = data.draw(st.sampled_from(sorted(world.tenants)), label="tenant")
    changes = data.draw(
        st.lists(mutations(world.bodies[company]), min_size=1, max_size=2), label="mangles"
    )
    world.sim.state.clear_faults(company)
    for endpoint, mangle in changes:
        world.sim.state.add_fault(company, Fault(kind="mangle", endpoint=endpoint, mangle=mangle))
    try:
        result = _check(world, company)
    finally:
        world.sim.state.clear_faults(company)

    before = world.before[company]
    with world.rt.db.session() as session:
        states = {s.alert_key: s for s in load_states(session, result.tenant_id)}
    open_alerts = {key for key, s in states.items() if s.is_open and key != COLLECTION_KEY}
    event(f"outcome: {result.status}")
    if result.status == "error":
        assert result.error is not None and result.error.kind == "malformed", result.error
        assert (result.findings, open_alerts) == ([], set())
        return
    affected = set().union(*(_sections_fed_by(e, company) for e, _ in changes))
    exempt = set().union(*({"gl"} for e, m in changes if _means_not_set(e, m)))
    after = {f.rule_id: f for f in result.findings}
    assert set(after) == set(before)
    for rule, old in before.items():
        new = after[rule]
        read = {section_of(k) for k in (*old.keys, *new.keys)}
        if read & exempt or new.status is old.status:
            if new.status is Status.FAIL and old.status is Status.FAIL and not read & exempt:
                assert new.actual == old.actual or rule == "account-segments-are-typed-account"
            continue
        assert new.status is Status.UNKNOWN, (rule, old, new)
        event("a rule went unknown")
        assert read & affected, (rule, "went unknown though it reads nothing mangled", new)
        assert new.note.startswith("not readable: ") and len(new.note) > 14
    # Record and alert planning: exactly the drift read is open, and it was drift before.
    assert open_alerts == {f.rule_id for f in result.findings if f.is_drift}
    assert open_alerts <= {rule for rule, f in before.items() if f.is_drift} | {
        rule for rule in after if read_exempt(after[rule], exempt)
    }


def read_exempt(finding: Finding, exempt: set[str]) -> bool:
    return bool({section_of(k) for k in finding.keys} & exempt)
