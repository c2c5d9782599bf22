"""Many tenants checked concurrently through the real use case, on each database engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.jobs.check import TenantResult, check_many
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config
from monitor.simulator.scenario import fleet_company_id, fleet_keys, generate_fleet
from monitor.simulator.server import running_simulator

TENANTS = 12


def fleet_config(path: Path, database_url: str, site: str) -> Path:
    # A loopback simulator needs no politeness: lift the per-host caps so checks really overlap.
    lines = [
        f"database: {database_url}",
        "connectwise: {requests_per_minute: 60000, concurrency_per_host: 32}",
        "tenants:",
    ]
    for index in range(TENANTS):
        public, private = fleet_keys(index)
        lines += [
            f"  - id: t{index}",
            f"    name: Tenant {index}",
            f"    site: {site}",
            f"    company_id: {fleet_company_id(index)}",
            f"    public_key: {public}",
            f"    private_key: ${{FLEET_KEY_{index}:-{private}}}",
            "    client_id: 00000000-0000-4000-8000-000000000001",
            "    integration_member: GozyntaAPI",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_concurrent_checks_all_record_and_drift_matches_the_fleet(
    tmp_path: Path, database_url: str
) -> None:
    """SQLite once failed here with 'database is locked' when two checks wrote at once."""
    scenario = generate_fleet(TENANTS, seed=3)
    with running_simulator(scenario) as sim:
        loaded = load_config(fleet_config(tmp_path / "c.yaml", database_url, sim.url))
        runtime = Runtime.open(loaded)

        async def twice() -> tuple[list[TenantResult], list[TenantResult]]:
            async with runtime:
                first = await check_many(runtime, loaded.config.tenants, in_flight=6)
                second = await check_many(runtime, loaded.config.tenants, in_flight=6)
            assert runtime.http.closed  # the pooled connections went with the block
            return first, second

        results, again = asyncio.run(twice())
        runtime.db.dispose()
    assert [r.error for r in results] == [None] * TENANTS
    drifting = {r.tenant_id for r in results if r.status == "drift"}
    assert len(drifting) == max(1, TENANTS // 10)  # generate_fleet drifts one in ten
    assert {r.tenant_id for r in again if r.status == "drift"} == drifting
    assert all(not r.changes for r in again)  # an unchanged fleet records no changes
