"""Cluster fixtures: a fresh PostgreSQL database per test (see tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def fresh_postgres(pg_url: str) -> str:
    """The URL of a new, empty database, dropped (with any connections left) afterwards."""
    return pg_url
