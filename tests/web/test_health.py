"""Health that tells the truth: a node's /healthz and /readyz over real HTTP.

The readiness test wires a real node (``node_daemon``: the real checks, against the simulator
over real HTTP, on SQLite) to the real app, with the clock injected: the daemon's scheduler
places its runs in the far future of that clock, so only the test's own ``daemon.check`` steps
run, and "N intervals" passes in a line of code instead of minutes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from jinja2 import Environment, FileSystemLoader
from prometheus_client.parser import text_string_to_metric_families

from monitor.connectwise.session import SharedHttp
from monitor.core.findings import Severity
from monitor.daemon.cluster.scheduler import ClusterCheckScheduler
from monitor.daemon.mode import scheduler_running
from monitor.daemon.node import NodeParts, node_daemon, node_health
from monitor.data import bundled_file
from monitor.observability import CheckWatch, FleetChecks
from monitor.settings import load_config
from monitor.simulator.fleet_config import write_fleet_config
from monitor.simulator.scenario import Fault, fleet_company_id, generate_fleet
from monitor.simulator.server import RunningSimulator, running_simulator
from monitor.store import Database
from monitor.web.app import RunningServer, create_app, start_server
from monitor.web.health import Health, health_routes, templates_probe

TENANTS = 2
START = datetime(2099, 1, 5, 9, 0, tzinfo=UTC)  # far ahead: the scheduler fires nothing itself


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(generate_fleet(TENANTS, seed=5)) as running:
        yield running


def fail_every_read(sim: RunningSimulator) -> None:
    """Every tenant's keys are now rejected (401): checks fail, the node stays alive."""
    for index in range(TENANTS):
        sim.state.add_fault(fleet_company_id(index), Fault(kind="status", status=401))


class Node:
    """A real node's parts and health app, its clock injected; ``get`` asks over HTTP."""

    def __init__(self, parts: NodeParts, server: RunningServer, clock: Clock) -> None:
        self.parts = parts
        self.daemon = parts.daemon
        self.server = server
        self.clock = clock

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.get(f"{self.server.url}{path}")

    async def check_all(self) -> None:
        for tenant in self.daemon.loaded.config.tenants:
            await self.daemon.check(tenant.id)


@pytest.fixture
async def node(tmp_path: Path, sim: RunningSimulator) -> AsyncIterator[Node]:
    config_path = write_fleet_config(
        tmp_path / "cwdrift.yaml",
        TENANTS,
        sim.url,
        f"sqlite:///{tmp_path}/cwdrift.db",
        daemon={"mode": "single", "schedule": {"every": "2m", "jitter": "0s"}},
        health={"failing_intervals": 3},
        baseline=str(copy_of_the_baseline(tmp_path)),
    )
    loaded = load_config(config_path)
    clock = Clock(START)
    http = SharedHttp()
    watch = CheckWatch(started_at=clock())
    parts = node_daemon(config_path, http=http, watch=watch, clock=clock)
    daemon, factory = parts.daemon, parts.factory
    probe_db = Database(loaded.config.database)
    health = node_health(
        daemon,
        loaded,
        scheduler_ok=lambda: scheduler_running(factory.scheduler),
        ping=probe_db.ping,
        watch=watch,
        clock=clock,
    )
    server = await start_server(create_app(health_routes(health)), "127.0.0.1", 0)
    await daemon.start()
    try:
        yield Node(parts, server, clock)
    finally:
        await daemon.shutdown()
        await server.close()
        await http.aclose()
        probe_db.dispose()


