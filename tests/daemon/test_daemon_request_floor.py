"""The daemon's steady check is at the request floor: a real node (``node_daemon``, the real
checks) against the simulator over HTTP, on a real database; and a restarted node starts there,
its read cache loaded from the store."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from request_floor import FLOOR

from monitor.connectwise.session import SharedHttp
from monitor.daemon.node import node_daemon
from monitor.simulator.fleet_config import write_fleet_config
from monitor.simulator.scenario import fleet_company_id, generate_fleet
from monitor.simulator.server import RunningSimulator, running_simulator

TENANTS = 2
START = datetime(2099, 1, 5, 9, 0, tzinfo=UTC)  # far ahead: the scheduler fires nothing itself


async def one_cycle(
    config: Path, sim: RunningSimulator, checks: int
) -> list[dict[str, Counter[str]]]:
    """Start a node, run ``checks`` rounds of every tenant's check; the requests of each round."""
    http = SharedHttp()
    daemon = node_daemon(config, http=http, clock=lambda: START).daemon
    await daemon.start()
    rounds = []
    try:
        for _ in range(checks):
            sim.state.clear_requests()
            for tenant in daemon.loaded.config.tenants:
                await daemon.check(tenant.id)
            per_company: dict[str, Counter[str]] = {}
            for request in sim.state.requests:
                per_company.setdefault(request.company_id or "", Counter())[request.path] += 1
            rounds.append(per_company)
    finally:
        await daemon.shutdown()
        await http.aclose()
    return rounds


async def test_a_steady_daemon_check_makes_five_requests(tmp_path: Path, db_url: str) -> None:
    with running_simulator(generate_fleet(TENANTS, seed=6)) as sim:
        config = write_fleet_config(
            tmp_path / "cwdrift.yaml",
            TENANTS,
            sim.url,
            db_url,
            daemon={"mode": "single", "schedule": {"every": "2m", "jitter": "0s"}},
        )
        first, steady = await one_cycle(config, sim, checks=2)
        (restarted,) = await one_cycle(config, sim, checks=1)
    for index in range(TENANTS):
        company = fleet_company_id(index)
        assert sum(first[company].values()) == 8
        assert steady[company] == Counter(FLOOR)
        assert restarted[company] == Counter(FLOOR)  # the store remembered for the new node
