"""The request floor: a steady check makes only the reads that can change a verdict, and every
remembered answer is read again when in doubt (a new version, a 404, an unknown item, a changed
role, an expired entry). Real simulator over HTTP; the cache in memory (the store's is
tests/store/test_store_read_cache.py, the CLI's and daemon's tests/jobs/test_jobs_request_floor.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from request_floor import FLOOR

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.normalize import normalize
from monitor.connectwise.read_cache import ROLE_REFUSED_TTL, ReadCache, TenantMemory, tenant_key
from monitor.connectwise.read_cache import SCREENS as SCREENS_KIND
from monitor.connectwise.records import SETUP_SCREENS as SETUP_SCREENS_PATH
from monitor.connectwise.records import SetupScreen, parse_rows
from monitor.connectwise.site import CompanyInfo
from monitor.core.snapshot import CredentialMode, Snapshot
from monitor.simulator.mangle import Mangle
from monitor.simulator.scenario import Fault, scenario_from_data
from monitor.simulator.server import RunningSimulator, running_simulator

from .conftest import (
    AUDIT_PRIVATE,
    AUDIT_PUBLIC,
    CLIENT_ID,
    GOZYNTA_PRIVATE,
    GOZYNTA_PUBLIC,
    ClientFactory,
)

AT = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
SCREENS = "/system/setupScreens"


def role_record(sim: RunningSimulator, company: str = "acme") -> str:
    tenant = sim.state.tenant(company)
    return f"/system/securityroles/{tenant.member('GozyntaAPI').role_id}"


async def check(
    sim: RunningSimulator, make_client: ClientFactory, cache: ReadCache, **kw: Any
) -> tuple[Snapshot, Counter[str]]:
    """One collect + normalize through ``cache``; the snapshot and the requests it made."""
    if kw.pop("auditor", False):
        kw = {"public_key": AUDIT_PUBLIC, "private_key": AUDIT_PRIVATE, **kw}
    sim.state.clear_requests()
    async with make_client(read_cache=cache, **kw) as cw:
        raw = await collect_tenant(cw, tenant_id="t1", integration_member="GozyntaAPI")
    return normalize(raw, AT), Counter(r.path for r in sim.state.requests)


def same_verdicts(one: Snapshot, other: Snapshot) -> bool:
    """Every setting (value and who changed it) and every unknown with its reason."""
    return one.settings == other.settings and one.unknown == other.unknown


async def test_a_steady_integration_check_makes_the_five_reads_that_can_change_a_verdict(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    cold, first = await check(sim, make_client, cache)
    assert first == Counter(
        [*FLOOR, "/login/companyinfo/acme", SCREENS, role_record(sim)]
    )  # 8: the codebase, the catalogue and the refused role record too
    warm, steady = await check(sim, make_client, cache)
    assert steady == Counter(FLOOR)  # 5, each once
    assert same_verdicts(warm, cold)
    # While remembered, the refusal is recorded exactly as when ConnectWise said it.
    assert warm.unknown["role"] == cold.unknown["role"]
    assert "System > Security Roles: Inquire" in warm.unknown["role"]


async def test_auditor_credentials_make_six_reads_at_the_floor(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    cold, first = await check(sim, make_client, cache, auditor=True)
    role_id = sim.state.tenant("acme").member("GozyntaAPI").role_id
    auditor_reads = {
        "/system/mySecurity",
        "/system/apiMembers",
        "/finance/accountingPackageSetup",
        "/finance/glCaptions",
        f"/system/securityroles/{role_id}",
        f"/system/securityRoles/{role_id}/settings",
    }
    assert first == Counter([*auditor_reads, "/login/companyinfo/acme"])
    warm, steady = await check(sim, make_client, cache, auditor=True)
    assert warm.credential_mode is CredentialMode.AUDITOR
    assert steady == Counter(auditor_reads)  # 6: the role is read by id, never remembered
    assert same_verdicts(warm, cold)


async def test_a_role_that_may_read_its_own_record_makes_six_reads(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    sim.state.set_permission("acme", "Gozynta API", "System", "Security Roles", inquire="All")
    cache = ReadCache()
    cold, _ = await check(sim, make_client, cache)
    warm, steady = await check(sim, make_client, cache)
    assert steady == Counter([*FLOOR, role_record(sim)])
    assert warm.value("role.admin") is False
    assert same_verdicts(warm, cold)


async def test_a_remembered_refusal_is_not_trusted_once_the_role_may_read_itself(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    await check(sim, make_client, cache)
    await check(sim, make_client, cache)
    sim.state.set_permission("acme", "Gozynta API", "System", "Security Roles", inquire="All")
    granted, requests = await check(sim, make_client, cache)
    assert requests[role_record(sim)] == 1  # the caller's own rows say it may: read
    assert "role" not in granted.unknown
    assert granted.value("role.name") == "Gozynta API"
    cold, _ = await check(sim, make_client, ReadCache())
    assert same_verdicts(granted, cold)


async def test_a_refusal_is_remembered_per_role_id() -> None:
    role = {"template": "mobius"}
    data = {
        "tenants": [
            {
                "company_id": "acme",
                "name": "Acme Inc",
                "roles": [{"name": "Gozynta API", **role}, {"name": "Gozynta API 2", **role}],
                "members": [
                    {
                        "identifier": "GozyntaAPI",
                        "role": "Gozynta API",
                        "keys": [{"public_key": GOZYNTA_PUBLIC, "private_key": GOZYNTA_PRIVATE}],
                    }
                ],
            }
        ]
    }
    with running_simulator(scenario_from_data(data, source="test")) as sim:

        def make(**kw: Any) -> ConnectWiseClient:
            return ConnectWiseClient(
                sim.url, "acme", GOZYNTA_PUBLIC, GOZYNTA_PRIVATE, CLIENT_ID, **kw
            )

        cache = ReadCache()
        await check(sim, make, cache)
        _, steady = await check(sim, make, cache)
        assert steady == Counter(FLOOR)
        sim.state.set_member_role("acme", "GozyntaAPI", "Gozynta API 2")
        moved, requests = await check(sim, make, cache)
        assert requests == Counter([*FLOOR, role_record(sim)])  # another role: ask it
        assert "System > Security Roles: Inquire" in moved.unknown["role"]
        _, again = await check(sim, make, cache)
        assert again == Counter(FLOOR)


async def test_a_remembered_refusal_expires(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    cache = ReadCache(clock=lambda: now[0])
    await check(sim, make_client, cache)
    now[0] += ROLE_REFUSED_TTL - timedelta(seconds=1)
    _, before = await check(sim, make_client, cache)
    assert role_record(sim) not in before
    now[0] += timedelta(seconds=1)
    _, after = await check(sim, make_client, cache)
    assert after == Counter([*FLOOR, role_record(sim)])  # the catalogue's TTL is longer
    _, steady = await check(sim, make_client, cache)
    assert steady == Counter(FLOOR)  # refused again, and remembered anew


async def test_a_new_api_version_forgets_what_was_remembered(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    cold, _ = await check(sim, make_client, cache)
    await check(sim, make_client, cache)
    sim.state.set_api_version("acme", "2026.1")
    changed, requests = await check(sim, make_client, cache)
    # The codebase still worked; the catalogue and the role record are read again at once.
    assert requests == Counter([*FLOOR, SCREENS, role_record(sim)])
    assert same_verdicts(changed, cold)
    _, next_check = await check(sim, make_client, cache)
    assert next_check == Counter([*FLOOR, "/login/companyinfo/acme"])  # forgotten too
    _, steady = await check(sim, make_client, cache)
    assert steady == Counter(FLOOR)


async def test_a_version_header_that_disappears_is_a_change_too(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    await check(sim, make_client, cache)
    sim.state.set_api_version("acme", None)
    _, requests = await check(sim, make_client, cache)
    assert requests[SCREENS] == 1
    _, steady = await check(sim, make_client, cache)
    assert steady == Counter([*FLOOR, "/login/companyinfo/acme"])


async def test_an_upgraded_tenant_is_found_again_and_judged_the_same(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    await check(sim, make_client, cache)
    await check(sim, make_client, cache)
    sim.state.upgrade("acme", "v2026_1/")
    upgraded, requests = await check(sim, make_client, cache)
    statuses = Counter(r.status for r in sim.state.requests)
    assert statuses[404] >= 1  # the remembered codebase is gone ...
    assert requests["/login/companyinfo/acme"] >= 1  # ... so it was looked up again
    assert requests[SCREENS] == 1  # and the new version made the catalogue be read again
    cold, _ = await check(sim, make_client, ReadCache())
    assert same_verdicts(upgraded, cold)
    _, steady = await check(sim, make_client, cache)
    assert steady == Counter(FLOOR)  # the new codebase was remembered


async def test_a_customize_item_not_in_the_remembered_catalogue_reads_it_again(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    # onprem names its customize items by setup screen id (the case where only the catalogue
    # can say which table an item allows).
    cache = ReadCache()
    await check(sim, make_client, cache, company_id="onprem")
    sim.state.add_setup_screen("onprem", "Invoicing", "Payment Terms")  # a new release's table
    sim.state.set_customize("onprem", "Gozynta API", "Invoicing / Payment Terms", True)
    judged, requests = await check(sim, make_client, cache, company_id="onprem")
    assert requests == Counter([*FLOOR, SCREENS])  # read once more, in the same check
    assert judged.value("customize.invoicing/payment_terms") is True
    assert not [k for k in judged.unknown if k.startswith("customize")]
    cold, _ = await check(sim, make_client, ReadCache(), company_id="onprem")
    assert same_verdicts(judged, cold)
    _, steady = await check(sim, make_client, cache, company_id="onprem")
    assert steady == Counter(FLOOR)


async def test_an_item_no_catalogue_knows_stays_unknown(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    await check(sim, make_client, cache, company_id="onprem")
    unknown_item = Mangle(op="set", field="itemIdentifier", value="99999")
    sim.state.add_fault(
        "onprem",
        Fault(kind="mangle", endpoint="/system/mySecurity/customizeItems*", mangle=unknown_item),
    )
    judged, requests = await check(sim, make_client, cache, company_id="onprem")
    assert requests[SCREENS] == 1  # read again once, not in a loop
    assert "customize.99999" in judged.unknown
    cold, _ = await check(sim, make_client, ReadCache(), company_id="onprem")
    assert same_verdicts(judged, cold)


async def test_identical_catalogues_are_one_object(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    cache = ReadCache()
    for company in ("acme", "onprem", "labelled"):
        await check(sim, make_client, cache, company_id=company)
    catalogues = [
        cache.get(tenant_key(sim.url, company), SCREENS_KIND)
        for company in ("acme", "onprem", "labelled")
    ]
    assert catalogues[0]
    assert all(catalogue is catalogues[0] for catalogue in catalogues)


def test_an_entry_is_used_only_under_the_version_the_checks_answers_carry() -> None:
    cache = ReadCache()
    catalogue = parse_rows(
        [{"id": 1, "category": "Invoicing", "name": "Billing Status"}],
        SetupScreen,
        endpoint=SETUP_SCREENS_PATH,
    )
    seen: list[str | None] = ["2025.1"]
    memory = TenantMemory(cache, "https://a acme", lambda: seen[0])
    memory.remember_codebase(CompanyInfo("v2025_1/", True), "2025.1")
    assert memory.remember_screens(catalogue) == catalogue
    assert memory.screens() == catalogue
    seen[0] = None  # this check's answers named no release: the entry may be another's
    assert memory.screens() is None
    assert memory.codebase() is None  # the tenant's other entries went with it
