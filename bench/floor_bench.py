"""The ceiling and the floor: ``cwdrift check`` against a bare reader, requests per check, pacing.

Against one simulator process (100 ms per request, bench/fleet.py), in one run:

1. **cwdrift against the bare reader**, at 200 tenants (target <= 1.1x) and at 2,000 (printed).
   ``cwdrift --config FLEET.yaml check`` runs as a whole process, start-up included, on a fresh
   SQLite store (the single-node default). A first run warms what a run leaves behind (stored
   snapshots; any cache kept in the store); the second, steady run is timed and its requests
   are logged by the simulator. bench/bare_reader.py then replays exactly those requests per
   tenant (method, raw path and query, headers as sent), in the rounds cwdrift made them in,
   with the same concurrency, and is timed as a whole process too. So the bare reader makes the
   same reads by construction, whatever a check reads.

   Rounds are read off the log: one tenant's requests, by arrival, start a new round when a
   request arrives after every answer of the current round was sent (cwdrift reads in rounds
   that each wait for the whole round before; the simulator's lists fit one page, so no
   next-page read waits on one answer only), and every tenant making the same reads is replayed
   in the rounds most of them were seen in. The limits are lifted for these runs
   (``requests_per_minute`` and ``concurrency_per_host`` at the config's maxima, so the
   limiter never holds a request back and a round's reads arrive together); tenants in flight
   stay at the default. The bare reader reads both settings from the same loaded config.

   Each process's wall time is split at the first request the simulator saw and the last answer
   it sent (one clock: ``time.monotonic`` is system-wide on Linux): start-up (interpreter,
   imports, config, store, until the first read), reads, and the tail (the rest of the store
   writes, alerts, the printed result, exit). CPU is the child's user + system time.

2. **Requests and response bytes per steady check** (target <= 5 requests), from that log.

3. **A 200-tenant cycle at the default cap** (600 requests/minute per host, 8 at once, 16
   tenants in flight), in this process as the daemon runs it (``check_many``, codebase answers
   cached in memory), after a warm-up cycle with the limits lifted: its bound is
   requests / rate; target bound / wall >= 0.95.

Takes about 7 minutes on a busy 2-core machine: 2,000 tenants are read three times (about a
minute each), and the capped cycle cannot take less than requests / rate (140 s at 7 requests per
tenant). ``CWDRIFT_BENCH_FLOOR_SIZES=200`` skips 2,000.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cycle_bench import timed_cycle
from bench.fleet import (
    compile_bytecode,
    machine,
    request_log,
    simulator_process,
    start_request_log,
    write_fleet_config,
)
from monitor.connectwise.limits import HostLimits
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config

LATENCY = 0.1
SIZES = tuple(int(s) for s in os.environ.get("CWDRIFT_BENCH_FLOOR_SIZES", "200,2000").split(","))
RATIO_TENANTS = 200
TARGET_RATIO = 1.1
REPEATS = 3  # at RATIO_TENANTS: cwdrift and the bare reader in turn, best of each
TARGET_REQUESTS = 5
CAPPED_TENANTS = 200
TARGET_PACE = 0.95
# The config's maxima (monitor/settings.py ConnectWiseLimits): the politeness limits lifted.
LIFTED = {"requests_per_minute": 60_000, "concurrency_per_host": 64}
ROOT = Path(__file__).resolve().parent.parent

Entry = dict[str, Any]  # one request of the simulator's log (bench.fleet.request_log)


@dataclass(frozen=True)
class Timed:
    """One process, timed, with the requests the simulator answered while it ran."""

    wall: float
    cpu: float
    startup: float  # spawn to the first request
    reads: float  # first request to the last answer
    tail: float  # last answer to exit
    log: list[Entry]

    @property
    def requests(self) -> int:
        return len(self.log)

    @property
    def bytes(self) -> int:
        return sum(e["bytes"] for e in self.log)

    def describe(self) -> str:
        return (
            f"{self.wall:6.2f} s (start-up {self.startup:.2f}, reads {self.reads:.2f}, "
            f"tail {self.tail:.2f}; CPU {self.cpu:.2f} s)"
        )


def timed_process(command: list[str], url: str, *, ok: tuple[int, ...] = (0,)) -> Timed:
    """Run ``command`` to its end with the simulator's request log on; time its phases."""
    start_request_log(url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    exited = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = request_log(url)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(command[:3])}... exited {done.returncode}:\n{done.stderr}")
    if not log:
        raise SystemExit(f"{' '.join(command[:3])}... made no request")
    first = min(e["start"] for e in log)
    last = max(e["end"] for e in log)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(exited - spawned, cpu, first - spawned, last - first, exited - last, log)


def cwdrift_command(config: Path) -> list[str]:
    """``cwdrift --config CONFIG check``, the console script beside this interpreter."""
    script = Path(sys.executable).with_name("cwdrift")
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "monitor"]
    return [*base, "--config", str(config), "check"]


