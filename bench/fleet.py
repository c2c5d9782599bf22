"""Shared benchmark plumbing: fleet configs, a simulator in its own process, machine facts.

The simulator runs in a separate process for the wall-clock benchmarks so its CPU does not
compete with the client's event loop for the GIL (the machine has 2 cores: one each).
"""

from __future__ import annotations

import compileall
import contextlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

import monitor
from monitor.simulator.fleet_config import (
    CLIENT_ID,
    fleet_config,
    fleet_tenants,
    write_fleet_config,
)
from monitor.store.scratch import scratch_postgres

__all__ = [
    "fleet_config",
    "fresh_postgres",
    "machine",
    "request_log",
    "served_requests",
    "simulator_process",
    "start_request_log",
    "write_fleet_config",
    "write_referenced_fleet_config",
]

_SIMULATOR = """
import json, socket, sys, threading, time
import uvicorn
from monitor.simulator.app import create_app
from monitor.simulator.scenario import generate_fleet
from monitor.simulator.state import SimulatorState

# IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
# listening socket says proto=TCP; without it every small response waits ~40 ms for a delayed ACK.
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sim = create_app(SimulatorState(generate_fleet({n}, seed=7, latency={latency})))
served = [0]
recording = [None]  # the timed request log while one is being recorded (bench.fleet.RequestLog)
# Headers the client's HTTP library adds on its own; everything else is replayed as sent.
NOT_REPLAYED = {{b"host", b"content-length", b"connection", b"user-agent"}}


async def answer(send, body):
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]}})
    await send({{"type": "http.response.body", "body": body}})


async def app(scope, receive, send):
    # Counts every request, and answers GET /_bench/count with the count so far; POST
    # /_bench/log starts a request log, GET /_bench/log returns it (and stops it).
    if scope["type"] == "http" and scope["path"] == "/_bench/count":
        await answer(send, str(served[0]).encode())
        return
    if scope["type"] == "http" and scope["path"] == "/_bench/log":
        entries, recording[0] = recording[0], ([] if scope["method"] == "POST" else None)
        await answer(send, json.dumps(entries or []).encode())
        return
    if scope["type"] != "http":
        await sim(scope, receive, send)
        return
    served[0] += 1
    log = recording[0]
    if log is None:
        await sim(scope, receive, send)
        return
    entry = {{
        "start": time.monotonic(),
        "method": scope["method"],
        "path": scope["raw_path"].decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in scope["headers"] if k not in NOT_REPLAYED],
        "status": 0,
        "bytes": 0,
    }}

    async def counted(message):
        if message["type"] == "http.response.start":
            entry["status"] = message["status"]
        elif message["type"] == "http.response.body":
            entry["bytes"] += len(message.get("body", b""))
            if not message.get("more_body"):
                entry["end"] = time.monotonic()
        await send(message)

    await sim(scope, receive, counted)
    log.append(entry)


server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
thread = threading.Thread(target=server.run, kwargs={{"sockets": [sock]}}, daemon=True)
thread.start()
while not server.started:
    thread.join(0.05)
print(f"http://127.0.0.1:{{sock.getsockname()[1]}}", flush=True)
sys.stdin.read()
server.should_exit = True
thread.join(10)
"""


@contextlib.contextmanager
def simulator_process(n: int, latency: float) -> Iterator[str]:
    """``generate_fleet(n, latency=...)`` served by a child process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SIMULATOR.format(n=n, latency=latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the simulator process did not start")
        yield url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def served_requests(url: str) -> int:
    """How many requests the simulator process has answered so far."""
    return int(httpx.get(f"{url}/_bench/count").text)


def start_request_log(url: str) -> None:
    """Have the simulator process log every request from now on (``request_log`` returns them)."""
    httpx.post(f"{url}/_bench/log").raise_for_status()


def request_log(url: str) -> list[dict[str, Any]]:
    """The requests answered since ``start_request_log``, in the order they finished; stops the log.

    Each: ``start``/``end`` (``time.monotonic()`` of the simulator process: on Linux the same
    clock as this process's), ``method``, ``path`` (raw), ``query`` (raw), ``headers`` (as sent,
    minus those an HTTP library adds itself), ``status`` and ``bytes`` (the response body).
    """
    reply = httpx.get(f"{url}/_bench/log", timeout=60)
    reply.raise_for_status()
    entries: list[dict[str, Any]] = reply.json()
    return entries


def write_referenced_fleet_config(
    path: Path, n: int, site: str, database: str, **sections: Any
) -> dict[str, str]:
    """A fleet config written as a real one would be: each private key in its own file beside
    the config (``private_key_file``), the shared client id from ``${CW_CLIENT_ID}``; public
    keys are not secrets and stay literal. Returns the environment the config expects."""
    secrets = path.parent / "secrets"
    secrets.mkdir(exist_ok=True)
    tenants = fleet_tenants(n, site)
    for tenant in tenants:
        key_file = secrets / tenant["id"]
        key_file.write_text(tenant.pop("private_key") + "\n", encoding="utf-8")
        tenant["private_key_file"] = f"secrets/{tenant['id']}"
        tenant["client_id"] = "${CW_CLIENT_ID}"
    data = {"database": database, "tenants": tenants, **sections}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return {"CW_CLIENT_ID": CLIENT_ID}


def compile_bytecode() -> None:
    """Write every ``monitor`` module's bytecode, as installing the wheel does.

    Benches that time fresh processes need it: with ``PYTHONDONTWRITEBYTECODE`` set (as in some
    shells and containers), a module edited since its last compile would be compiled again in
    every timed process, and start-up would measure the compiler.
    """
    compileall.compile_dir(Path(monitor.__file__).parent, quiet=1)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM (peak resident set) of a process, in MB."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


POSTGRES_URL = os.environ.get(
    "CWDRIFT_BENCH_POSTGRES_URL",
    os.environ.get(
        "CWDRIFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)


@contextlib.contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark, dropped afterwards."""
    with scratch_postgres(POSTGRES_URL, prefix=f"cwdrift_bench_{prefix}") as url:
        yield url
