"""Report periods: ISO weeks in the configured timezone, as UTC instants.

A week runs Monday 00:00 to the next Monday 00:00 *local time* (so a London report covers the
London week across a daylight-saving change); the store speaks UTC, so both ends are converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.clock import ensure_utc
from monitor.errors import ConfigError
from monitor.settings import ReportConfig

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """Half-open ``[since, until)`` in UTC: a check at exactly ``until`` is the next period's."""

    label: str
    since: datetime
    until: datetime
    timezone: str = "UTC"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown timezone {name!r}",
            location="report.timezone",
            fix="use an IANA name such as UTC, Europe/London or America/New_York",
        ) from None


def week_label(moment: datetime, tz: ZoneInfo | None = None) -> str:
    local = moment.astimezone(tz or UTC)
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def iso_week(label: str, tz: ZoneInfo | None = None) -> Period:
    """``2026-W47`` -> Monday 00:00 to the next Monday 00:00 in ``tz`` (UTC by default)."""
    match = _WEEK.match(label.strip())
    if match is None:
        raise ConfigError(
            f"not an ISO week: {label!r}", location="--week", fix="write it like 2026-W47"
        )
    year, week = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ConfigError(
            f"{label} does not exist (week {week} of {year})",
            location="--week",
            fix="ISO years have 52 or 53 weeks",
        ) from None
    return _week_from(monday, tz or ZoneInfo("UTC"))


def _week_from(monday: date, tz: ZoneInfo) -> Period:
    start = datetime.combine(monday, time(), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(), tzinfo=tz)
    year, week, _ = monday.isocalendar()
    return Period(
        label=f"{year}-W{week:02d}",
        since=ensure_utc(start),
        until=ensure_utc(end),
        timezone=tz.key,
    )


def last_full_week(now: datetime, tz: ZoneInfo) -> Period:
    """The most recent week that has ended at ``now`` in ``tz`` (what Monday's report covers)."""
    local = now.astimezone(tz).date()
    this_monday = local - timedelta(days=local.weekday())
    return _week_from(this_monday - timedelta(days=7), tz)


def custom(since: datetime, until: datetime) -> Period:
    since, until = ensure_utc(since), ensure_utc(until)
    if until <= since:
        raise ConfigError(
            "the period ends before it starts", location="--until", fix="give --until after --since"
        )
    return Period(label=f"{since:%Y-%m-%d} to {until:%Y-%m-%d}", since=since, until=until)


_ISO_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def report_due(report: ReportConfig, now: datetime) -> bool:
    """True once this week's slot (weekday and time in ``report.timezone``) has passed."""
    local = now.astimezone(zone(report.timezone))
    hour, minute = (int(part) for part in report.time.split(":"))
    slot_day = _ISO_WEEKDAYS.index(report.weekday)
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0) + timedelta(
        days=slot_day - local.weekday()
    )
    return report.enabled and local >= slot
