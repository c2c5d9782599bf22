"""Report periods: ISO weeks in the configured timezone (DST included), and the send schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ConfigError
from monitor.reports.period import (
    custom,
    iso_week,
    last_full_week,
    report_due,
    up_to,
    week_ends,
    week_to_date,
)
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
    ("weekday", "time", "timezone", "now", "due"),
    [
        # Monday 08:00 in London: 07:59 UTC on a winter Monday is before it, 08:00 is on time
        ("mon", "08:00", "Europe/London", utc(2026, 11, 23, 7, 59), False),
        ("mon", "08:00", "Europe/London", utc(2026, 11, 23, 8, 0), True),
        # later in the week the slot has passed (a daemon that was down catches up)
        ("mon", "08:00", "Europe/London", utc(2026, 11, 26, 12, 0), True),
        # 08:00 in New York is 13:00 UTC in November
        ("mon", "08:00", "America/New_York", utc(2026, 11, 23, 12, 59), False),
        ("mon", "08:00", "America/New_York", utc(2026, 11, 23, 13, 0), True),
        # a Friday slot is not due on Thursday
        ("fri", "07:05", "UTC", utc(2026, 11, 26, 23, 0), False),
        ("fri", "07:05", "UTC", utc(2026, 11, 27, 7, 5), True),
    ],
)
def test_report_due(weekday: str, time: str, timezone: str, now: datetime, due: bool) -> None:
    report = ReportConfig(weekday=weekday, time=time, timezone=timezone)  # type: ignore[arg-type]
    assert report_due(report, now) is due


def test_a_disabled_report_is_never_due() -> None:
    assert not report_due(ReportConfig(enabled=False), utc(2026, 11, 26, 12, 0))


@pytest.mark.parametrize(
    ("now", "tz", "label", "since"),
    [
        (utc(2026, 12, 2, 14), "UTC", "2026-W49, to date", utc(2026, 11, 30)),
        # 01:00 on Monday in London (BST): the week began an hour ago
        (utc(2026, 6, 1, 0, 0), "Europe/London", "2026-W23, to date", utc(2026, 5, 31, 23)),
        # Sunday evening in New York is already Monday in UTC: still New York's old week
        (utc(2026, 11, 30, 1), "America/New_York", "2026-W48, to date", utc(2026, 11, 23, 5)),
    ],
)
def test_week_to_date_ends_now(now: datetime, tz: str, label: str, since: datetime) -> None:
    period = week_to_date(now, ZoneInfo(tz))
    assert (period.label, period.since, period.until) == (label, since, now)


def test_up_to_cuts_a_period_at_now_and_refuses_one_not_begun() -> None:
    week = iso_week("2026-W49")
    assert up_to(week, utc(2026, 12, 8)) == week  # over: unchanged
    cut = up_to(week, utc(2026, 12, 2, 14))
    assert (cut.label, cut.until) == ("2026-W49, to date", utc(2026, 12, 2, 14))
    with pytest.raises(ConfigError, match="2026-W49 has not started yet"):
        up_to(week, utc(2026, 11, 29, 23))


@pytest.mark.parametrize(
    ("until", "tz", "weeks", "ends"),
    [
        # autumn: British Summer Time ends on Sunday 2026-10-25
        (
            utc(2026, 11, 2),
            "Europe/London",
            ["2026-W42", "2026-W43", "2026-W44"],
            [utc(2026, 10, 18, 23), utc(2026, 10, 26), utc(2026, 11, 2)],
        ),
        # spring: it starts on Sunday 2026-03-29; the report is mid-week, so it ends at `until`
        (
            utc(2026, 4, 1, 12),
            "Europe/London",
            ["2026-W12", "2026-W13", "2026-W14"],
            [utc(2026, 3, 23), utc(2026, 3, 29, 23), utc(2026, 4, 1, 12)],
        ),
        (
            utc(2026, 11, 8, 5),  # US daylight time ended 2026-11-01
            "America/New_York",
            ["2026-W43", "2026-W44", "2026-W45"],
            [utc(2026, 10, 26, 4), utc(2026, 11, 2, 5), utc(2026, 11, 8, 5)],
        ),
    ],
)
def test_week_ends_step_in_local_time(
    until: datetime, tz: str, weeks: list[str], ends: list[datetime]
) -> None:
    points = week_ends(until, ZoneInfo(tz), 3)
    assert [w for w, _ in points] == weeks
    assert [e for _, e in points] == ends


@pytest.mark.parametrize("tz", ["UTC", "Europe/London", "America/New_York", "Australia/Sydney"])
def test_a_years_trend_never_names_a_week_twice(tz: str) -> None:
    points = week_ends(utc(2027, 1, 4, 12), ZoneInfo(tz), 60)
    assert len({w for w, _ in points}) == 60
    assert [e for _, e in points] == sorted(e for _, e in points)