def tenant_of(entry: Entry) -> str:
    """Whose request it was: the company in the Basic credentials, or in the companyinfo path."""
    headers: dict[str, str] = {name.lower(): value for name, value in entry["headers"]}
    path: str = entry["path"]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(token).decode().partition("+")[0].casefold()
        except (binascii.Error, UnicodeDecodeError):
            pass
    if path.startswith("/login/companyinfo/"):
        return path.rsplit("/", 1)[1].casefold()
    raise SystemExit(f"a request names no tenant: {entry['method']} {path}")


def rounds_of(entries: list[Entry]) -> list[list[Entry]]:
    """One tenant's requests in rounds: a request that arrived after every answer of the current
    round had been sent starts the next round (it waited for them, as cwdrift's reads wait for
    the whole round before them); one that arrived earlier joins the round."""
    rounds: list[list[Entry]] = []
    last_answer = float("-inf")
    for entry in sorted(entries, key=lambda e: e["start"]):
        if not rounds or entry["start"] >= last_answer:
            rounds.append([])
        rounds[-1].append(entry)
        last_answer = max(last_answer, entry["end"])
    return rounds


Read = tuple[str, str, int]  # method, endpoint, occurrence: the same read in every tenant
Labelled = list[list[tuple[Read, Entry]]]  # one tenant's rounds, each request named by its read
Shape = tuple[tuple[Read, ...], ...]


def labelled_rounds(entries: list[Entry]) -> Labelled:
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    labelled: Labelled = []
    for group in rounds_of(entries):
        labelled.append([])
        for entry in group:
            key = (entry["method"], endpoint_of(entry["path"]))
            seen[key] += 1
            labelled[-1].append(((*key, seen[key]), entry))
    return labelled


def shape_of(labelled: Labelled) -> Shape:
    return tuple(tuple(sorted(read for read, _ in group)) for group in labelled)


def common_rounds(by_tenant: dict[str, list[Entry]]) -> tuple[list[list[list[Entry]]], int]:
    """Each tenant's requests in the rounds most tenants making the same reads made them in,
    and how many tenants were seen otherwise: a stall of cwdrift's event loop can hold one
    read back past its round's answers, and the bare reader should not wait for that too."""
    tenants = [labelled_rounds(entries) for entries in by_tenant.values()]
    votes: dict[frozenset[Read], collections.Counter[Shape]] = collections.defaultdict(
        collections.Counter
    )
    for labelled in tenants:
        shape = shape_of(labelled)
        votes[frozenset(read for group in shape for read in group)][shape] += 1
    replayed: list[list[list[Entry]]] = []
    adjusted = 0
    for labelled in tenants:
        shape = shape_of(labelled)
        common = votes[frozenset(read for group in shape for read in group)].most_common(1)[0][0]
        adjusted += common != shape
        where = {read: index for index, group in enumerate(common) for read in group}
        regrouped: list[list[Entry]] = [[] for _ in common]
        for group_of_reads in labelled:
            for read, entry in group_of_reads:
                regrouped[where[read]].append(entry)
        replayed.append(regrouped)
    return replayed, adjusted


def replay_plan(log: list[Entry], url: str, *, in_flight: int, per_host: int) -> dict[str, Any]:
    by_tenant: dict[str, list[Entry]] = collections.defaultdict(list)
    for entry in log:
        by_tenant[tenant_of(entry)].append(entry)
    rounds, adjusted = common_rounds(by_tenant)
    tenants = [
        [
            [
                {
                    "method": e["method"],
                    "url": f"{url}{e['path']}" + (f"?{e['query']}" if e["query"] else ""),
                    "headers": e["headers"],
                    "status": e["status"],
                }
                for e in group
            ]
            for group in groups
        ]
        for groups in rounds
    ]
    return {"in_flight": in_flight, "per_host": per_host, "tenants": tenants, "adjusted": adjusted}


