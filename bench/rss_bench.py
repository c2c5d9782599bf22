"""Peak resident memory of a daemon with 10,000 tenants configured, while it checks them.

A real daemon process (``cwdrift run``, single mode on PostgreSQL) with every
tenant due at start runs against the simulator (its own process, no latency) for up to
SECONDS; its VmRSS is sampled every second and its VmHWM (peak) read at the end, so the figure
covers loading the config, scheduling 10,000 jobs (every one due at once: the largest backlog
a start can meet) and a stream of checks. The config is written as a real one would be (each
private key in its own file, the client id from the environment). Target: <= 250 MB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.fleet import fresh_postgres, machine, simulator_process, write_referenced_fleet_config
from monitor.store.database import Database
from monitor.store.tables import CheckRunTable

TENANTS = 10000
SECONDS = 40.0
TARGET_MB = 250.0


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def checks_done(db: Database) -> int:
    try:
        with db.session() as session:
            return int(
                session.execute(select(func.count()).select_from(CheckRunTable)).scalar_one()
            )
    except Exception:  # the schema may not exist before the daemon's first migrate
        return 0


def main() -> None:
    print(f"# rss_bench: {machine()}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator_process(TENANTS, 0.0) as url,
        fresh_postgres("rss") as database,
    ):
        config = Path(tmp) / "cwdrift.yaml"
        env = write_referenced_fleet_config(
            config,
            TENANTS,
            url,
            database,
            daemon={
                "mode": "single",
                "tenants_in_flight": 16,
                "schedule": {"every": "1h", "jitter": "0s"},
            },
            connectwise={"concurrency_per_host": 32, "requests_per_minute": 1000},
        )
        db = Database(database)
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        samples: list[tuple[float, float, int]] = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < SECONDS and proc.poll() is None:
                time.sleep(1.0)
                done = checks_done(db)
                samples.append((time.monotonic() - started, rss_mb(proc.pid, "VmRSS"), done))
                if done >= TENANTS:
                    break
            peak = rss_mb(proc.pid, "VmHWM")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            db.dispose()
    verdict = "meets" if peak <= TARGET_MB else "MISSES"
    quarter = (
        [samples[int(len(samples) * q) - 1] for q in (0.25, 0.5, 0.75, 1.0)] if samples else []
    )
    trend = ", ".join(f"{t:.0f}s {rss:.0f} MB ({done} checks)" for t, rss, done in quarter)
    print(
        f"{TENANTS} tenants configured: peak RSS {peak:.0f} MB (target <= {TARGET_MB:.0f} MB: "
        f"{verdict}; ratio {peak / TARGET_MB:.2f}); RSS over time: {trend}"
    )


if __name__ == "__main__":
    main()
