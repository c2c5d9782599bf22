"""What an operator sees of a running cwdrift: ``/healthz``, ``/metrics`` and structured logs.

    start_health_server(host, port, probe)  a tiny HTTP server in a daemon thread:
                                            /healthz  200 when every probe check passes, else 503
                                            /metrics  Prometheus text format from ``REGISTRY``
    configure_logging()                     JSON lines when stderr is not a terminal, with the
                                            tenant, run and node ids bound by ``log_context``
    record_*                                the metric updates callers make

The server runs in its own thread on purpose: a liveness probe must still answer (with 503)
when the event loop is busy, and the probes it runs (a database ping) are synchronous anyway.
Metrics live in a registry of our own, so an embedding process's default registry and ours
never collide (tests import this module many times over).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import IO, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, Metric
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


# -- health server ----------------------------------------------------------------------------

Probe = Callable[[], Mapping[str, bool]]


def daemon_probe(scheduler_running: Callable[[], bool], database_ping: Callable[[], bool]) -> Probe:
    """The daemon's liveness: its scheduler runs and its database answers."""

    def probe() -> dict[str, bool]:
        return {"scheduler": scheduler_running(), "database": database_ping()}

    return probe


@dataclass
class HealthServer:
    """A running health server; ``close()`` stops it and frees the port."""

    host: str
    port: int
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def start_health_server(
    host: str, port: int, probe: Probe, *, registry: CollectorRegistry = REGISTRY
) -> HealthServer:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` (0 = a free port) in a daemon thread.

    A probe that raises counts as failing (its exception type is reported, never its text:
    driver messages may carry connection strings).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._health()
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                body = b"not found: try /healthz or /metrics\n"
                self._send(404, "text/plain; charset=utf-8", body)

        def _health(self) -> None:
            try:
                checks: dict[str, Any] = dict(probe())
            except Exception as exc:  # a broken probe is an unhealthy daemon, not a dead server
                checks = {"probe": False, "error": type(exc).__name__}
            healthy = all(value is True for key, value in checks.items() if key != "error")
            body = {"status": "ok" if healthy else "failing", "checks": checks}
            self._send(
                200 if healthy else 503,
                "application/json",
                json.dumps(body, sort_keys=True).encode() + b"\n",
            )

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # scrapes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    bound_port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, name=f"health-{host}:{bound_port}", daemon=True
    )
    thread.start()
    logging.getLogger("cwdrift.observability").info(
        "health server listening on http://%s:%d (/healthz, /metrics)", host, bound_port
    )
    return HealthServer(host=host, port=bound_port, _server=server, _thread=thread)


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
