"""Start-up benchmark: how long the command line takes to answer, end to end, in a new process.

    python -m bench.startup_bench                        # 1,000 tenants x 30 days, best of 15
    python -m bench.startup_bench --tenants 50 --runs 5  # a quick run

Each figure is the wall time of a fresh ``cwdrift`` process (the console script next to this
Python, as a user runs it) from spawn to exit, best of ``--runs``: the interpreter's start, the
imports, the work and the exit. Targets: ``cwdrift --help`` and ``cwdrift --version`` <= 0.3 s,
``cwdrift history --tenant X --setting Y`` <= 0.5 s on the history benchmark's SQLite store
(bench/history_bench.py's builder: its fleet of 1,000 tenants, hourly checks, three changes per
tenant-month; a month of them by default, to build in seconds: the query is indexed, and
history_bench shows a year's store answering it in under a millisecond) with a config listing
every tenant. Timed the same way in the same run, for reference: ``python -c pass`` (the
interpreter's own start) and a process that only imports the libraries ``history`` cannot do
without (typer, rich, pydantic, SQLModel with SQLAlchemy, PyYAML): what is left is cwdrift's.

Which modules each light command may import is a test (tests/cli/test_cli_startup.py), not
this benchmark: timings vary with the machine; the imports do not.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from bench import history_bench
from bench.fleet import compile_bytecode, machine
from monitor.simulator.fleet_config import fleet_tenants
from monitor.store.database import Database

HELP_TARGET_S = 0.3
VERSION_TARGET_S = 0.3
HISTORY_TARGET_S = 0.5
SITE = "na.myconnectwise.net"  # never contacted: history reads only the database
KEY_VAR = "CWDRIFT_BENCH_PRIVATE_KEY"  # the keys as a real config gives them (no warnings)
# What history imports that is not ours (typer builds its converters with pydantic).
LIBRARIES = "import typer, rich.console, rich.table, typer._adapters, sqlmodel, yaml"


def cwdrift_command() -> list[str]:
    """The console script a user runs (``.venv/bin/cwdrift``), or ``python -m monitor``."""
    script = Path(sys.executable).parent / "cwdrift"
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


def best_of(argv: Sequence[str], runs: int, *, cwd: Path) -> float:
    """The fastest of ``runs`` fresh processes running ``argv`` (each must exit 0)."""
    best = float("inf")
    env = {**os.environ, KEY_VAR: "fake-fleet-private-key"}
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}"
            )
        best = min(best, elapsed)
    return best


def build_store(workdir: Path, tenants: int, days: int) -> tuple[Path, str]:
    """The history benchmark's SQLite store and a config naming its tenants; a tenant with
    changes of the setting history is asked about."""
    template = history_bench.real_snapshot(workdir)
    keys = history_bench.changeable_keys(template)
    bodies = history_bench.Bodies(template, keys, pool=64, distinct=False)
    hours = days * 24
    plans = history_bench.plan_fleet(tenants, hours, 3.0, keys, seed=1)
    history_bench.assign_snapshot_ids(plans)
    url = f"sqlite:///{workdir}/history.db"
    db = Database(url)
    try:
        db.migrate()
        history_bench.load_sqlite(
            db, plans, history_bench.Clock(hours), bodies, lambda message: None
        )
    finally:
        db.dispose()
    entries = [{**t, "private_key": f"${{{KEY_VAR}}}"} for t in fleet_tenants(tenants, SITE)]
    config = workdir / "cwdrift.yaml"
    config.write_text(yaml.safe_dump({"database": url, "tenants": entries}, sort_keys=False))
    setting = history_bench.QUERY_SETTING
    asked = max(plans, key=lambda p: sum(setting.lower() in k.lower() for k in p.change_keys))
    return config, asked.tenant_id


def line(name: str, seconds: float, target: float) -> str:
    ratio = seconds / target
    verdict = "meets" if seconds <= target else "SLOW"
    return f"  {name:<58} {seconds:6.3f} s  target {target:.1f} s  ratio {ratio:4.2f}  {verdict}"


def main(argv: Sequence[str] | None = None) -> int:
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=15, help="processes per command; best kept")
    args = parser.parse_args(argv)

    begun = time.perf_counter()
    cwdrift = cwdrift_command()
    print(f"start-up benchmark on {machine()}; best of {args.runs} fresh processes each")
    with tempfile.TemporaryDirectory(prefix="cwdrift-bench-") as tmp:
        workdir = Path(tmp)
        config, tenant = build_store(workdir, args.tenants, args.days)
        print(
            f"history store: {args.tenants:,} tenants x {args.days} days of hourly checks "
            f"({args.tenants * args.days * 24:,} check rows), built in "
            f"{time.perf_counter() - begun:.0f} s"
        )
        history = [
            *cwdrift,
            "--config",
            str(config),
            "history",
            "--tenant",
            tenant,
            "--setting",
            history_bench.QUERY_SETTING,
        ]
        best_of(history, 1, cwd=workdir)  # warms the file cache (as a user's second run)
        bare = best_of([sys.executable, "-c", "pass"], args.runs, cwd=workdir)
        libraries = best_of([sys.executable, "-c", LIBRARIES], args.runs, cwd=workdir)
        results = [
            ("cwdrift --help", best_of([*cwdrift, "--help"], args.runs, cwd=workdir),
             HELP_TARGET_S),
            ("cwdrift --version", best_of([*cwdrift, "--version"], args.runs, cwd=workdir),
             VERSION_TARGET_S),
            (f"cwdrift history --tenant {tenant} --setting {history_bench.QUERY_SETTING}",
             best_of(history, args.runs, cwd=workdir), HISTORY_TARGET_S),
        ]  # fmt: skip
    print(f"  {'python -c pass (the interpreter alone, for reference)':<58} {bare:6.3f} s")
    print(f"  {'importing the libraries history needs (for reference)':<58} {libraries:6.3f} s")
    for name, seconds, target in results:
        print(line(name, seconds, target))
    print(f"\ntotal {time.perf_counter() - begun:.0f} s")
    return 0 if all(seconds <= target for _, seconds, target in results) else 1


if __name__ == "__main__":
    sys.exit(main())
