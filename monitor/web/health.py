"""``/healthz``, ``/readyz`` and ``/metrics``: two answers, so that an orchestrator never restarts
a node for a ConnectWise outage, and a monitor that watches nothing never answers "ok".

    /healthz   alive: 200 unless the process cannot work at all (its scheduler stopped, the
               database does not answer, the baseline or the templates cannot be loaded).
               For liveness probes: failing it means "restart me".
    /readyz    watching: everything /healthz checks, and also fails when checks were attempted
               but none succeeded for ``health.failing_intervals`` check intervals, naming how
               many tenants fail and why. For readiness probes, Docker's HEALTHCHECK and
               alerting: a restart would not fix revoked keys or an unreachable ConnectWise.
    /metrics   Prometheus text format from :data:`monitor.observability.REGISTRY`.

Both health answers are JSON, 200 or 503: ``{"status": "ok" | "failing", "checks": {name:
bool}, "reasons": {name: why}}`` (``/readyz`` adds ``"watch"``). A probe's reason is its
CwdriftError's text (those never carry secrets); any other exception is named by type only,
since driver messages may carry connection strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from monitor.core.baseline import load_baseline
from monitor.data import check_templates
from monitor.errors import CwdriftError
from monitor.observability import REGISTRY, WatchVerdict
from monitor.settings import LoadedConfig

log = logging.getLogger("cwdrift.health")

# A probe that has not answered by then fails (a database that hangs is not a live one). Below
# the 5 s timeout of the shipped Docker health checks, so they see the 503 and its reason.
PROBE_TIMEOUT = 4.0

# None when fine, else why not: one line for a person, never a secret. Synchronous (a database
# ping, a file read): run in a worker thread, never on the event loop.
Probe = Callable[[], "str | None"]


@dataclass(frozen=True)
class HealthAnswer:
    """One ``/healthz`` or ``/readyz`` answer."""

    checks: dict[str, bool]
    reasons: dict[str, str] = field(default_factory=dict)
    watch: WatchVerdict | None = None

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    @property
    def status_code(self) -> int:
        return 200 if self.ok else 503

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "failing",
            "checks": self.checks,
            "reasons": self.reasons,
        }
        if self.watch is not None:
            body["watch"] = self.watch.as_dict()
        return body


class Health:
    """The probes behind the two answers: named liveness probes, and optionally the watch.

    ``watching`` returns this process's :class:`~monitor.observability.WatchVerdict`; a process
    that runs no checks (a web-only server) passes none, and is then ready when it is alive.
    """

    def __init__(
        self,
        liveness: Mapping[str, Probe],
        *,
        watching: Callable[[], WatchVerdict] | None = None,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._liveness = dict(liveness)
        self._watching = watching
        self._timeout = timeout

    async def alive(self) -> HealthAnswer:
        names = list(self._liveness)
        results = await asyncio.gather(*(self._probe(name) for name in names))
        reasons = {name: why for name, why in zip(names, results, strict=True) if why}
        return HealthAnswer(checks={name: name not in reasons for name in names}, reasons=reasons)

    async def ready(self) -> HealthAnswer:
        alive = await self.alive()
        if self._watching is None:
            return alive
        verdict = self._watching()
        reasons = dict(alive.reasons)
        if verdict.reason:
            reasons["watching"] = verdict.reason
        return HealthAnswer(
            checks={**alive.checks, "watching": verdict.watching}, reasons=reasons, watch=verdict
        )

    async def _probe(self, name: str) -> str | None:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_run, name, self._liveness[name]), self._timeout
            )
        except TimeoutError:
            return f"no answer within {self._timeout:g}s"


def _run(name: str, probe: Probe) -> str | None:
    try:
        return probe()
    except CwdriftError as exc:
        return str(exc)
    except Exception as exc:  # a broken probe is an unhealthy process, not a dead server
        log.warning("health probe %s raised %s", name, type(exc).__name__)
        return f"{type(exc).__name__} (see the log)"


def health_routes(health: Health, *, registry: CollectorRegistry = REGISTRY) -> list[BaseRoute]:
    """The route group every node serves: ``/healthz``, ``/readyz`` and ``/metrics``."""

    async def healthz(request: Request) -> Response:
        return _answer(await health.alive())

    async def readyz(request: Request) -> Response:
        return _answer(await health.ready())

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _answer(answer: HealthAnswer) -> Response:
    body = json.dumps(answer.as_dict(), sort_keys=True).encode() + b"\n"
    return Response(body, status_code=answer.status_code, media_type="application/json")


# -- the probes a process is built from ----------------------------------------------------------


def database_probe(ping: Callable[[], bool]) -> Probe:
    """The database answers a trivial query (``Database.ping`` logs why not)."""

    def probe() -> str | None:
        return None if ping() else "the database does not answer (its error is in the log)"

    return probe


def baseline_probe(in_force: Callable[[], LoadedConfig]) -> Probe:
    """The baseline the config in force names loads and validates, and its waivers name its
    rules: what every check needs before it can judge anything."""

    def probe() -> str | None:
        loaded = in_force()
        baseline = load_baseline(loaded.baseline_path)
        loaded.check_rules_exist(baseline.ids)
        return None

    return probe


def templates_probe(env: Environment | None = None) -> Probe:
    """Every shipped template is there: e-mail alerts and reports are rendered from them."""

    def probe() -> str | None:
        check_templates(env)
        return None

    return probe
