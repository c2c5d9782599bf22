"""History benchmark: a fleet-year store, then "when did X change" and "what was in force at T".

    python -m bench.history_bench                          # 1,000 tenants x 365 days, both DBs
    python -m bench.history_bench --tenants 50 --days 30   # a quick run

It builds the store the way a year of hourly checks would leave it, but by bulk inserts straight
into the documented tables (running 8.7M real checks would take days): one ``check_run`` row per
tenant-hour, a stored snapshot only when the configuration changed (a few changes per tenant per
month), a ``setting_change`` and a ``finding_transition`` per change, and a small rate of failed
reads. SQLite is loaded with ``executemany`` in one transaction, PostgreSQL with ``COPY``.

Then it times the store's real query functions (``history.changes`` with a setting filter, and
``history.snapshot_at``) against a 50 ms target, and compares the database size per tenant-year
with what a naive copy-per-check design would need (snapshot JSON bytes x checks per year).

The snapshot is a real one: the demo tenant is checked once through the simulator. Encoding a
snapshot costs ~3 ms, so by default snapshot bodies come from a pool of real encoded variants
(same size, same decode cost); ``--distinct-bodies`` encodes every stored snapshot instead.
PostgreSQL gets a fresh database, created and dropped by the run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.core.snapshot import Snapshot
from monitor.store.codec import encode_snapshot
from monitor.store.database import Database
from monitor.store.history import changes, snapshot_at

TARGET_MS = 50.0
EPOCH = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday; the year of history starts here
ERROR_RATE = 0.003  # failed reads: a few a month per tenant
QUERY_SETTING = "transferExpensesAsBill"  # what "when did X change" asks about
USERS = ("admin1", "jsmith", "mwilson", "ana", "ops-bot")
RUN_INDEX = "ix_check_run_tenant_started"  # from migration 0001_initial
RUN_INDEX_DDL = f"CREATE INDEX {RUN_INDEX} ON check_run (tenant_id, started_at)"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# -- the synthetic fleet (pure data) ------------------------------------------------------------


@dataclass
class TenantPlan:
    tenant_id: str
    change_hours: list[int]  # hours (from EPOCH) at which the configuration changed
    change_keys: list[str]
    error_hours: set[int]
    snapshot_ids: list[int] = field(default_factory=list)  # first snapshot, then one per change


def plan_fleet(
    tenants: int, hours: int, per_month: float, keys: Sequence[str], seed: int
) -> list[TenantPlan]:
    rng = random.Random(seed)
    expected = per_month * hours / (24 * 30)
    plans = []
    for index in range(tenants):
        count = min(hours - 1, max(0, round(rng.gauss(expected, expected**0.5 or 1))))
        change_hours = sorted(rng.sample(range(1, hours), count)) if count else []
        errors = {h for h in range(hours) if rng.random() < ERROR_RATE} - set(change_hours) - {0}
        plans.append(
            TenantPlan(
                tenant_id=f"t{index:05d}",
                change_hours=change_hours,
                change_keys=[rng.choice(keys) for _ in change_hours],
                error_hours=errors,
            )
        )
    return plans


def real_snapshot(workdir: Path) -> Snapshot:
    """One real check of the demo's acme tenant through the simulator: a realistic snapshot."""
    from monitor.data import bundled_file
    from monitor.jobs.check import check_tenant
    from monitor.jobs.runtime import Runtime
    from monitor.settings import load_config
    from monitor.simulator.scenario import load_scenario
    from monitor.simulator.server import running_simulator
    from monitor.store.runs import latest_snapshot

    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    with running_simulator(scenario) as sim:
        config = workdir / "bench-snapshot.yaml"
        config.write_text(
            f"database: sqlite:///{workdir}/bench-snapshot.db\n"
            "tenants:\n"
            "  - {id: acme, name: Acme, site: '" + sim.url + "', company_id: acme,\n"
            "     public_key: acmepub00000001, private_key: fake-acme-private-key-0001,\n"
            "     client_id: 00000000-0000-4000-8000-000000000001,\n"
            "     integration_member: GozyntaAPI}\n"
        )
        rt = Runtime.open(load_config(config))

        async def check_once() -> None:
            await check_tenant(rt, rt.config.tenants[0])
            await rt.aclose()

        asyncio.run(check_once())
        with rt.db.session() as session:
            snapshot = latest_snapshot(session, "acme")
        rt.db.dispose()
    assert snapshot is not None, "the demo tenant could not be read"
    return snapshot


