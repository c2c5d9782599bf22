"""Daemon fixtures: a real database (a SQLite tmp file, or a fresh PostgreSQL database) and
config files written the way users write them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL; on PostgreSQL a database of its own, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/cwdrift.db"
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    name = f"cwdrift_daemon_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cwdrift.db"


@pytest.fixture
def migrated(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def tenant_yaml(tenant_id: str, schedule: str = "") -> str:
    return f"""
  - id: {tenant_id}
    name: Tenant {tenant_id}
    site: na.myconnectwise.net
    company_id: {tenant_id}
    public_key: pub-{tenant_id}
    private_key: ${{CWDRIFT_TEST_UNSET_KEY:-not-a-real-key}}
    client_id: client-{tenant_id}
    integration_member: GozyntaAPI{schedule}"""


def config_yaml(
    db_url: str,
    tenants: dict[str, str] | list[str],
    *,
    in_flight: int = 2,
    every: str = "1h",
    jitter: str = "0s",
    dispatch_every: str = "1h",
) -> str:
    """A config file. ``tenants``: ids, or id -> extra YAML for the tenant (e.g. a schedule)."""
    items = tenants if isinstance(tenants, dict) else dict.fromkeys(tenants, "")
    body = "".join(tenant_yaml(tenant_id, extra) for tenant_id, extra in items.items())
    return f"""database: {db_url}
daemon:
  tenants_in_flight: {in_flight}
  dispatch_every: {dispatch_every}
  schedule:
    every: {every}
    jitter: {jitter}
tenants:{body if body else " []"}
"""
