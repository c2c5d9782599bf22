"""The database handle: engine, sessions and schema migration, for SQLite and PostgreSQL alike.

``Database(url)`` takes a SQLAlchemy URL: a SQLite file (``sqlite:///var/cwdrift.db``, the
default deployment) or PostgreSQL (``postgresql+psycopg://user@host/db``). Sessions are
synchronous; async callers run them in a worker thread.

Every process calls :meth:`Database.migrate` at start. It is idempotent and serialised, so two
nodes starting together do not both try to create the schema: PostgreSQL takes a transaction
advisory lock, SQLite a ``BEGIN IMMEDIATE`` write lock.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session

from monitor.errors import CwdriftError, StoreError
from monitor.store.migrations import HEAD

if TYPE_CHECKING:
    from alembic.config import Config

    from monitor.core.findings import Change, Finding
    from monitor.core.snapshot import CredentialMode, Snapshot
    from monitor.store.runs import RunRecord

log = logging.getLogger(__name__)

# An arbitrary constant shared by every cwdrift process: the key of the advisory lock that
# serialises concurrent migrators on PostgreSQL.
_MIGRATION_LOCK_KEY = 0x63776472  # "cwdr"
# How long a SQLite writer waits for another writer's lock before failing (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# What to do when the configured database cannot be used (a test follows this advice).
CONFIG_DATABASE_FIX = (
    "check that the database server is reachable and that 'database:' in the config is right; "
    "`cwdrift db migrate` creates or upgrades the schema"
)


class Database:
    """One engine and its sessions. Cheap to keep for the life of the process."""

    def __init__(self, url: str, *, fix: str = CONFIG_DATABASE_FIX) -> None:
        """``fix``: the advice when the database cannot be used (the default is for the
        database named in the config)."""
        self._fix = fix
        try:
            parsed = make_url(url)
        except ArgumentError:
            # The raw text may contain a password, so it is not echoed back.
            raise StoreError(
                "database URL is not a valid SQLAlchemy URL",
                fix="use sqlite:///path/to/cwdrift.db or postgresql+psycopg://user@host/dbname",
            ) from None
        self.url: URL = parsed
        self.display_url = parsed.render_as_string(hide_password=True)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        try:
            self.engine: Engine = self._create_engine(parsed)
        except (SQLAlchemyError, ImportError, OSError) as exc:
            raise self._store_error("cannot open the database", exc) from None

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    def _create_engine(self, url: URL) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, pool_pre_ping=True)
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine

    def _store_error(self, action: str, exc: BaseException) -> StoreError:
        """A StoreError naming the (password-hidden) URL; never the raw driver text with secrets."""
        detail = _describe(exc)
        password = self.url.password
        if password:
            detail = detail.replace(str(password), "***")
        return StoreError(f"{action} at {self.display_url}: {detail}", fix=self._fix)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except SQLAlchemyError as exc:
            raise self._store_error("database operation failed", exc) from exc

    def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is already there.

        A database already at :data:`~monitor.store.migrations.HEAD` is recognised with one
        plain query, without Alembic; anything else (empty, behind, unreadable) takes Alembic's
        path under the migration lock, which decides again with the lock held.
        """
        if self._at_head():
            log.debug("database schema is current", extra={"database": self.display_url})
            return
        from alembic import command  # Alembic only where the schema is touched: reads skip it

        try:
            with self.engine.connect() as connection, connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        select(text(f"pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})"))
                    )
                config = alembic_config(connection)
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise self._store_error("schema migration failed", exc) from exc
        log.info("database schema is current", extra={"database": self.display_url})

    def _at_head(self) -> bool:
        """True when ``alembic_version`` holds exactly the head revision (read without a lock:
        a migration in flight commits its version row with its schema, so it reads as behind)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                return [row[0] for row in rows] == [HEAD]
        except SQLAlchemyError:
            return False  # no table yet, or no server: the Alembic path says which

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at; None for an empty database."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise self._store_error("cannot read the schema revision", exc) from exc

    def ping(self) -> bool:
        """True when the database answers a trivial query (for health checks)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database ping failed: %s", self._store_error("ping failed", exc))
            return False
        return True

    def dispose(self) -> None:
        """Close pooled connections (tests, and before a process forks)."""
        self.engine.dispose()

    def record_run(
        self,
        *,
        tenant_id: str,
        tenant_name: str,
        started_at: datetime,
        finished_at: datetime,
        snapshot: Snapshot | None,
        changes: Sequence[Change],
        findings: Sequence[Finding] | None,
        error: CwdriftError | None,
        credential_mode: CredentialMode | None = None,
    ) -> RunRecord:
        """:func:`monitor.store.runs.record_run` in its own committed transaction."""
        from monitor.store.runs import record_run

        with self.session() as session:
            return record_run(
                session,
                tenant_id=tenant_id,
                tenant_name=tenant_name,
                started_at=started_at,
                finished_at=finished_at,
                snapshot=snapshot,
                changes=changes,
                findings=findings,
                error=error,
                credential_mode=credential_mode,
            )


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic config pointing at the migrations shipped inside the package (works from a wheel)."""
    from alembic.config import Config

    location = resources.files("monitor.store") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(location))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _describe(exc: BaseException) -> str:
    """The driver's first line of explanation, without SQLAlchemy's SQL and parameter dump."""
    original: Any = getattr(exc, "orig", None)
    source = original if original is not None else exc
    first_line = (str(source).strip().splitlines() or [""])[0]
    name = type(source).__name__
    return f"{name}: {first_line}" if first_line else name


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (it would otherwise commit DDL
    # implicitly and never BEGIN before SELECT); the "begin" hook below emits BEGIN instead.
    # See https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """WAL lets readers (status, history) work while a check writes.

    Switching a new file to WAL needs the file to itself, and SQLite answers "database is
    locked" at once, without its busy handler, when another process opens it at the same
    moment (two nodes starting together). The switch is retried until the busy timeout; once
    the file is in WAL mode the pragma is a no-op that never waits.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _begin_sqlite_transaction(connection: Connection) -> None:
    # Every transaction takes the write lock up front. A deferred one that reads and then writes
    # (a check reads the last snapshot, then records) fails at once with "database is locked"
    # when another writer got in between: SQLite cannot wait on a read->write upgrade. With WAL,
    # readers outside a transaction are unaffected; SQLite is the single-node store anyway.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
