"""What an operator sees of a running cwdrift: metrics, what its checks did, and structured logs.

    REGISTRY, record_*          the Prometheus series ``/metrics`` serves (monitor.web.health)
    CheckWatch                  this process's own check attempts, for ``/readyz``: is it watching?
    TENANT_GAUGES               the opt-in per-tenant series (``metrics.per_tenant``)
    configure_logging()         JSON lines when stderr is not a terminal, with the tenant, run and
                                node ids bound by ``log_context``

Metrics live in a registry of our own, so an embedding process's default registry and ours
never collide (tests import this module many times over). The HTTP side (``/healthz``,
``/readyz``, ``/metrics``) is :mod:`monitor.web.health`; this leaf only holds the numbers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections import Counter as Tally
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import IO, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

CHECKS = Counter(
    "cwdrift_checks",
    "Tenant checks finished, by outcome (compliant, drift, error).",
    ["outcome"],
    registry=REGISTRY,
)
CHECK_DURATION = Histogram(
    "cwdrift_check_duration_seconds",
    "Wall time of one tenant check: collect, evaluate, store.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
OPEN_FINDINGS = Gauge(
    "cwdrift_open_findings",
    "Failing findings across all tenants, by severity, as of the last refresh.",
    ["severity"],
    registry=REGISTRY,
)
ALERTS_SENT = Counter(
    "cwdrift_alerts_sent", "Alert messages delivered, by channel.", ["channel"], registry=REGISTRY
)
ALERTS_FAILED = Counter(
    "cwdrift_alerts_failed",
    "Alert deliveries that failed, by channel and whether the failure is permanent.",
    ["channel", "permanent"],
    registry=REGISTRY,
)
CONNECTWISE_REQUESTS = Counter(
    "cwdrift_connectwise_requests",
    "HTTP requests to ConnectWise, by response status ('error' when no response came back).",
    ["status"],
    registry=REGISTRY,
)
CLUSTER_LEADER = Gauge(
    "cwdrift_cluster_leader",
    "1 while this node holds the cluster clock (the scheduling leader lock), else 0.",
    registry=REGISTRY,
)

# -- metric updates ---------------------------------------------------------------------------


def record_check(outcome: str, seconds: float) -> None:
    """One finished tenant check (``outcome`` is TenantResult.status)."""
    CHECKS.labels(outcome=outcome).inc()
    CHECK_DURATION.observe(seconds)


def record_open_findings(by_severity: Mapping[str, int]) -> None:
    """Replace the open-findings gauge; severities missing from ``by_severity`` drop to zero."""
    for severity in {*by_severity, *_seen_severities()}:
        OPEN_FINDINGS.labels(severity=severity).set(by_severity.get(severity, 0))


def _seen_severities() -> set[str]:
    return {
        sample.labels["severity"]
        for metric in OPEN_FINDINGS.collect()
        for sample in metric.samples
        if "severity" in sample.labels
    }


def record_fleet_checks(*, failing: int, last_success: datetime | None) -> None:
    """Replace the fleet-wide check gauges (from the store, so every node shows the same)."""
    FLEET_CHECKS.publish(failing=failing, last_success=last_success)


def record_alert(channel: str, *, delivered: bool, permanent: bool = False) -> None:
    """One delivery attempt of one alert message."""
    if delivered:
        ALERTS_SENT.labels(channel=channel).inc()
    else:
        ALERTS_FAILED.labels(channel=channel, permanent=str(permanent).lower()).inc()


def record_connectwise_response(status: str) -> None:
    """One ConnectWise HTTP response by status ("error" when none came back).

    Pass it as ``SharedHttp(on_response=...)``: its transport reports every response, so the one
    HTTP seam (the ConnectWise client) stays unaware of metrics.
    """
    CONNECTWISE_REQUESTS.labels(status=status).inc()


class _Limiter(Protocol):
    host: str
    rate_limit_waits: int


class _Limits(Protocol):
    def hosts(self) -> list[str]: ...

    def for_host(self, host: str) -> _Limiter: ...


class RateLimitWaits(Collector):
    """Exposes ``HostLimiter.rate_limit_waits`` (requests that waited for a token) per host."""

    def __init__(self, limits: _Limits) -> None:
        self._limits = limits

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "cwdrift_rate_limit_waits",
            "Requests that waited for the per-host ConnectWise rate limit, by host.",
            labels=["host"],
        )
        for host in self._limits.hosts():
            family.add_metric([host], self._limits.for_host(host).rate_limit_waits)
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # dynamic: nothing to check for name clashes up front


_watched_limits: list[RateLimitWaits] = []


def watch_host_limits(limits: _Limits) -> None:
    """Expose ``limits``' rate-limit waits on ``/metrics`` (replaces the previous registry)."""
    for previous in _watched_limits:
        REGISTRY.unregister(previous)
    _watched_limits.clear()
    collector = RateLimitWaits(limits)
    REGISTRY.register(collector)
    _watched_limits.append(collector)