def shapes(plan: dict[str, Any]) -> str:
    """The rounds per tenant, e.g. ``1+4+3 x200``."""
    counts = collections.Counter(
        "+".join(str(len(group)) for group in rounds) for rounds in plan["tenants"]
    )
    text = ", ".join(f"{shape} x{count}" for shape, count in counts.most_common())
    if plan["adjusted"]:
        text += f"; {plan['adjusted']} tenants seen otherwise, as a stall held a read back"
    return text


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def against_bare_reader(url: str, n: int, tmp: Path, *, repeats: int) -> Timed:
    """Print cwdrift's steady check of ``n`` tenants against the bare reader, the two run in
    turn ``repeats`` times (best of each compared: the machine may be shared); returns
    cwdrift's first steady run (the one the bare reader replays)."""
    config = write_fleet_config(
        tmp / f"fleet{n}.yaml", n, url, f"sqlite:///{tmp}/fleet{n}.db", connectwise=LIFTED
    )
    loaded = load_config(config)
    in_flight = loaded.config.daemon.tenants_in_flight
    per_host = loaded.config.connectwise.concurrency_per_host
    command = cwdrift_command(config)
    drift_ok = (0, 1)  # 1: some tenants drift (the fleet has some); 2 would be a failed check
    first = timed_process(command, url, ok=drift_ok)
    recorded = timed_process(command, url, ok=drift_ok)
    plan = replay_plan(recorded.log, url, in_flight=in_flight, per_host=per_host)
    plan_file = tmp / f"plan{n}.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    bare_command = [sys.executable, "-m", "bench.bare_reader", str(plan_file)]
    steady, bare = [recorded], [timed_process(bare_command, url)]
    for _ in range(repeats - 1):
        steady.append(timed_process(command, url, ok=drift_ok))
        bare.append(timed_process(bare_command, url))
    for run in (*steady, *bare):
        if (run.requests, run.bytes) != (recorded.requests, recorded.bytes):
            raise SystemExit(
                f"a run made {run.requests} requests for {run.bytes} bytes; the recorded "
                f"steady check made {recorded.requests} for {recorded.bytes}"
            )
    best, best_bare = min(steady, key=lambda t: t.wall), min(bare, key=lambda t: t.wall)
    ratio = best.wall / best_bare.wall
    print(
        f"{n:5d} tenants ({in_flight} in flight, {per_host} per host, "
        f"{recorded.requests / n:.1f} req/tenant in rounds {shapes(plan)}):"
    )
    print(f"  cwdrift check, first run {first.describe()}")
    print(f"  cwdrift check, steady    {best.describe()}{walls(steady)}")
    print(f"  bare reader              {best_bare.describe()}{walls(bare)}")
    target = (
        f" (target <= {TARGET_RATIO}x: {verdict(ratio <= TARGET_RATIO)})"
        if n == RATIO_TENANTS
        else " (no target)"
    )
    print(f"  cwdrift / bare reader: {ratio:.2f}x{target}")
    return recorded


def walls(runs: list[Timed]) -> str:
    if len(runs) == 1:
        return ""
    return "; runs " + ", ".join(f"{t.wall:.2f}" for t in runs)


def endpoint_of(path: str) -> str:
    """``/login/companyinfo/{company}``, ``/system/securityroles/{id}``: one line per endpoint."""
    if path.startswith("/login/companyinfo/"):
        return "/login/companyinfo/{company}"
    path = path.split("/apis/3.0", 1)[-1]
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def per_check(steady: Timed, n: int) -> None:
    requests = steady.requests / n
    print(
        f"requests per steady check: {requests:.2f} (target <= {TARGET_REQUESTS}: "
        f"{verdict(requests <= TARGET_REQUESTS)}; ratio {requests / TARGET_REQUESTS:.2f} of "
        f"target); response bytes per check {steady.bytes / n:,.0f}"
    )
    by_endpoint: dict[str, list[Entry]] = collections.defaultdict(list)
    for entry in steady.log:
        path = endpoint_of(entry["path"])
        by_endpoint[f"{entry['method']} {path} -> {entry['status']}"].append(entry)
    for endpoint, entries in sorted(by_endpoint.items(), key=lambda item: -len(item[1])):
        size = sum(e["bytes"] for e in entries) / len(entries)
        print(f"  {len(entries) / n:4.2f} x {endpoint:52s} {size:8,.0f} bytes each")


async def capped_cycle(url: str, tmp: Path) -> None:
    """A steady daemon-style cycle at the default limits against its bound, requests / rate."""
    config = write_fleet_config(
        tmp / "capped.yaml", CAPPED_TENANTS, url, f"sqlite:///{tmp}/capped.db"
    )
    rt = Runtime.open(load_config(config))
    defaults = rt.limits
    rt.limits = HostLimits(concurrency=LIFTED["concurrency_per_host"], per_minute=10_000_000)
    await timed_cycle(rt, url, in_flight=rt.config.daemon.tenants_in_flight)  # warm-up
    rt.limits = defaults
    wall, requests = await timed_cycle(rt, url, in_flight=rt.config.daemon.tenants_in_flight)
    await rt.aclose()
    rt.db.dispose()
    bound = requests / (defaults.per_minute / 60)
    pace = bound / wall
    print(
        f"{CAPPED_TENANTS} tenants at the default cap ({defaults.per_minute:.0f}/min, "
        f"{defaults.concurrency} per host, {rt.config.daemon.tenants_in_flight} in flight), "
        f"steady cycle: {wall:.1f} s wall, {requests} requests, bound requests/rate "
        f"{bound:.1f} s, ratio bound/wall {pace:.3f} (target >= {TARGET_PACE}: "
        f"{verdict(pace >= TARGET_PACE)})"
    )


def main() -> None:
    compile_bytecode()
    print(f"# floor_bench: {machine()}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"latency {LATENCY * 1000:.0f} ms/request; limits lifted: {LIFTED}; load {load}")
    started = time.monotonic()
    with (
        simulator_process(max(SIZES), LATENCY) as url,
        tempfile.TemporaryDirectory() as name,
    ):
        tmp = Path(name)
        for n in SIZES:
            repeats = REPEATS if n == RATIO_TENANTS else 1
            steady = against_bare_reader(url, n, tmp, repeats=repeats)
            if n == RATIO_TENANTS:
                per_check(steady, n)
        asyncio.run(capped_cycle(url, tmp))
    print(f"floor_bench: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
