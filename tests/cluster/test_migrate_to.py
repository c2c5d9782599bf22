"""``migrate-to`` copies every table's rows SQLite -> PostgreSQL exactly, or nothing at all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from cluster_fleet import fleet_config
from sqlalchemy import func, select

from monitor.errors import StoreError
from monitor.jobs.check import check_many
from monitor.jobs.runtime import Runtime
from monitor.simulator.scenario import fleet_company_id, generate_fleet
from monitor.simulator.server import running_simulator
from monitor.store.cluster_tables import ClusterNodeRow
from monitor.store.database import Database, alembic_config
from monitor.store.migrate_to import cwdrift_tables, migrate_to

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every cwdrift table, in primary-key order, as the store's types read them."""
    with db.engine.connect() as connection:
        return {
            table.name: [
                dict(row)
                for row in connection.execute(
                    select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in cwdrift_tables()
        }


@pytest.fixture
def sqlite_history(tmp_path: Path) -> Database:
    """A SQLite store with real history: checks, a change, findings, queued alerts, a node row."""
    url = f"sqlite:///{tmp_path}/cwdrift.db"
    with running_simulator(generate_fleet(4, seed=3)) as sim:
        notify = {
            "slack": [{"name": "ops", "webhook_url": "http://127.0.0.1:9/services/T/B/x"}],
            "routes": [{"channels": ["ops"]}],
        }
        loaded = fleet_config(4, sim.url, url, notify=notify)
        rt = Runtime.open(loaded)

        async def two_rounds() -> None:
            await check_many(rt, loaded.config.tenants)
            sim.state.set_accounting(
                fleet_company_id(0), "transferExpensesAsBillFlag", True, by="jsmith"
            )
            await check_many(rt, loaded.config.tenants)
            await rt.aclose()

        import asyncio

        asyncio.run(two_rounds())
    with rt.db.session() as session:
        session.add(
            ClusterNodeRow(
                node_id="h:1:abc",
                hostname="h",
                pid=1,
                worker_id=7,
                is_leader=True,
                started_at=NOW,
                last_seen_at=NOW,
            )
        )
    rt.db.dispose()
    return Database(url)


def test_every_table_is_copied_exactly(sqlite_history: Database, fresh_postgres: str) -> None:
    before = dump(sqlite_history)
    # The fixture really produced history in the tables that matter.
    for name in ("tenant", "check_run", "snapshot", "setting_change", "finding_state", "outbox"):
        assert before[name], f"the fixture wrote no {name} rows"

    report = migrate_to(sqlite_history, fresh_postgres)

    target = Database(fresh_postgres)
    try:
        after = dump(target)
        assert after == before
        assert report.rows == {
            name: len(rows) for name, rows in before.items() if name in report.rows
        }
        assert set(report.rows) == set(before)
        # New rows get fresh ids after the copied ones (the sequences were moved on).
        with target.session() as session:
            from monitor.store.tables import CheckRunTable

            largest = session.execute(select(func.max(CheckRunTable.id))).scalar()
            run = CheckRunTable(**{**before["check_run"][0], "id": None})
            session.add(run)
            session.flush()
            assert run.id == largest + 1
    finally:
        target.dispose()


def test_a_target_with_rows_is_refused_and_left_untouched(
    sqlite_history: Database, fresh_postgres: str
) -> None:
    migrate_to(sqlite_history, fresh_postgres)
    target = Database(fresh_postgres)
    first = dump(target)
    with pytest.raises(StoreError, match="already holds rows") as caught:
        migrate_to(sqlite_history, fresh_postgres)
    assert "new, empty database" in caught.value.fix
    assert dump(target) == first
    target.dispose()


def test_the_cli_migrates_then_copies(tmp_path: Path, fresh_postgres: str) -> None:
    from typer.testing import CliRunner

    from monitor.cli.app import app

    config = tmp_path / "cwdrift.yaml"
    config.write_text(f"database: sqlite:///{tmp_path}/cwdrift.db\n", encoding="utf-8")
    runner = CliRunner()
    migrated = runner.invoke(app, ["--config", str(config), "db", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"schema at {head}" in migrated.output
    copied = runner.invoke(app, ["--config", str(config), "db", "migrate-to", fresh_postgres])
    assert copied.exit_code == 0, copied.output
    assert "copied 0 rows" in copied.output
    target = Database(fresh_postgres)
    assert target.current_revision() == head
    target.dispose()
