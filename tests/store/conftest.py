"""Store fixtures: a Database on SQLite (a tmp file) and on PostgreSQL (a fresh schema).

Each PostgreSQL test gets its own uniquely named schema (selected through the connection's
``search_path``), created and dropped around it, so concurrent runs by other engineers on the
same server never see each other's rows. A schema is much cheaper than a database to create.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store.database import Database


@contextmanager
def _fresh_schema(postgres_url: str) -> Iterator[str]:
    """A URL whose connections live in a new, empty schema; the schema is dropped afterwards."""
    base = make_url(postgres_url)
    schema = f"cwdrift_store_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = base.update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/data/cwdrift.db"
        return
    with _fresh_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A database migrated to head."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()
