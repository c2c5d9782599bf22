"""Renderers (pure): a :class:`WeeklyReport` as JSON, text, CSV, HTML or PDF.

HTML and text come from Jinja2 templates in ``templates/report/`` with autoescape on for HTML
(ConnectWise data such as role names is untrusted). The PDF is the same HTML rendered by
WeasyPrint with print page rules, so auditors read exactly what the email said.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Environment

from monitor.data import template_environment
from monitor.reports.model import WeeklyReport, format_duration, format_time
from monitor.reports.period import ISO_WEEK, TO_DATE
from monitor.weblinks import WebLinks

if TYPE_CHECKING:
    from weasyprint.document import Document

Format = Literal["html", "text", "json", "csv", "pdf"]
FORMATS: tuple[Format, ...] = ("html", "text", "json", "csv", "pdf")

_SEVERITY_COLOURS = {
    "critical": "#b71c1c",
    "high": "#e65100",
    "medium": "#9a6b00",
    "low": "#1565c0",
    "warning": "#616161",
}

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "section",
    "tenant",
    "tenant_name",
    "item",
    "label",
    "severity",
    "expected",
    "actual",
    "old",
    "new",
    "changed_by",
    "changed_at",
    "at",
    "detail",
    "command",
)


def show(value: Any) -> str:
    """A setting value as people read it (ConnectWise flags are booleans)."""
    if value is None:
        return "absent"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def _bar(percent: float | None, width: int = 40) -> str:
    if percent is None:
        return "." * width
    filled = round(width * percent / 100)
    return "#" * filled + "." * (width - filled)


def _score_colour(percent: float) -> str:
    if percent >= 95:
        return "#2e7d32"
    if percent >= 80:
        return "#f9a825"
    return "#c62828"


def _when(value: datetime | None) -> str:
    return format_time(value)


def _duration(value: timedelta | None) -> str:
    return format_duration(value)


@cache
def environment() -> Environment:
    env = template_environment()
    env.filters.update(
        when=_when,
        duration=_duration,
        show=show,
        bar=_bar,
        score_colour=_score_colour,
        severity_colour=lambda name: _SEVERITY_COLOURS.get(name, "#616161"),
    )
    return env


def render_json(report: WeeklyReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_text(report: WeeklyReport, *, links: WebLinks | None = None) -> str:
    """The plain-text report; with ``links``, it names its web page."""
    url = links.report(report_week(report)) if links else None
    return environment().get_template("report/weekly.txt.j2").render(report=report, web_url=url)


def report_week(report: WeeklyReport) -> str | None:
    """The ISO week the report covers (None for a custom range): what its web page takes."""
    week = report.label.removesuffix(TO_DATE)
    return week if ISO_WEEK.match(week) else None


def render_html(
    report: WeeklyReport,
    *,
    for_print: bool = False,
    links: WebLinks | None = None,
    nav: Sequence[tuple[str, str]] = (),
) -> str:
    """The e-mail's HTML. ``links``: tenants, rules and settings link to the web pages
    (``web.base_url``); ``nav``: (text, href) shown above it, on the web page only."""
    template = environment().get_template("report/weekly.html.j2")
    return template.render(report=report, for_print=for_print, links=links, nav=list(nav))


def render_pdf(report: WeeklyReport) -> bytes:
    """The HTML report as a PDF (WeasyPrint)."""
    pdf: bytes = pdf_layout(report).write_pdf()
    return pdf


def pdf_layout(report: WeeklyReport) -> Document:
    """The report laid out in pages: what ``render_pdf`` writes, for tests to inspect.

    WeasyPrint is imported lazily: it is slow to import. ``presentational_hints``: the email
    markup sizes its tables with ``width`` attributes (what mail clients honour); WeasyPrint
    ignores them without it, and every table shrinks to its content (a trend bar to a tick).
    """
    from weasyprint import HTML

    return HTML(string=render_html(report, for_print=True)).render(presentational_hints=True)


def csv_rows(report: WeeklyReport) -> Iterator[dict[str, str]]:
    """One flat row per item, with a ``section`` column auditors can filter on."""

    def row(section: str, **values: Any) -> dict[str, str]:
        data = dict.fromkeys(CSV_COLUMNS, "")
        data["section"] = section
        data.update({k: csv_cell(v) for k, v in values.items()})
        return data

    until = format_time(report.until)
    yield row(
        "fleet",
        item="score",
        actual=report.fleet.text,
        at=until,
        detail=f"{report.fleet.passing}/{report.fleet.applicable} rules passing",
    )
    for p in report.trend:
        yield row("trend", item=p.week, actual=p.score.text, at=format_time(p.until))
    for t in report.tenants:
        yield row(
            "tenant",
            tenant=t.tenant_id,
            tenant_name=t.name,
            item="score",
            actual=t.score.text,
            at=until,
            detail=f"{t.score.passing}/{t.score.applicable} rules passing; "
            f"last week {t.previous.text}; {t.open_violations} open",
        )
    for v in report.violations:
        yield row(
            "violation",
            tenant=v.tenant_id,
            tenant_name=v.tenant_name,
            item=v.rule_id,
            label=v.label,
            severity=v.severity,
            expected=v.expected,
            actual=show(v.actual),
            at=format_time(v.first_failed_at),
            detail=f"failing for {format_duration(v.age)}",
            command=v.command,
        )
    for events in (report.new, report.regressed, report.resolved):
        for e in events:
            if e.kind == "resolved":
                detail = f"{e.how_resolved} after {format_duration(e.time_to_fix)}"
            elif e.kind == "regressed":
                detail = f"last resolved {format_time(e.last_resolved_at)}"
            else:
                detail = ""
            yield row(
                e.kind,
                tenant=e.tenant_id,
                tenant_name=e.tenant_name,
                item=e.rule_id,
                label=e.label,
                severity=e.severity,
                expected=e.expected,
                actual=show(e.actual),
                at=format_time(e.at),
                detail=detail,
                command=e.command,
            )
    for c in report.changes:
        yield row(
            "change",
            tenant=c.tenant_id,
            tenant_name=c.tenant_name,
            item=c.key,
            label=c.label,
            old=show(c.old),
            new=show(c.new),
            changed_by=c.changed_by,
            changed_at=c.changed_at,
            at=format_time(c.observed_at),
            command=c.command,
        )
    for u in report.unchecked:
        yield row(
            "unchecked",
            tenant=u.tenant_id,
            tenant_name=u.name,
            item=u.error_kind,
            at=format_time(u.since),
            detail=u.summary,
            command=u.command,
        )
    for w in report.waivers:
        yield row(
            "waiver",
            tenant=w.tenant_id,
            tenant_name=w.tenant_name,
            item=w.rule,
            actual=show(w.value),
            changed_by=w.accepted_by,
            at=format_time(w.expires),
            detail=f"{w.reason} [{w.source}]" + ("; expires soon" if w.expiring_soon else ""),
            command=w.command,
        )
    for s in report.silences:
        yield row(
            "silence",
            tenant=s.tenant,
            item=s.rule,
            changed_by=s.author,
            at=format_time(s.expires),
            detail=f"{s.reason} [{s.source}]",
        )


def csv_cell(value: Any) -> str:
    """Neutralise spreadsheet formulas: ConnectWise data ends up in auditors' Excel (OWASP CSV
    injection). The one escaping function for every CSV cwdrift writes."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def render_csv(report: WeeklyReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return buffer.getvalue()


def render(report: WeeklyReport, fmt: Format) -> str | bytes:
    """The report in ``fmt``; PDF is bytes, everything else text."""
    if fmt == "pdf":
        return render_pdf(report)
    renderers = {"html": render_html, "text": render_text, "json": render_json, "csv": render_csv}
    return renderers[fmt](report)
