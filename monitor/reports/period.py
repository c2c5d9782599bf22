"""Report periods: ISO weeks in the configured timezone, as UTC instants.

A week runs Monday 00:00 to the next Monday 00:00 *local time* (so a London report covers the
London week across a daylight-saving change); the store speaks UTC, so both ends are converted.
Weeks are stepped in local time too (``week_ends``): seven days of 24 hours would land an hour
off a Monday after a daylight-saving change and name one week twice.

A period never ends after ``now`` (``up_to``): a report made mid-week covers the week *to date*
and says so in its label, so no age or duration counts time that has not happened yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.clock import ensure_utc
from monitor.errors import ConfigError
from monitor.settings import ReportConfig

ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
TO_DATE = ", to date"  # appended to the label of a period cut at now


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


def iso_week(label: str, tz: ZoneInfo | None = None) -> Period:
    """``2026-W47`` -> Monday 00:00 to the next Monday 00:00 in ``tz`` (UTC by default)."""
    match = ISO_WEEK.match(label.strip())
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
    return Period(
        label=_label(monday),
        since=_midnight(monday, tz),
        until=_midnight(monday + timedelta(days=7), tz),
        timezone=tz.key,
    )


def _label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight of ``day`` as a UTC instant."""
    return ensure_utc(datetime.combine(day, time(), tzinfo=tz))


def _monday_of(moment: datetime, tz: ZoneInfo) -> date:
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def last_full_week(now: datetime, tz: ZoneInfo) -> Period:
    """The most recent week that has ended at ``now`` in ``tz`` (what Monday's report covers)."""
    return _week_from(_monday_of(now, tz) - timedelta(days=7), tz)


def week_to_date(now: datetime, tz: ZoneInfo) -> Period:
    """The week ``now`` falls in, from its Monday to ``now`` (``cwdrift report``'s default)."""
    return up_to(_week_from(_monday_of(now, tz), tz), now)


def up_to(period: Period, now: datetime) -> Period:
    """``period`` cut at ``now``, labelled "to date" when cut; refused if it has not begun."""
    now = ensure_utc(now)
    if period.until <= now:
        return period
    if period.since >= now:
        raise ConfigError(
            f"{period.label} has not started yet",
            location="--week",
            fix="give a week that has begun, or omit --week for the current week to date",
        )
    return replace(period, label=period.label + TO_DATE, until=now)


def week_ends(until: datetime, tz: ZoneInfo, count: int) -> list[tuple[str, datetime]]:
    """(ISO week, end) of the ``count`` weeks that end at or before ``until``, oldest first.

    The newest is ``until`` itself: the end of the week before it when ``until`` is a local
    Monday 00:00, else (a report to date, a custom range) the point reached in its own week.
    The older ends are the local Mondays before it.
    """
    until = ensure_utc(until)
    monday = _monday_of(until, tz)
    on_boundary = _midnight(monday, tz) == until
    newest = [] if on_boundary else [(_label(monday), until)]
    older = [
        (
            _label(monday - timedelta(days=7 * (k + 1))),
            _midnight(monday - timedelta(days=7 * k), tz),
        )
        for k in range(count - len(newest))
    ]
    return list(reversed(newest + older))


def custom(since: datetime, until: datetime) -> Period:
    since, until = ensure_utc(since), ensure_utc(until)
    if until <= since:
        raise ConfigError(
            f"the period ends ({until:%Y-%m-%d %H:%M} UTC) before it starts "
            f"({since:%Y-%m-%d %H:%M} UTC)",
            location="--until",
            fix="give --until after --since, and --since before now",
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
