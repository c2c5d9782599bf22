"""Turning a page's data into an answer: Jinja2 HTML (autoescaped) or its JSON twin.

A view returns a :class:`View`: the template and its context for people, and the plain data
of its JSON twin (the shape of the matching CLI ``--json``) for scripts. Which one is sent is
``?format=json``. Times read one way everywhere, ``2026-11-20 09:00 UTC``, with "3 h ago"
beside them; JSON gives ISO 8601.

The templates come from the shipped ``templates/web/`` through
:func:`monitor.data.template_environment`: autoescape on for ``.html.j2``, undefined names are
errors, and every printed value has its control characters escaped. ConnectWise text is only
ever printed as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment
from starlette.responses import HTMLResponse, Response

from monitor import weblinks
from monitor.core.findings import Severity
from monitor.data import template_environment
from monitor.reports.model import format_duration
from monitor.web.charts import show_value

JSON_TYPE = "application/json"


class PageError(Exception):
    """A request that cannot be answered as asked: a bad parameter (400), no such thing (404)."""

    def __init__(self, status: int, message: str, *, fix: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fix = fix

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "fix": self.fix or None}


@dataclass(frozen=True)
class View:
    """What a page shows: ``template`` with ``context`` for a browser, ``data`` for scripts."""

    template: str
    context: Mapping[str, Any]
    data: Mapping[str, Any]
    title: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def when_iso(value: str | None) -> str:
    """An ISO time from a JSON-shaped record (a silence's expiry) in the one format."""
    if not value:
        return "—"
    try:
        return when(datetime.fromisoformat(value))
    except ValueError:
        return value


def ago(value: datetime | None, now: datetime) -> str:
    """``3 h ago`` / ``in 12 min``: how far from now, at a glance."""
    if value is None:
        return ""
    seconds = (now - value).total_seconds()
    future = seconds < 0
    text = _span(timedelta(seconds=abs(seconds)))
    if text == "now":
        return "just now"
    return f"in {text}" if future else f"{text} ago"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "now"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"


def duration(value: timedelta | None) -> str:
    """``3d 4h`` (the report's format); under a minute reads as such, not as ``0m``."""
    if value is not None and value < timedelta(minutes=1):
        return "under a minute"
    return format_duration(value)


SEVERITY_MARKS = {  # a shape as well as a colour: readable without telling colours apart
    Severity.CRITICAL.value: "◆",
    Severity.HIGH.value: "▲",
    Severity.MEDIUM.value: "■",
    Severity.LOW.value: "●",
    Severity.WARNING.value: "○",
}
STATUS_MARKS = {
    "compliant": "✓",
    "drift": "✗",
    "cannot_verify": "?",
    "never_checked": "–",
    "pass": "✓",
    "fail": "✗",
    "unknown": "?",
    "waived": "≈",
}
STATUS_WORDS = {
    "compliant": "compliant",
    "drift": "drift",
    "cannot_verify": "cannot verify",
    "never_checked": "never checked",
}


@cache
def environment() -> Environment:
    env = template_environment()
    env.filters.update(
        when=when,
        when_iso=when_iso,
        duration=duration,
        show=lambda value: show_value(value),
        severity_mark=lambda name: SEVERITY_MARKS.get(str(name), "•"),
        status_mark=lambda name: STATUS_MARKS.get(str(name), "•"),
        status_word=lambda name: STATUS_WORDS.get(str(name), str(name).replace("_", " ")),
        percent=lambda value: "n/a" if value is None else f"{value:.1f}%",
    )
    env.globals.update(
        paths=weblinks,
        severities=[s.value for s in Severity],
        ago=ago,
        duration=duration,
    )
    return env


def html(view: View, *, status: int = 200, **chrome: Any) -> HTMLResponse:
    """The page of ``view`` (``chrome``: what the layout needs, e.g. ``now``, ``nav``)."""
    context = {**chrome, **view.context, "title": view.title}
    body = environment().get_template(view.template).render(context)
    return HTMLResponse(body, status_code=status, headers=dict(view.headers))


def as_json(data: Any, *, status: int = 200) -> Response:
    """The JSON twin, serialised as the CLI's ``--json`` is (``default=str``)."""
    body = json.dumps(data, indent=2, default=str, ensure_ascii=True) + "\n"
    return Response(body, status_code=status, media_type=JSON_TYPE)


def error_page(error: PageError, **chrome: Any) -> HTMLResponse:
    view = View("web/error.html.j2", {"error": error}, {}, title=f"{error.status}")
    return html(view, status=error.status, **chrome)