# -- fleet-wide check series --------------------------------------------------------------------


class FleetChecks(Collector):
    """``cwdrift_tenants_failing`` and ``cwdrift_last_successful_check_timestamp_seconds``.

    Absent until the node first read them from the store (within a minute of its start): an
    unknown count is not zero, and a missing timestamp must not read as "1970" to an alert.
    """

    def __init__(self) -> None:
        self._values: tuple[int, datetime | None] | None = None

    def publish(self, *, failing: int, last_success: datetime | None) -> None:
        self._values = (failing, last_success)

    def collect(self) -> Iterator[Metric]:
        values = self._values
        if values is None:
            return
        failing, last_success = values
        yield GaugeMetricFamily(
            "cwdrift_tenants_failing",
            "Configured tenants whose newest recorded check failed (could not read the tenant), "
            "fleet-wide, as of the last refresh.",
            value=failing,
        )
        yield GaugeMetricFamily(
            "cwdrift_last_successful_check_timestamp_seconds",
            "Unix time when the newest successful tenant check (compliant or drift) finished, "
            "fleet-wide; 0 when none has succeeded yet.",
            value=last_success.timestamp() if last_success is not None else 0.0,
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())  # absent until published: nothing to describe up front


FLEET_CHECKS = FleetChecks()
REGISTRY.register(FLEET_CHECKS)


# -- per-tenant series (opt-in) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantGauge:
    """One tenant's values for the per-tenant series."""

    tenant: str
    last_success: datetime | None
    open_findings: Mapping[str, int]  # severity -> count, every severity present (zeros too)


class TenantGauges(Collector):
    """``cwdrift_tenant_*``: published whole by one node (the leader), cleared on the others.

    A collector rather than labelled Gauges: a refresh replaces the whole set at once, so a
    tenant removed from the config (or a node that stopped leading) leaves no stale series.
    """

    def __init__(self) -> None:
        self._rows: tuple[TenantGauge, ...] = ()

    def publish(self, rows: Sequence[TenantGauge]) -> None:
        self._rows = tuple(rows)

    def clear(self) -> None:
        self._rows = ()

    def collect(self) -> Iterator[Metric]:
        rows = self._rows  # one consistent set even while a refresh replaces it
        last = GaugeMetricFamily(
            "cwdrift_tenant_last_successful_check_timestamp_seconds",
            "Unix time when the tenant's newest successful check finished (0: none yet).",
            labels=["tenant"],
        )
        findings = GaugeMetricFamily(
            "cwdrift_tenant_open_findings",
            "The tenant's failing findings by severity.",
            labels=["tenant", "severity"],
        )
        for row in rows:
            when = row.last_success.timestamp() if row.last_success is not None else 0.0
            last.add_metric([row.tenant], when)
            for severity, count in sorted(row.open_findings.items()):
                findings.add_metric([row.tenant, severity], count)
        yield last
        yield findings

    def describe(self) -> Iterator[Metric]:
        return iter(())  # dynamic: nothing to check for name clashes up front


TENANT_GAUGES = TenantGauges()
REGISTRY.register(TENANT_GAUGES)


# -- is this process watching? ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    """A tenant's latest check attempt in this process. ``failure`` None: it succeeded."""

    at: datetime
    failure: str | None = None  # the error's kind, e.g. "auth", or "internal" for a crash
    detail: str = ""  # one line for people: the error's message (never a secret)


@dataclass(frozen=True)
class WatchVerdict:
    """``/readyz``'s judgement of this process's checks; ``reason`` says why it is not watching."""

    watching: bool
    reason: str | None
    attempted: int  # tenants with an attempt in this process
    failing: int  # of those, tenants whose latest attempt failed
    last_success: datetime | None
    failures: Mapping[str, int] = field(default_factory=dict)  # failure kind -> tenants

    def as_dict(self) -> dict[str, Any]:
        return {
            "watching": self.watching,
            "reason": self.reason,
            "tenants_attempted": self.attempted,
            "tenants_failing": self.failing,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "failures": dict(self.failures),
        }


