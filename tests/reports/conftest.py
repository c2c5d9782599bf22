"""Fixtures: the real multi-week history of report_history.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from report_history import History, build_history

from monitor.store.scratch import scratch_postgres


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
    base_url = os.environ.get("CWDRIFT_TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("PostgreSQL not configured: set CWDRIFT_TEST_POSTGRES_URL to run this test")
    # session-scoped, so not the function-scoped pg_url fixture; same helper underneath
    with scratch_postgres(base_url, prefix="cwdrift_reports") as url:
        yield build_history(workdir, url)


@pytest.fixture(scope="session")
def sqlite_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The same story on SQLite only, for renderer and CLI tests that need one copy."""
    workdir = tmp_path_factory.mktemp("reports-sqlite-only")
    return build_history(workdir, f"sqlite:///{workdir}/cwdrift.db")
