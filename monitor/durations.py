"""Durations as people write them in config files: ``90s``, ``5m``, ``1h``, ``7d``, ``2w``.

Pydantic alone accepts only ISO 8601 (``PT1H``) or seconds; those still work too. Every duration
is between zero and :data:`LONGEST` (ten years): longer ones are typos, and would overflow a
date ("now + 99999999999d") far from the config line that caused it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from monitor.configfile import invalid

LONGEST = timedelta(days=3653)

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FIX = "write a duration from 0s to 10 years, e.g. 90s, 5m, 1h, 7d or 2w"
_SHORT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(value: Any) -> Any:
    """'5m' -> timedelta(minutes=5); anything else is left for pydantic to judge.

    A short form that is negative or longer than :data:`LONGEST` raises a ValueError (pydantic's
    PydanticCustomError, which carries the fix) saying so.
    """
    if isinstance(value, str):
        match = _SHORT.match(value)
        if match:
            number, unit = float(match.group(1)), _UNITS[match.group(2).lower()]
            if number < 0:
                raise invalid(f"{value.strip()!r} is negative", _FIX)
            try:
                parsed = timedelta(**{unit: number})
            except OverflowError:
                parsed = None
            if parsed is None or parsed > LONGEST:
                raise invalid(f"{value.strip()!r} is longer than {LONGEST.days // 365} years", _FIX)
            return parsed
    return value


def check_duration(value: timedelta) -> timedelta:
    """The bounds for durations pydantic parsed itself (ISO 8601 or seconds)."""
    if value < timedelta(0):
        raise invalid("a duration cannot be negative", _FIX)
    if value > LONGEST:
        raise invalid(f"a duration cannot be longer than {LONGEST.days // 365} years", _FIX)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(check_duration)]