def changeable_keys(snapshot: Snapshot) -> list[str]:
    """Settings people really flip: accounting flags and permission levels."""
    keys = [
        k
        for k, s in snapshot.settings.items()
        if (k.startswith("accounting.") and isinstance(s.value, bool))
        or (k.startswith("permission.") and s.value in ("None", "My", "All"))
    ]
    flag = next(k for k in keys if QUERY_SETTING.lower() in k.lower())
    return keys + [flag] * 3  # the flag the query asks about changes a bit more often


def _number(tenant_id: str) -> int:
    """A stable per-tenant number (``hash`` is salted per process)."""
    return int(tenant_id[1:])


def flipped(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    return {"All": "None", "None": "My", "My": "All"}.get(value, value)


class Bodies:
    """Encoded snapshot bodies: a pool of real variants, or every one distinct."""

    def __init__(
        self, template: Snapshot, keys: Sequence[str], *, pool: int, distinct: bool
    ) -> None:
        self.template = template
        self.keys = keys
        self.distinct = distinct
        rng = random.Random(7)
        self.pool = [self._encode(template, rng.sample(list(keys), 3)) for _ in range(pool)]
        self.naive_bytes = len(json.dumps(template.to_dict()).encode())

    def _encode(self, snapshot: Snapshot, flips: Sequence[str]) -> bytes:
        settings = dict(snapshot.settings)
        for key in flips:
            settings[key] = replace(settings[key], value=flipped(settings[key].value))
        return encode_snapshot(replace(snapshot, settings=settings))

    def body(self, tenant_id: str, index: int, flips: Sequence[str]) -> bytes:
        if self.distinct:
            return self._encode(replace(self.template, tenant_id=tenant_id), flips)
        return self.pool[(_number(tenant_id) + index) % len(self.pool)]


# -- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Every hour of the period pre-formatted for both databases (8,760 strings, reused)."""

    hours: int

    def __post_init__(self) -> None:
        stamps = [EPOCH + timedelta(hours=h) for h in range(self.hours)]
        done = [s + timedelta(seconds=20) for s in stamps]
        object.__setattr__(self, "at", stamps)
        object.__setattr__(self, "lite", [s.strftime("%Y-%m-%d %H:%M:%S.000000") for s in stamps])
        object.__setattr__(
            self, "lite_done", [s.strftime("%Y-%m-%d %H:%M:%S.000000") for s in done]
        )
        object.__setattr__(self, "pg", [s.strftime("%Y-%m-%d %H:%M:%S+00") for s in stamps])
        object.__setattr__(self, "pg_done", [s.strftime("%Y-%m-%d %H:%M:%S+00") for s in done])


def assign_snapshot_ids(plans: list[TenantPlan]) -> None:
    next_id = 1
    for plan in plans:
        plan.snapshot_ids = list(range(next_id, next_id + 1 + len(plan.change_hours)))
        next_id += 1 + len(plan.change_hours)


def run_rows(
    plan: TenantPlan, index: int, hours: int
) -> Iterator[tuple[int, int, str, int | None]]:
    """(run id, hour, outcome, snapshot id) for every hourly check of one tenant."""
    boundaries = plan.change_hours
    current = 0
    failing = 0
    base = index * hours
    for hour in range(hours):
        while current < len(boundaries) and boundaries[current] <= hour:
            current += 1
            failing ^= 1  # each change flips one rule: drift, then fixed, and so on
        if hour in plan.error_hours:
            yield base + hour + 1, hour, "error", None
        else:
            yield (
                base + hour + 1,
                hour,
                "drift" if failing else "compliant",
                plan.snapshot_ids[current],
            )


def change_rows(
    plan: TenantPlan, index: int, hours: int, template: Snapshot
) -> Iterator[dict[str, Any]]:
    state = {k: template.settings[k].value for k in set(plan.change_keys)}
    for number, (hour, key) in enumerate(zip(plan.change_hours, plan.change_keys, strict=True)):
        old = state[key]
        state[key] = flipped(old)
        yield {
            "run_id": index * hours + hour + 1,
            "hour": hour,
            "key": key,
            "label": template.settings[key].label,
            "old": json.dumps(old),
            "new": json.dumps(state[key]),
            "by": USERS[(_number(plan.tenant_id) + number) % len(USERS)],
            "to_status": "fail" if number % 2 == 0 else "pass",
            "rule": f"rule-for-{key.rsplit('.', 1)[-1].lower()}",
        }


# -- loading ------------------------------------------------------------------------------------


def load_sqlite(
    db: Database, plans: list[TenantPlan], clock: Clock, bodies: Bodies, log: Any
) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        # Bulk-load practice: no per-row foreign-key lookups, and the big index built once at the
        # end instead of maintained row by row (the rows are generated consistent).
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute(f"DROP INDEX {RUN_INDEX}")
        cursor.execute("BEGIN")
        cursor.executemany(
            "INSERT INTO tenant (id, name, first_seen_at) VALUES (?, ?, ?)",
            [(p.tenant_id, f"Tenant {p.tenant_id}", clock.lite[0]) for p in plans],
        )
        for index, plan in enumerate(plans):
            hours = [0, *plan.change_hours]
            cursor.executemany(
                "INSERT INTO snapshot (id, tenant_id, observed_at, content_hash, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (sid, plan.tenant_id, clock.lite[h], f"{plan.tenant_id}-{n}",
                     bodies.body(plan.tenant_id, n, plan.change_keys[max(0, n - 1):n]))
                    for n, (sid, h) in enumerate(zip(plan.snapshot_ids, hours, strict=True))
                ],
            )  # fmt: skip
            cursor.executemany(
                "INSERT INTO check_run (id, tenant_id, started_at, finished_at, outcome, "
                "error_kind, error_message, snapshot_id, credential_mode) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'integration')",
                (
                    (rid, plan.tenant_id, clock.lite[h], clock.lite_done[h], outcome,
                     "connection" if sid is None else None,
                     "cannot reach the site (fix: check the network)" if sid is None else None,
                     sid)
                    for rid, h, outcome, sid in run_rows(plan, index, clock.hours)
                ),
            )  # fmt: skip
            rows = list(change_rows(plan, index, clock.hours, bodies.template))
            cursor.executemany(
                "INSERT INTO setting_change (tenant_id, run_id, observed_at, key, label, old, new, "
                "changed_by, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (plan.tenant_id, r["run_id"], clock.lite[r["hour"]], r["key"], r["label"],
                     r["old"], r["new"], r["by"], clock.pg[max(0, r["hour"] - 1)])
                    for r in rows
                ],
            )  # fmt: skip
            cursor.executemany(
                "INSERT INTO finding_transition (tenant_id, rule_id, run_id, at, from_status, "
                "to_status, severity, label, expected, actual) "
                "VALUES (?, ?, ?, ?, ?, ?, 'high', ?, 'on', 'off')",
                [
                    (plan.tenant_id, r["rule"], r["run_id"], clock.lite[r["hour"]],
                     "pass" if r["to_status"] == "fail" else "fail", r["to_status"], r["label"])
                    for r in rows
                ],
            )  # fmt: skip
            if index % 100 == 99:
                log(f"  sqlite: {index + 1} tenants loaded")
        cursor.execute(RUN_INDEX_DDL)
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _pg_text(value: Any) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load_postgres(
    db: Database, plans: list[TenantPlan], clock: Clock, bodies: Bodies, log: Any
) -> None:
    raw = db.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cursor:
            # Bulk-load practice (superuser): skip the per-row foreign-key triggers and build the
            # big index once after COPY; the generated rows are consistent by construction.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(f"DROP INDEX {RUN_INDEX}")
            with cursor.copy("COPY tenant (id, name, first_seen_at) FROM STDIN") as copy:
                for plan in plans:
                    copy.write_row((plan.tenant_id, f"Tenant {plan.tenant_id}", clock.at[0]))
            with cursor.copy(
                "COPY snapshot (id, tenant_id, observed_at, content_hash, body) FROM STDIN"
            ) as copy:
                for plan in plans:
                    hours = [0, *plan.change_hours]
                    for n, (sid, h) in enumerate(zip(plan.snapshot_ids, hours, strict=True)):
                        flips = plan.change_keys[max(0, n - 1) : n]
                        body = bodies.body(plan.tenant_id, n, flips)
                        copy.write_row(
                            (sid, plan.tenant_id, clock.at[h], f"{plan.tenant_id}-{n}", body)
                        )
            with cursor.copy(
                "COPY check_run (id, tenant_id, started_at, finished_at, outcome, error_kind, "
                "error_message, snapshot_id, credential_mode) FROM STDIN"
            ) as copy:
                for index, plan in enumerate(plans):
                    buffer = io.StringIO()
                    t = plan.tenant_id
                    for rid, h, outcome, sid in run_rows(plan, index, clock.hours):
                        if sid is None:
                            buffer.write(
                                f"{rid}\t{t}\t{clock.pg[h]}\t{clock.pg_done[h]}\terror\tconnection\t"
                                "cannot reach the site (fix: check the network)\t\\N\tintegration\n"
                            )
                        else:
                            buffer.write(
                                f"{rid}\t{t}\t{clock.pg[h]}\t{clock.pg_done[h]}\t{outcome}\t\\N\t"
                                f"\\N\t{sid}\tintegration\n"
                            )
                    copy.write(buffer.getvalue())
                    if index % 100 == 99:
                        log(f"  postgresql: {index + 1} tenants loaded")
            with cursor.copy(
                "COPY setting_change (tenant_id, run_id, observed_at, key, label, old, new, "
                "changed_by, changed_at) FROM STDIN"
            ) as copy:
                for index, plan in enumerate(plans):
                    for r in change_rows(plan, index, clock.hours, bodies.template):
                        copy.write_row(
                            (plan.tenant_id, r["run_id"], clock.at[r["hour"]], r["key"], r["label"],
                             r["old"], r["new"], r["by"], clock.pg[max(0, r["hour"] - 1)])
                        )  # fmt: skip
            with cursor.copy(
                "COPY finding_transition (tenant_id, rule_id, run_id, at, from_status, to_status, "
                "severity, label, expected, actual) FROM STDIN"
            ) as copy:
                for index, plan in enumerate(plans):
                    for r in change_rows(plan, index, clock.hours, bodies.template):
                        copy.write_row(
                            (plan.tenant_id, r["rule"], r["run_id"], clock.at[r["hour"]],
                             "pass" if r["to_status"] == "fail" else "fail", r["to_status"],
                             "high", r["label"], "on", "off")
                        )  # fmt: skip
            cursor.execute(RUN_INDEX_DDL)
            cursor.execute("SET session_replication_role = DEFAULT")
            for table in ("snapshot", "check_run", "setting_change", "finding_transition"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("ANALYZE")
    finally:
        raw.close()


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    load_seconds: float
    changes_ms: list[float]
    snapshot_ms: list[float]
    size_bytes: int
    rows: dict[str, int]


def time_queries(
    db: Database, plans: list[TenantPlan], clock: Clock, samples: int
) -> tuple[list[float], list[float]]:
    rng = random.Random(11)
    changes_ms: list[float] = []
    snapshot_ms: list[float] = []
    with db.session() as session:
        changes(session, plans[0].tenant_id, setting=QUERY_SETTING)  # warm the connection
        for _ in range(samples):
            plan = rng.choice(plans)
            started = time.perf_counter()
            changes(session, plan.tenant_id, setting=QUERY_SETTING)
            changes_ms.append((time.perf_counter() - started) * 1000)
            at = clock.at[rng.randrange(clock.hours)]
            started = time.perf_counter()
            found = snapshot_at(session, plan.tenant_id, at)
            snapshot_ms.append((time.perf_counter() - started) * 1000)
            assert found is not None
    return changes_ms, snapshot_ms


def row_counts(db: Database) -> dict[str, int]:
    tables = ("check_run", "snapshot", "setting_change", "finding_transition")
    with db.engine.connect() as connection:
        return {
            t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in tables
        }


def postgres_size(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['tenant', "
                    "'check_run', 'snapshot', 'setting_change', 'finding_transition']::regclass[])"
                    " AS c"
                )
            ).scalar_one()
        )


