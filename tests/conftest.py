"""Shared fixtures: PostgreSQL from the environment and databases on both engines; and the
Hypothesis profiles.

Hypothesis profiles: ``ci`` (the default, used by ``make test``) is derandomized (a fixed seed:
the same examples every run, so a red build is reproducible) with a bounded number of examples
and no example database; ``thorough`` (``pytest --hypothesis-profile=thorough``, for developers)
draws many more, freshly random examples and keeps failures in ``.hypothesis/``.

Area fixtures live in each tests/<area>/conftest.py; helpers they share by import live in
uniquely named modules beside them (a ``from conftest import`` would pick whichever conftest
was imported first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from monitor.store import register_tables
from monitor.store.database import Database
from monitor.store.scratch import scratch_postgres

# Every table on the metadata before any test freezes time: a table module first imported under
# freezegun would keep its fake datetime (the package no longer imports them all by itself).
register_tables()

# Examples here run whole checks over HTTP and SQLite: no per-example deadline, and a slow
# example is not a failed health check.
_SLOW_OK = [HealthCheck.too_slow]
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=_SLOW_OK
)
# ``--hypothesis-profile`` on the command line is applied after this and wins.
settings.load_profile(os.environ.get("CWDRIFT_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def postgres_url() -> str:
    """PostgreSQL URL from CWDRIFT_TEST_POSTGRES_URL (.ci/run sets it); skip visibly without."""
    url = os.environ.get("CWDRIFT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL not configured: set CWDRIFT_TEST_POSTGRES_URL to run this test")
    return url


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of this test's own."""
    with scratch_postgres(postgres_url, prefix="cwdrift_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL (not migrated): a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/data/cwdrift.db"
        return
    yield request.getfixturevalue("pg_url")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A database migrated to head, on each engine."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()
