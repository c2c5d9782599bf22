"""The bare reader: the reads of a steady ``cwdrift check`` replayed with nothing else around them.

``python -m bench.bare_reader PLAN.json`` (bench/floor_bench.py writes the plan and times this
process against ``cwdrift check``). The plan holds, per tenant, the requests a recorded steady
check made, in rounds: the reads cwdrift made concurrently (one round) are sent concurrently,
and a round starts when the one before it has been answered, as cwdrift's later reads depend
on earlier answers. Each request is replayed as recorded: method, raw path and query, and the
headers cwdrift sent (its Authorization is the simulator fleet's fake keys, which the fleet
config holds too).

It runs on the HTTP engine under cwdrift's transport (one aiohttp session, no connection cap
of its own, no cookies: monitor/connectwise/transport.py), at cwdrift's concurrency: at most
``in_flight`` tenants at once (``daemon.tenants_in_flight``) and ``per_host`` requests at once
per host (``connectwise.concurrency_per_host``), a slot held from sending a request to the end
of its body, as cwdrift's HostLimiter does. There is no rate cap: the plan is only ever run
with the rate limit lifted. Nothing else happens: no JSON decoding, no evaluation, no store.
Bodies are read whole and each status is compared with the recorded one, so a replay that does
not get the answers cwdrift got fails rather than measures something else.

This module imports nothing of ``monitor``, so its start-up is Python's and aiohttp's alone.
Prints one JSON line: ``{"requests", "bytes", "reads_seconds"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

Request = dict[str, Any]  # {"method", "url", "headers": [[name, value]], "status"}
Rounds = list[list[Request]]


class UnexpectedAnswer(Exception):
    """A replayed request did not get the status cwdrift got."""


async def read_all(tenants: list[Rounds], *, in_flight: int, per_host: int) -> tuple[int, int]:
    """Replay every tenant's rounds; returns (requests, response body bytes)."""
    tenant_slots = asyncio.Semaphore(in_flight)
    host_slots: dict[str, asyncio.Semaphore] = {}
    connector = aiohttp.TCPConnector(limit=0)  # the per-host cap below is the only cap
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def fetch(request: Request) -> int:
            url = URL(request["url"], encoded=True)  # the recorded query, byte for byte
            slot = host_slots.setdefault(url.host or "", asyncio.Semaphore(per_host))
            headers = [(name, value) for name, value in request["headers"]]
            async with slot, session.request(request["method"], url, headers=headers) as answer:
                body = await answer.read()
            if answer.status != request["status"]:
                raise UnexpectedAnswer(
                    f"{request['method']} {url.path}: {answer.status}, recorded {request['status']}"
                )
            return len(body)

        async def tenant(rounds: Rounds) -> tuple[int, int]:
            requests = size = 0
            async with tenant_slots:
                for group in rounds:
                    sizes = await asyncio.gather(*(fetch(r) for r in group))
                    requests += len(sizes)
                    size += sum(sizes)
            return requests, size

        totals = await asyncio.gather(*(tenant(rounds) for rounds in tenants))
    return sum(t[0] for t in totals), sum(t[1] for t in totals)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.bare_reader PLAN.json", file=sys.stderr)
        return 2
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    started = time.monotonic()
    requests, size = asyncio.run(
        read_all(plan["tenants"], in_flight=plan["in_flight"], per_host=plan["per_host"])
    )
    reads = time.monotonic() - started
    print(json.dumps({"requests": requests, "bytes": size, "reads_seconds": reads}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