def run_backend(
    backend: str,
    url: str,
    plans: list[TenantPlan],
    clock: Clock,
    bodies: Bodies,
    samples: int,
    log: Any,
) -> Result:
    db = Database(url)
    try:
        db.migrate()
        log(f"{backend}: loading {len(plans)} tenants x {clock.hours} hourly checks")
        started = time.perf_counter()
        if backend == "sqlite":
            load_sqlite(db, plans, clock, bodies, log)
        else:
            load_postgres(db, plans, clock, bodies, log)
        load_seconds = time.perf_counter() - started
        changes_ms, snapshot_ms = time_queries(db, plans, clock, samples)
        if backend == "sqlite":
            size = Path(make_url(url).database or "").stat().st_size
        else:
            size = postgres_size(db)
        return Result(backend, load_seconds, changes_ms, snapshot_ms, size, row_counts(db))
    finally:
        db.dispose()


def fresh_postgres(base_url: str) -> tuple[str, Any]:
    """A new database on the server and a function that drops it."""
    base = make_url(base_url)
    name = f"cwdrift_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def report(result: Result, tenants: int, days: int, bodies: Bodies) -> None:
    def line(name: str, values: list[float]) -> str:
        p50 = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)
        return (
            f"  {name:<34} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  max {max(values):7.2f} ms  "
            f"p95/target {p95 / TARGET_MS:5.2f}  {'OK' if p95 < TARGET_MS else 'SLOW'}"
        )

    tenant_years = tenants * days / 365
    per_tenant_year = result.size_bytes / tenant_years
    checks_per_year = 24 * 365
    naive = bodies.naive_bytes * checks_per_year
    print(f"\n{result.backend}: loaded in {result.load_seconds:.1f} s; rows {result.rows}")
    print(line(f'changes(setting="{QUERY_SETTING}")', result.changes_ms))
    print(line("snapshot_at(tenant, random time)", result.snapshot_ms))
    print(
        f"  size per tenant-year: {per_tenant_year / 1e6:8.2f} MB   naive copy-per-check: "
        f"{naive / 1e6:8.1f} MB ({bodies.naive_bytes:,} B x {checks_per_year:,} checks)  "
        f"= {naive / per_tenant_year:,.0f}x smaller"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--changes-per-month", type=float, default=3.0)
    parser.add_argument("--samples", type=int, default=300, help="queries timed per kind")
    parser.add_argument(
        "--distinct-bodies", action="store_true", help="encode every snapshot (slow)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CWDRIFT_TEST_POSTGRES_URL", DEFAULT_PG),
        help="server to create the throwaway database on",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    begun = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cwdrift-bench-") as tmp:
        workdir = Path(tmp)
        template = real_snapshot(workdir)
        keys = changeable_keys(template)
        bodies = Bodies(template, keys, pool=64, distinct=args.distinct_bodies)
        hours = args.days * 24
        plans = plan_fleet(args.tenants, hours, args.changes_per_month, keys, args.seed)
        assign_snapshot_ids(plans)
        clock = Clock(hours)
        print(
            f"history benchmark: {args.tenants} tenants x {args.days} days of hourly checks "
            f"({args.tenants * hours:,} check rows), {args.changes_per_month:g} changes per "
            f"tenant-month; snapshot {len(template.settings)} settings, "
            f"{bodies.naive_bytes:,} B JSON, {len(bodies.pool[0]):,} B stored"
        )
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{workdir}/bench.db"
                result = run_backend("sqlite", url, plans, clock, bodies, args.samples, log)
            elif backend == "postgresql":
                try:
                    url, drop = fresh_postgres(args.postgres_url)
                except SQLAlchemyError as exc:  # no server: report it and measure the rest
                    print(f"\npostgresql: skipped ({type(exc).__name__}: cannot create a database)")
                    continue
                try:
                    result = run_backend("postgresql", url, plans, clock, bodies, args.samples, log)
                finally:
                    drop()
            else:
                parser.error(f"unknown backend {backend!r}")
            report(result, args.tenants, args.days, bodies)
    print(f"\ntotal {time.perf_counter() - begun:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
