"""Database: migrations, sessions, errors that hide passwords, UTC round trips."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect
from sqlmodel import SQLModel, select

from monitor.errors import StoreError
from monitor.store.database import Database, alembic_config
from monitor.store.tables import TenantTable

STORE_TABLES = {
    "tenant",
    "check_run",
    "snapshot",
    "setting_change",
    "finding_state",
    "finding_transition",
}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_first_revision_is_named_for_the_other_modules_to_build_on() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    base = script.get_revision("0001_initial")
    assert base is not None
    assert base.down_revision is None


def test_migrate_takes_an_empty_database_to_head(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.current_revision() is None
        db.migrate()
        assert db.current_revision() == head_revision()
        assert set(inspect(db.engine).get_table_names()) >= STORE_TABLES
    finally:
        db.dispose()


def test_migrate_again_is_a_no_op_that_keeps_data(db: Database) -> None:
    with db.session() as session:
        session.add(TenantTable(id="acme", name="Acme", first_seen_at=datetime.now(UTC)))
    db.migrate()
    assert db.current_revision() == head_revision()
    with db.session() as session:
        assert session.exec(select(TenantTable.id)).all() == ["acme"]


def test_concurrent_migrators_do_not_collide(database_url: str) -> None:
    """Two nodes starting together: one migrates, the other waits and finds nothing to do."""
    databases = [Database(database_url), Database(database_url)]
    start = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def run(db: Database) -> None:
        start.wait()
        try:
            db.migrate()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert databases[0].current_revision() == head_revision()
    finally:
        for db in databases:
            db.dispose()


def test_session_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(TenantTable(id="acme", name="Acme", first_seen_at=datetime.now(UTC)))
        session.flush()
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.exec(select(TenantTable)).all() == []


def test_database_errors_become_store_errors(db: Database) -> None:
    with pytest.raises(StoreError) as caught, db.session() as session:
        session.add(TenantTable(id="acme", name="Acme", first_seen_at=datetime.now(UTC)))
        session.add(TenantTable(id="acme", name="Acme again", first_seen_at=datetime.now(UTC)))
        session.flush()
    assert db.display_url in caught.value.message
    assert caught.value.fix


def test_unreachable_server_names_the_url_without_the_password() -> None:
    db = Database("postgresql+psycopg://cwdrift:s3cret-pw@127.0.0.1:1/cwdrift")
    try:
        assert db.ping() is False
        with pytest.raises(StoreError) as caught:
            db.migrate()
    finally:
        db.dispose()
    rendered = f"{caught.value} {caught.value!r} {db!r} {caught.value.as_dict()}"
    assert "s3cret-pw" not in rendered
    assert "127.0.0.1:1/cwdrift" in str(caught.value)
    assert caught.value.kind == "store"


def test_invalid_url_is_rejected_without_echoing_it() -> None:
    with pytest.raises(StoreError) as caught:
        Database("not a url with s3cret-pw")
    assert "s3cret-pw" not in str(caught.value)


def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "cwdrift.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.migrate()
        assert db.ping() is True
        assert path.exists()
    finally:
        db.dispose()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/cwdrift.db")
    try:
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "written",
    [
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 14, 30, tzinfo=timezone(timedelta(hours=5))),
        datetime(2026, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=-8))),
    ],
    ids=["utc", "plus5", "minus8"],
)
def test_timestamps_come_back_as_the_same_instant_in_utc(db: Database, written: datetime) -> None:
    with db.session() as session:
        session.add(TenantTable(id="acme", name="Acme", first_seen_at=written))
    with db.session() as session:
        read = session.exec(select(TenantTable.first_seen_at)).one()
    assert read == written
    assert read.utcoffset() == timedelta(0)
    assert read == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_migrated_schema_matches_the_table_models(db: Database) -> None:
    """tables.py and 0001_initial must describe the same schema (autogenerate finds nothing)."""
    ours = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        if table.name in STORE_TABLES:
            table.to_metadata(ours)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name in STORE_TABLES,
            },
        )
        assert compare_metadata(context, ours) == []