class CheckWatch:
    """What this process's checks did, for ``/readyz``: a node whose every check fails (keys
    revoked everywhere, no route to ConnectWise, a crash in every check) is alive but not
    watching, and must say so instead of answering "ok".

    Fed by the node after every check (``record``); judged by ``verdict`` with the time and the
    window passed in, so tests drive it with an injected clock. Thread-safe.
    """

    def __init__(self, started_at: datetime) -> None:
        self.started_at = started_at
        self._latest: dict[str, Attempt] = {}
        self._last_success: datetime | None = None
        self._lock = threading.Lock()

    def record(
        self, tenant: str, at: datetime, *, failure: str | None = None, detail: str = ""
    ) -> None:
        with self._lock:
            self._latest[tenant] = Attempt(at=at, failure=failure, detail=detail)
            if failure is None and (self._last_success is None or at > self._last_success):
                self._last_success = at

    def verdict(
        self, now: datetime, window: timedelta, tenants: Collection[str] | None = None
    ) -> WatchVerdict:
        """Not watching when no check has succeeded for ``window`` (counted from the start, or
        the last success) although checks failed meanwhile. ``tenants``: those still configured."""
        with self._lock:
            latest = dict(self._latest)
            last_success = self._last_success
        if tenants is not None:
            wanted = set(tenants)
            latest = {t: a for t, a in latest.items() if t in wanted}
        failed = {t: a for t, a in latest.items() if a.failure is not None}
        kinds = Tally(a.failure for a in failed.values() if a.failure is not None)
        since = max(self.started_at, last_success) if last_success else self.started_at
        tried_since = any(a.at >= since for a in failed.values())
        stale = now - since >= window
        verdict = WatchVerdict(
            watching=True,
            reason=None,
            attempted=len(latest),
            failing=len(failed),
            last_success=last_success,
            failures=dict(sorted(kinds.items())),
        )
        if not (stale and tried_since):
            return verdict
        what = "since this process started" if last_success is None else "since the last one"
        return WatchVerdict(
            watching=False,
            reason=(
                f"no tenant check has succeeded for {_span(now - since)} ({what}; the limit is "
                f"{_span(window)}): {len(failed)} of {len(latest)} tenants failing: "
                + "; ".join(
                    _failure_line(kind, count, failed) for kind, count in kinds.most_common()
                )
            ),
            attempted=verdict.attempted,
            failing=verdict.failing,
            last_success=last_success,
            failures=verdict.failures,
        )


def _failure_line(kind: str, count: int, failed: Mapping[str, Attempt]) -> str:
    """``auth x3 (e.g. acme: ...)``: the kind, how many, and one example for a person to act on."""
    example = min(t for t, a in failed.items() if a.failure == kind)
    detail = failed[example].detail
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return f"{kind} x{count} (e.g. {example}: {detail})" if detail else f"{kind} x{count}"


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds >= 7200:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 120:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# -- structured logs --------------------------------------------------------------------------

_NO_CONTEXT: Mapping[str, str] = MappingProxyType({})
_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "cwdrift_log_context", default=_NO_CONTEXT
)
# Fields callers may pass as ``extra=`` or bind with ``log_context``; everything else in extra
# is ignored by the JSON formatter, so an accidental ``extra={"config": ...}`` never leaks.
CONTEXT_FIELDS = ("tenant", "run_id", "node", "job_id")


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Bind ids (tenant, run_id, node, job_id) to every log line in this task or thread."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields {sorted(unknown)}; use {CONTEXT_FIELDS}")
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (explicit ``extra=`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the context ids, and exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, the context ids appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if getattr(record, k, None)]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure_logging(
    level: int | str = logging.INFO,
    *,
    json_lines: bool | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Route every log record to ``stream`` (stderr): JSON unless it is a terminal.

    Replaces handlers on the root logger, so calling it twice does not double the lines.
    Returns the handler (tests read what it wrote).
    """
    target = stream if stream is not None else sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(target, "isatty") and target.isatty())
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job run at INFO: thousands of lines an hour with many tenants.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    # httpx logs every request at INFO: seven lines per tenant check; ours log at DEBUG.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
