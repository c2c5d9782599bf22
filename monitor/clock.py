"""The one place that reads the wall clock.

Pure code takes ``now`` as an argument; the edges (jobs, CLI, daemon) call :func:`utcnow`,
which freezegun can freeze in tests.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware current time in UTC."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Interpret naive datetimes as UTC (SQLite drops tzinfo) and convert aware ones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
