"""Fixtures: the real multi-week history of report_history.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from report_history import History, build_history
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[History]:
    """The story above, recorded once per test session and database kind."""
    workdir = tmp_path_factory.mktemp(f"reports-{request.param}")
    if request.param == "sqlite":
        yield build_history(workdir, f"sqlite:///{workdir}/cwdrift.db")
        return
    base_url = _postgres_url()
    if base_url is None:
        pytest.skip("PostgreSQL not configured: set CWDRIFT_TEST_POSTGRES_URL to run this test")
    base = make_url(base_url)
    name = f"cwdrift_reports_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield build_history(workdir, base.set(database=name).render_as_string(hide_password=False))
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _postgres_url() -> str | None:
    return os.environ.get("CWDRIFT_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def sqlite_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The same story on SQLite only, for renderer and CLI tests that need one copy."""
    workdir = tmp_path_factory.mktemp("reports-sqlite-only")
    return build_history(workdir, f"sqlite:///{workdir}/cwdrift.db")
