"""A real node process (`cwdrift run`) serves what its checks did on /metrics.

The metrics are wired only in the composition root (node.py), so only a real node shows that
checks, their outcomes and the ConnectWise requests behind them are counted.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cluster_fleet import write_fleet_config
from cluster_waits import until_sync
from prometheus_client.parser import text_string_to_metric_families

from monitor.simulator.scenario import generate_fleet
from monitor.simulator.server import running_simulator

TENANTS = 3

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric_sums(url: str) -> dict[tuple[str, str], float]:
    """(sample name, its status/outcome label) -> value, summed over other labels."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.TransportError:
        return {}  # not listening yet
    sums: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = sample.labels.get("status") or sample.labels.get("outcome") or ""
            key = (sample.name, label)
            sums[key] = sums.get(key, 0.0) + sample.value
    return sums


def test_a_nodes_metrics_count_its_checks_and_connectwise_requests(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_simulator(generate_fleet(TENANTS, seed=2)) as sim:
        config = write_fleet_config(
            tmp_path / "cwdrift.yaml",
            TENANTS,
            sim.url,
            f"sqlite:///{tmp_path}/cwdrift.db",
            daemon={"mode": "single", "schedule": {"every": "1h", "jitter": "0s"}},
        )
        log = (tmp_path / "node.log").open("w")
        command = ["monitor", "--config", str(config), "run", "--health-port", str(port)]
        node = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def all_checked() -> dict[tuple[str, str], float]:
                sums = metric_sums(url)
                done = sum(v for (name, _), v in sums.items() if name == "cwdrift_checks_total")
                return sums if done == TENANTS else {}

            sums = until_sync(all_checked, f"{TENANTS} checks counted on /metrics")
            served = sum(1 for r in sim.state.requests if r.status == 200)
            assert sums[("cwdrift_connectwise_requests_total", "200")] == served
            assert served >= TENANTS * 7  # every read of every check went through the session
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            ready = httpx.get(f"{url}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
            assert ready.json()["watch"]["tenants_attempted"] == TENANTS
            node.send_signal(signal.SIGTERM)
            assert node.wait(timeout=30) == 0
        finally:
            if node.poll() is None:
                node.kill()
                node.wait()
            log.close()
