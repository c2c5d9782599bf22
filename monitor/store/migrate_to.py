"""``cwdrift db migrate-to URL``: copy every row of every cwdrift table into another database.

The usual move is SQLite (the single-node default) to PostgreSQL (cluster mode). The target is
migrated to the same schema revision first and must be empty, then every table is copied in
foreign-key order inside ONE target transaction: a failure half-way leaves the target as empty
as it was, so the command can simply be run again. Integer ids are copied as they are (history
rows refer to each other by id), and PostgreSQL's id sequences are moved past them afterwards.

Rows go through the SQLModel table definitions, so each column's type (aware UTC datetimes,
binary snapshot bodies) converts between dialects exactly as the store itself reads and writes.
Stop the daemon first: rows written during the copy would be missed.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Integer, Table, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

import monitor.store
from monitor.errors import StoreError
from monitor.store.database import Database

log = logging.getLogger("cwdrift.store.migrate_to")

BATCH_ROWS = 1000
# Tables that belong to other tools: Alembic's revision marker (the target gets its own from
# migrate()) and Procrastinate's queue (jobs in flight are not history; the schema is created
# by the migration, the queue starts empty).
_FOREIGN_PREFIXES = ("alembic_", "procrastinate_")

Progress = Callable[[str, int], None]
# What to do when the target cannot be opened (a test follows this advice).
TARGET_FIX = (
    "check that the server is reachable, that the target database exists and is empty "
    "(e.g. createdb cwdrift_new) and that the URL given to `cwdrift db migrate-to` is right"
)


@dataclass
class CopyReport:
    """What was copied: rows per table, in copy order."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def cwdrift_tables() -> list[Table]:
    """Every cwdrift table, parents before children (import each module that defines tables)."""
    importlib.import_module("monitor.store.tables")
    for module in pkgutil.iter_modules(monitor.store.__path__):
        if module.name.endswith("_tables"):
            importlib.import_module(f"monitor.store.{module.name}")
    importlib.import_module("monitor.store.cluster_tables")
    return list(SQLModel.metadata.sorted_tables)


def migrate_to(
    source: Database,
    target_url: str,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy all of ``source`` into the empty database at ``target_url``; verify the row counts."""
    target = Database(target_url, fix=TARGET_FIX)
    try:
        if source.url == target.url:
            raise StoreError(
                "the target is the source database",
                fix="give the URL of a new, empty database",
            )
        source.migrate()
        target.migrate()
        return _copy_all(source, target, batch_rows, progress)
    finally:
        target.dispose()


def _copy_all(
    source: Database, target: Database, batch_rows: int, progress: Progress | None
) -> CopyReport:
    report = CopyReport(source=source.display_url, target=target.display_url)
    try:
        with source.engine.connect() as reader, target.engine.begin() as writer:
            tables = _tables_present(reader)
            _refuse_unknown_tables(reader, tables, source.display_url)
            _require_empty(writer, tables, target.display_url)
            for table in tables:
                copied = 0
                for batch in _batches(reader, table, batch_rows):
                    writer.execute(table.insert(), batch)
                    copied += len(batch)
                report.rows[table.name] = copied
                if progress is not None:
                    progress(table.name, copied)
            if writer.dialect.name == "postgresql":
                _advance_sequences(writer, tables)
            _verify_counts(writer, report)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"copy to {target.display_url} failed and was rolled back: {type(exc).__name__}",
            fix="check that the target is reachable and empty, then run the command again",
        ) from exc
    log.info("copied %d rows from %s to %s", report.total, source.display_url, target.display_url)
    return report


def _tables_present(connection: Connection) -> list[Table]:
    existing = set(inspect(connection).get_table_names())
    return [table for table in cwdrift_tables() if table.name in existing]


def _refuse_unknown_tables(connection: Connection, known: list[Table], where: str) -> None:
    """A table we do not know would be silently left behind: stop instead."""
    names = {table.name for table in known}
    unknown = sorted(
        name
        for name in inspect(connection).get_table_names()
        if name not in names and not name.startswith(_FOREIGN_PREFIXES)
    )
    if unknown:
        raise StoreError(
            f"{where} has tables this cwdrift version does not know: {', '.join(unknown)}",
            fix="run `cwdrift db migrate-to` with the cwdrift version that created them",
        )


def _require_empty(connection: Connection, tables: list[Table], where: str) -> None:
    filled = [
        t.name for t in tables if connection.execute(select(func.count()).select_from(t)).scalar()
    ]
    if filled:
        raise StoreError(
            f"the target {where} already holds rows in: {', '.join(filled)}",
            fix="migrate into a new, empty database (createdb cwdrift_new), never over history",
        )


def _batches(connection: Connection, table: Table, size: int) -> Iterator[list[dict[str, Any]]]:
    """All rows in primary-key order, ``size`` at a time (memory stays flat for big tables)."""
    query = select(table).order_by(*table.primary_key.columns)
    result = connection.execution_options(stream_results=True, yield_per=size).execute(query)
    for partition in result.mappings().partitions(size):
        yield [dict(row) for row in partition]


def _advance_sequences(connection: Connection, tables: list[Table]) -> None:
    """Explicit ids were inserted; the next generated id must come after the largest one."""
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer) or column.autoincrement is False:
                continue
            sequence = connection.execute(
                select(func.pg_get_serial_sequence(table.name, column.name))
            ).scalar()
            if sequence is None:
                continue
            largest = connection.execute(select(func.max(column))).scalar()
            connection.execute(select(func.setval(sequence, (largest or 0) + 1, False)))


def _verify_counts(connection: Connection, report: CopyReport) -> None:
    for table in cwdrift_tables():
        expected = report.rows.get(table.name)
        if expected is None:
            continue
        actual = connection.execute(select(func.count()).select_from(table)).scalar()
        if actual != expected:
            raise StoreError(
                f"{table.name}: {actual} rows in the target after copying {expected}",
                fix="report this as a bug; the target transaction was rolled back",
            )
