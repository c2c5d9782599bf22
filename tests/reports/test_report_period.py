"""Report periods: ISO weeks in the configured timezone (DST included), and the send schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ConfigError
from monitor.reports.period import custom, iso_week, last_full_week
from monitor.reports.send import report_cron
from monitor.settings import ReportConfig


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("label", "tz", "since", "until"),
    [
        ("2026-W47", "UTC", utc(2026, 11, 16), utc(2026, 11, 23)),
        ("2026-W47", "America/New_York", utc(2026, 11, 16, 5), utc(2026, 11, 23, 5)),
        # British Summer Time starts on Sunday 2026-03-29: this week is an hour short in UTC.
        ("2026-W13", "Europe/London", utc(2026, 3, 23), utc(2026, 3, 29, 23)),
        ("2026-W53", "UTC", utc(2026, 12, 28), utc(2027, 1, 4)),  # 2026 has 53 ISO weeks
        ("2027-W01", "Asia/Tokyo", utc(2027, 1, 3, 15), utc(2027, 1, 10, 15)),
    ],
)
def test_iso_weeks_are_local_monday_to_monday(
    label: str, tz: str, since: datetime, until: datetime
) -> None:
    period = iso_week(label, ZoneInfo(tz))
    assert (period.label, period.since, period.until, period.timezone) == (label, since, until, tz)


@pytest.mark.parametrize("label", ["2026-47", "W47", "2025-W53", "2026-W00"])
def test_bad_weeks_say_how_to_write_one(label: str) -> None:
    with pytest.raises(ConfigError) as caught:
        iso_week(label)
    assert caught.value.location == "--week"


@pytest.mark.parametrize(
    ("now", "tz", "label"),
    [
        (utc(2026, 11, 23, 8), "UTC", "2026-W47"),  # Monday's report: the week just ended
        (utc(2026, 11, 22, 23, 59), "UTC", "2026-W46"),  # still Sunday: W47 is not over
        (utc(2026, 11, 23, 1), "America/New_York", "2026-W46"),  # Sunday evening in New York
        (utc(2026, 11, 22, 23, 30), "Asia/Tokyo", "2026-W47"),  # already Monday in Tokyo
    ],
)
def test_last_full_week(now: datetime, tz: str, label: str) -> None:
    assert last_full_week(now, ZoneInfo(tz)).label == label


def test_custom_period_must_end_after_it_starts() -> None:
    assert custom(utc(2026, 11, 1), utc(2026, 11, 8)).label == "2026-11-01 to 2026-11-08"
    with pytest.raises(ConfigError):
        custom(utc(2026, 11, 8), utc(2026, 11, 1))


@pytest.mark.parametrize(
    ("weekday", "time", "cron"),
    [("mon", "08:00", "0 8 * * 1"), ("sun", "23:45", "45 23 * * 0"), ("fri", "07:05", "5 7 * * 5")],
)
def test_report_cron(weekday: str, time: str, cron: str) -> None:
    assert report_cron(ReportConfig(weekday=weekday, time=time)) == cron  # type: ignore[arg-type]
