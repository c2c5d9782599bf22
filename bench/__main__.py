"""``python -m bench`` (``make bench``): every benchmark, each in its own process, in order.

Each prints its own figures and its ratio to the target; a failing benchmark is reported and
the others still run (exit status 1 at the end). ``bench/history_bench.py`` (the reports
engineer's) runs too when present; ``bench/web_bench.py`` times the web view's pages;
``bench/floor_bench.py`` times ``cwdrift check`` against a bare reader making the same reads.
The whole run takes about 16 minutes on a 2-core machine; bench/RESULTS.md holds the latest
figures.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHES = (
    "cycle_bench",
    "cpu_bench",
    "storage_bench",
    "rss_bench",  # the daemon's peak RSS with 10,000 tenants configured
    "config_bench",  # loading a 10,000-tenant config
    "cluster_bench",
    "history_bench",  # optional: skipped when the file is absent
    "web_bench",  # the fleet page at 5,000 tenants, a timeline at 1,000 tenant-years
    "startup_bench",  # --help, --version and history, each in a fresh process
    "floor_bench",  # cwdrift check against a bare reader; requests per check; pacing at the cap
)
# Seconds; a wedged benchmark must not hold the whole run (the cycles take about 5 minutes).
PER_BENCH_TIMEOUT = 420
# floor_bench takes about 6 minutes on a busy 2-core machine: 2,000 tenants read three times,
# and a cycle paced at 600 requests/minute that cannot take less than requests / rate.
TIMEOUTS = {"floor_bench": 720}


def main() -> int:
    here = Path(__file__).resolve().parent
    failed: list[str] = []
    started = time.monotonic()
    for name in BENCHES:
        if not (here / f"{name}.py").is_file():
            print(f"# {name}: not present, skipped\n", flush=True)
            continue
        began = time.monotonic()
        try:
            code = subprocess.run(
                [sys.executable, "-m", f"bench.{name}"],
                cwd=here.parent,
                timeout=TIMEOUTS.get(name, PER_BENCH_TIMEOUT),
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"# {name}: timed out after {TIMEOUTS.get(name, PER_BENCH_TIMEOUT)} s")
        if code != 0:
            failed.append(name)
        print(f"# {name}: {time.monotonic() - began:.0f} s\n", flush=True)
    print(f"# all benchmarks: {time.monotonic() - started:.0f} s; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
