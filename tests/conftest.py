"""Shared fixtures. Area fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def postgres_url() -> str:
    """PostgreSQL URL from CWDRIFT_TEST_POSTGRES_URL (.ci/run sets it); skip visibly without."""
    url = os.environ.get("CWDRIFT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL not configured: set CWDRIFT_TEST_POSTGRES_URL to run this test")
    return url
