"""Bytes stored per unchanged check and per change, on SQLite and on PostgreSQL.

100 fleet tenants from a simulator served in a thread, checked one at a time: a first round
(snapshots stored once), then ROUNDS unchanged rounds, then one round in which every tenant
has one setting changed. Sizes are the used pages of every cwdrift table with its indexes
(SQLite: after a WAL checkpoint, (page_count - freelist_count) x page_size; PostgreSQL:
pg_total_relation_size, with a plain VACUUM after each round as autovacuum would do, so old
row versions of updated rows are reused), so the figures include index growth.
Target: <= 200 bytes per unchanged check.
"""

from __future__ import annotations

import asyncio
import tempfile

from sqlalchemy import text

from bench.fleet import fleet_config, fresh_postgres, machine
from monitor.connectwise.limits import HostLimits
from monitor.jobs.check import check_many
from monitor.jobs.runtime import Runtime
from monitor.simulator.scenario import fleet_company_id, generate_fleet
from monitor.simulator.server import RunningSimulator, running_simulator
from monitor.store.database import Database
from monitor.store.migrate_to import cwdrift_tables

TENANTS = 100
ROUNDS = 5
TARGET = 200


def used_bytes(db: Database) -> int:
    names = [t.name for t in cwdrift_tables()]
    with db.engine.connect() as connection:
        if db.is_sqlite:
            # On the raw connection: SQLAlchemy would open a transaction (BEGIN IMMEDIATE here),
            # and a WAL checkpoint cannot run inside one.
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                pages, free, size = (
                    cursor.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("page_count", "freelist_count", "page_size")
                )
            finally:
                cursor.close()
            return int((pages - free) * size)
        total = 0
        for name in names:
            total += connection.execute(
                text("SELECT COALESCE(pg_total_relation_size(to_regclass(:n)), 0)"), {"n": name}
            ).scalar_one()
        return int(total)


def vacuum(db: Database) -> None:
    """PostgreSQL: what autovacuum does over time, so updated rows' old versions are reused."""
    if db.is_sqlite:
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")


async def measure(label: str, url: str) -> None:
    with running_simulator(generate_fleet(TENANTS, seed=7)) as sim:
        await measure_against(label, url, sim)


async def measure_against(label: str, url: str, sim: RunningSimulator) -> None:
    state = sim.state
    loaded = fleet_config(TENANTS, sim.url, url)
    rt = Runtime.open(loaded)
    rt.limits = HostLimits(concurrency=64, per_minute=10_000_000)
    tenants = list(loaded.config.tenants)
    await check_many(rt, tenants, in_flight=1)
    vacuum(rt.db)
    start = used_bytes(rt.db)
    for _ in range(ROUNDS):
        await check_many(rt, tenants, in_flight=1)
        vacuum(rt.db)
    unchanged = (used_bytes(rt.db) - start) / (ROUNDS * TENANTS)
    before_change = used_bytes(rt.db)
    for index in range(TENANTS):
        state.set_accounting(fleet_company_id(index), "suppressMemoFlag", True, by="bench")
    results = await check_many(rt, tenants, in_flight=1)
    changes = sum(len(r.changes) for r in results)
    per_change = (used_bytes(rt.db) - before_change) / max(changes, 1)
    verdict = "meets" if unchanged <= TARGET else "MISSES"
    print(
        f"{label:10s}: {unchanged:7.1f} bytes per unchanged check (target <= {TARGET}: {verdict}; "
        f"ratio {unchanged / TARGET:.2f}); {per_change:8.1f} bytes per change "
        f"({changes} changes, check rows included)"
    )
    await rt.aclose()
    rt.db.dispose()


async def main() -> None:
    print(f"# storage_bench: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        await measure("SQLite", f"sqlite:///{tmp}/storage.db")
    with fresh_postgres("storage") as url:
        await measure("PostgreSQL", url)


if __name__ == "__main__":
    asyncio.run(main())
