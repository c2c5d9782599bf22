"""Durations as people write them in config files: ``90s``, ``5m``, ``1h``, ``7d``, ``2w``.

Pydantic alone accepts only ISO 8601 (``PT1H``) or seconds; those still work too.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(value: Any) -> Any:
    """'5m' -> timedelta(minutes=5); anything else is left for pydantic to judge."""
    if isinstance(value, str):
        match = _SHORT.match(value)
        if match:
            return timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
