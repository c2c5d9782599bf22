"""What a check asks of the store: an unchanged check reads little and writes its run row only.

The fast paths skip work whose answer is already known (the tenant upsert, the waiver read,
the silence read, unchanged state rows); these tests pin down that they skip only that.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from monitor.clock import utcnow
from monitor.core.findings import Status
from monitor.jobs.check import TenantResult, check_many
from monitor.jobs.runtime import Runtime
from monitor.settings import TenantConfig
from monitor.simulator.fleet_config import fleet_config
from monitor.simulator.scenario import generate_fleet
from monitor.simulator.server import running_simulator
from monitor.store.waivers import add_waiver

TENANTS = 2  # generate_fleet drifts one tenant in ten, and at least one
_TABLE = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


@pytest.fixture
def fleet(database_url: str) -> Iterator[Runtime]:
    with running_simulator(generate_fleet(TENANTS, seed=3)) as sim:
        runtime = Runtime.open(fleet_config(TENANTS, sim.url, database_url))
        yield runtime
        runtime.db.dispose()


def check(rt: Runtime, tenants: list[TenantConfig] | None = None) -> list[TenantResult]:
    async def cycle() -> list[TenantResult]:
        async with rt:  # this event loop ends here: close its pooled connections
            return await check_many(rt, tenants or rt.config.tenants, in_flight=1)

    return asyncio.run(cycle())


def statements_of(rt: Runtime, tenants: list[TenantConfig]) -> list[tuple[str, set[str]]]:
    """(verb, tables named) of every statement the checks of ``tenants`` sent to the database."""
    sent: list[tuple[str, set[str]]] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        tables = set(_TABLE.findall(statement))
        if tables:  # not BEGIN, COMMIT or a pool ping
            sent.append((statement.split(None, 1)[0].upper(), tables))

    event.listen(rt.db.engine, "before_cursor_execute", record)
    try:
        check(rt, tenants)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", record)
    return sent


def test_an_unchanged_check_reads_three_times_and_writes_its_run_row_only(
    fleet: Runtime,
) -> None:
    first = check(fleet)
    assert sorted(r.status for r in first) == ["compliant", "drift"]
    for tenant in fleet.config.tenants:  # the drifting one has open alerts: still nothing to say
        assert statements_of(fleet, [tenant]) == [
            ("SELECT", {"tenant", "snapshot", "waiver"}),  # name, latest hash, any waiver
            ("INSERT", {"check_run"}),
            ("SELECT", {"finding_state"}),
            ("SELECT", {"alert_state"}),
        ]
    again = check(fleet)
    assert [(r.status, r.findings, r.changes) for r in again] == [
        (r.status, r.findings, []) for r in first
    ]


def test_a_waiver_accepted_after_the_first_check_covers_the_next(fleet: Runtime) -> None:
    (drifting,) = [r for r in check(fleet) if r.status == "drift"]
    failing = next(f for f in drifting.findings if f.is_drift)
    now = utcnow()
    with fleet.db.session() as session:
        add_waiver(
            session, tenant_id=drifting.tenant_id, rule=failing.rule_id, value=failing.actual,
            reason="accepted", accepted_by="ana", expires=now + timedelta(days=7), now=now,
        )  # fmt: skip
    tenant = fleet.config.tenant(drifting.tenant_id)
    sent = statements_of(fleet, [tenant])
    assert ("SELECT", {"waiver"}) in sent
    (again,) = check(fleet, [tenant])
    assert {f.rule_id: f.status for f in again.findings}[failing.rule_id] is Status.WAIVED