def copy_of_the_baseline(folder: Path) -> Path:
    copy = folder / "baseline.yaml"
    copy.write_text(bundled_file("baseline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return copy


async def test_a_healthy_node_is_alive_and_watching(node: Node) -> None:
    await node.check_all()
    alive, ready = await node.get("/healthz"), await node.get("/readyz")
    assert alive.status_code == 200, alive.text
    assert alive.json() == {
        "status": "ok",
        "checks": {"baseline": True, "database": True, "scheduler": True, "templates": True},
        "reasons": {},
    }
    assert ready.status_code == 200, ready.text
    watch = ready.json()["watch"]
    assert (watch["tenants_attempted"], watch["tenants_failing"]) == (TENANTS, 0)
    assert watch["last_success"] == node.clock().isoformat()


async def test_every_check_failing_for_n_intervals_fails_readyz_not_healthz_then_recovers(
    node: Node, sim: RunningSimulator
) -> None:
    fail_every_read(sim)
    # Three intervals of 2 minutes: the node may fail for 5m59s and still be "watching".
    for _ in range(3):
        node.clock.advance(timedelta(minutes=2) - timedelta(seconds=1))
        await node.check_all()
        assert (await node.get("/readyz")).status_code == 200
    node.clock.advance(timedelta(seconds=3))  # 6m01s since the start, no success
    await node.check_all()

    ready = await node.get("/readyz")
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "failing"
    assert body["checks"]["watching"] is False
    reason = body["reasons"]["watching"]
    assert reason.startswith("no tenant check has succeeded for 6m")
    assert f"{TENANTS} of {TENANTS} tenants failing: auth x{TENANTS} (e.g. t00000:" in reason
    assert body["watch"]["failures"] == {"auth": TENANTS}
    alive = await node.get("/healthz")
    assert alive.status_code == 200, alive.text  # a ConnectWise outage is not a dead process

    sim.state.clear_faults()  # the keys work again
    node.clock.advance(timedelta(minutes=1))
    await node.daemon.check("t00001")
    recovered = await node.get("/readyz")
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["watch"]["tenants_failing"] == 1  # t00000 not rechecked yet


async def test_a_missing_baseline_fails_both_answers_with_the_reason(
    node: Node, tmp_path: Path
) -> None:
    await node.check_all()
    baseline = tmp_path / "baseline.yaml"
    kept = baseline.read_text(encoding="utf-8")
    baseline.unlink()

    for path in ("/healthz", "/readyz"):
        response = await node.get(path)
        assert response.status_code == 503, (path, response.text)
        body = response.json()
        assert body["checks"]["baseline"] is False
        assert "file not found" in body["reasons"]["baseline"]
        assert str(baseline) in body["reasons"]["baseline"]

    baseline.write_text(kept, encoding="utf-8")
    assert (await node.get("/healthz")).status_code == 200
    assert (await node.get("/readyz")).status_code == 200


async def test_missing_templates_fail_liveness(tmp_path: Path) -> None:
    empty = Environment(loader=FileSystemLoader(str(tmp_path)))
    health = Health({"templates": templates_probe(empty)})
    server = await start_server(create_app(health_routes(health)), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server.url}/healthz")
    finally:
        await server.close()
    assert response.status_code == 503
    assert "no templates are installed" in response.json()["reasons"]["templates"]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_fleet_check_series_are_absent_until_read_from_the_store() -> None:
    fresh = FleetChecks()
    assert list(fresh.collect()) == []  # unknown is not "0 failing", nor a 1970 timestamp
    fresh.publish(failing=2, last_success=None)
    values = {family.name: family.samples[0].value for family in fresh.collect()}
    assert values == {
        "cwdrift_tenants_failing": 2,
        "cwdrift_last_successful_check_timestamp_seconds": 0,
    }


async def test_metrics_count_failing_tenants_and_the_last_success(
    node: Node, sim: RunningSimulator
) -> None:
    sim.state.add_fault(fleet_company_id(1), Fault(kind="status", status=401))
    before = datetime.now(UTC)
    await node.check_all()
    after = datetime.now(UTC)
    await node.parts.refresh_gauges(node.daemon.loaded)

    page = samples((await node.get("/metrics")).text)
    assert page[("cwdrift_tenants_failing", ())] == 1
    last_success = page[("cwdrift_last_successful_check_timestamp_seconds", ())]
    assert before.timestamp() <= last_success <= after.timestamp()
    assert not any(name.startswith("cwdrift_tenant_") for name, _ in page)  # not opted in


async def test_per_tenant_series_are_opt_in_and_exported_by_the_leader_only(
    node: Node, tmp_path: Path
) -> None:
    await node.check_all()
    config_file = tmp_path / "cwdrift.yaml"
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["metrics"] = {"per_tenant": True}
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert await node.daemon.reload()  # what SIGHUP does
    await node.parts.refresh_gauges(node.daemon.loaded)

    page = samples((await node.get("/metrics")).text)
    for tenant in ("t00000", "t00001"):
        key = ("cwdrift_tenant_last_successful_check_timestamp_seconds", (("tenant", tenant),))
        assert page[key] > 0
        severities = {
            dict(labels)["severity"]
            for name, labels in page
            if name == "cwdrift_tenant_open_findings" and dict(labels)["tenant"] == tenant
        }
        assert severities == {s.value for s in Severity}

    # The same node as a cluster follower (its engine does not hold the leader lock): the
    # leader exports these series, so this node must drop them rather than serve stale ones.
    node.parts.factory.scheduler = ClusterCheckScheduler(
        node.daemon.check,
        max_in_flight=1,
        database_url="postgresql+psycopg://cwdrift@127.0.0.1:1/not-started",
    )
    await node.parts.refresh_gauges(node.daemon.loaded)
    page = samples((await node.get("/metrics")).text)
    assert not any(name.startswith("cwdrift_tenant_") for name, _ in page)
    assert ("cwdrift_tenants_failing", ()) in page  # fleet-wide series: every node


def test_a_node_without_its_baseline_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-baseline.yaml"
    config = write_fleet_config(
        tmp_path / "cwdrift.yaml",
        1,
        "https://example.invalid",
        f"sqlite:///{tmp_path}/cwdrift.db",
        baseline=str(missing),
    )
    node = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run", "--health-port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert node.returncode == 2, node.stderr
    assert "Traceback" not in node.stderr, node.stderr
    errors = [line for line in node.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, node.stderr  # (the fleet config's literal keys add a warning)
    assert errors[0].startswith(f"error: {missing}: file not found"), errors[0]
