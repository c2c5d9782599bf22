"""Daemon fixtures: a real database (a SQLite tmp file, or a fresh PostgreSQL database) and
config files written the way users write them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import Database


@pytest.fixture
def db_url(database_url: str) -> str:
    """An empty database on each engine (see tests/conftest.py)."""
    return database_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cwdrift.db"


@pytest.fixture
def migrated(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()
