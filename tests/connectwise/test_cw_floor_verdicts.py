"""Verdicts at the request floor equal verdicts from a full read, for every simulator scenario
and every key pair in it (integration and auditor credentials alike).

For each tenant and key pair: a full read with nothing remembered, and a read at the floor (the
same cache warmed by one check first). The simulator is reset before each read, so faults with
a count apply alike to both. Every setting (value and who changed it), every unknown with its
reason, every finding of the bundled baseline and any error must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.connectwise.client import ConnectWiseClient, RetryPolicy
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.normalize import normalize
from monitor.connectwise.read_cache import ReadCache
from monitor.core.baseline import load_baseline
from monitor.core.evaluate import evaluate
from monitor.core.options import TenantOptions
from monitor.core.snapshot import CredentialMode
from monitor.data import bundled_file
from monitor.errors import CwdriftError
from monitor.simulator.scenario import Scenario, generate_fleet, load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator

from .conftest import CLIENT_ID

AT = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
BASELINE = load_baseline()
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "demo": lambda: load_scenario(bundled_file("scenarios/demo.yaml")),
    "edge-cases": lambda: load_scenario(bundled_file("scenarios/edge-cases.yaml")),
    "fleet": lambda: generate_fleet(30, seed=11),
}


async def _sleep(_: float) -> None:
    """Retries are immediate: the verdicts are compared, not the waiting."""


async def judge(
    sim: RunningSimulator, cache: ReadCache, company: str, keys: tuple[str, str], member: str
) -> tuple[Any, int]:
    """What one check concludes (or its error), and how many requests it made."""
    sim.state.reset()
    client = ConnectWiseClient(
        sim.url,
        company,
        *keys,
        CLIENT_ID,
        read_cache=cache,
        limits=HostLimits(per_minute=100_000),
        retry=RetryPolicy(attempts=2),
        sleep=_sleep,
        timeout=10.0,
    )
    try:
        async with client as cw:
            raw = await collect_tenant(cw, tenant_id=company, integration_member=member)
        snapshot = normalize(raw, AT)
    except CwdriftError as exc:
        return ("error", type(exc).__name__, exc.message), len(sim.state.requests)
    findings = evaluate(BASELINE, snapshot, TenantOptions(), [], AT)
    verdict = (
        snapshot.credential_mode,
        snapshot.settings,
        snapshot.unknown,
        [f.to_dict() for f in findings],
    )
    return verdict, len(sim.state.requests)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_verdicts_at_the_floor_equal_a_full_read(name: str) -> None:
    scenario = SCENARIOS[name]()
    compared = at_floor = fewer = 0
    with running_simulator(scenario) as sim:
        for tenant in scenario.tenants:
            identifiers = [m.identifier for m in tenant.members]
            member = "GozyntaAPI" if "GozyntaAPI" in identifiers else identifiers[0]
            for spec in tenant.members:
                for key in spec.keys[:1]:
                    keys = (key.public_key, key.private_key.get_secret_value())
                    full, full_requests = await judge(
                        sim, ReadCache(), tenant.company_id, keys, member
                    )
                    cache = ReadCache()
                    await judge(sim, cache, tenant.company_id, keys, member)
                    floor, floor_requests = await judge(sim, cache, tenant.company_id, keys, member)
                    where = f"{name}: {tenant.company_id} with {spec.identifier}'s keys"
                    assert floor == full, where
                    if full[0] != "error":
                        # A failed read cancels the reads beside it: how many reached the
                        # simulator first is a race, so only complete reads are counted.
                        assert floor_requests <= full_requests, where
                    compared += 1
                    fewer += floor_requests < full_requests
                    if full[0] is CredentialMode.INTEGRATION and "role" in full[2]:
                        # The role record refused (or unreadable): the floor is 5 or fewer.
                        assert floor_requests <= 5, where
                        at_floor += 1
    assert compared >= len(scenario.tenants)
    assert at_floor > 0
    assert fewer >= len(scenario.tenants)  # the floor really was read from the cache
