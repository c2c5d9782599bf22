"""Crontab expressions, read as crontab reads them, into APScheduler 3.11 triggers.

The one reader of ``cron:`` settings: the config validator uses it, so ``cwdrift config validate``
rejects exactly the expressions the daemon's clock (``monitor/daemon/scheduler.py``) would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # APScheduler only where a cron expression is read: most commands read none
    from apscheduler.triggers.cron import CronTrigger


def cron_trigger(expr: str, timezone: tzinfo, *, jitter: int | None) -> CronTrigger:
    """A CronTrigger that reads weekdays as crontab does (0 or 7 = Sunday).

    APScheduler 3.x numbers weekdays from Monday = 0 (its ``from_crontab`` docs warn of it),
    so "1-5" would silently mean Tuesday to Saturday; numbers are rewritten to names first.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, got {len(fields)}")
    minute, hour, day, month, weekday = fields
    trigger = CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=timezone,
        jitter=jitter,
    )
    return trigger


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab order, Sunday = 0
_WEEKDAY_ITEM = re.compile(r"^(\*|\w+)(?:-(\w+))?(?:/(\d+))?$")


def crontab_weekdays(field: str) -> str:
    """Crontab's weekday field as an explicit list of day names APScheduler reads unambiguously."""
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _WEEKDAY_ITEM.match(item)
        if match is None:
            raise ValueError(f"cannot read weekday {item!r}")
        start_text, end_text, step_text = match.groups()
        if start_text == "*":
            start, end = 0, 6
        else:
            start = _crontab_day(start_text)
            end = _crontab_day(end_text) if end_text else (6 if step_text else start)
        if end_text and end < start:
            end += 7  # "5-1" wraps past Sunday, as "fri-mon" does
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"weekday step must be at least 1 in {item!r}")
        days.update(day % 7 for day in range(start, end + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def _crontab_day(text: str) -> int:
    if text.isdigit():
        number = int(text)
        if not 0 <= number <= 7:
            raise ValueError(f"weekday {number} is out of range 0-7")
        return number % 7
    if text[:3] in _DAY_NAMES:
        return _DAY_NAMES.index(text[:3])
    raise ValueError(f"unknown weekday {text!r}")


def check_cron(expr: str) -> None:
    """ValueError saying what is wrong with ``expr``, including a date that never comes."""
    try:
        trigger = cron_trigger(expr, UTC, jitter=None)
    except (TypeError, ZeroDivisionError) as exc:  # APScheduler's reading of odd steps
        raise ValueError(f"cannot read {expr!r}: {exc}") from None
    # Leap days come at least every 8 years; a date with no fire time in 9 is never.
    start = datetime(2030, 1, 1, tzinfo=UTC)
    upcoming = trigger.get_next_fire_time(None, start)
    if upcoming is None or upcoming.year > start.year + 8:
        raise ValueError(f"{expr!r} never fires (a day that does not exist in that month?)")
