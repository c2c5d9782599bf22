"""The weekly report as messages (pure): a short Slack summary and the full email.

Payloads have the shapes the alert senders transmit (``monitor.alerts.slack`` and
``monitor.alerts.email``), so the report goes through the same outbox, retries and channel
health as alerts do.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from monitor.alerts.messages import escape_mrkdwn
from monitor.reports.model import WeeklyReport, format_duration, format_time
from monitor.reports.period import ISO_WEEK, TO_DATE
from monitor.reports.render import render_html, render_text, report_week, show
from monitor.weblinks import WebLinks

SLACK_WORST = 5  # items per list in the Slack summary; the email has everything


def subject(report: WeeklyReport) -> str:
    """Sorts by week in a mailbox: ``[cwdrift] weekly report 2026-W47: 87.5% (2 critical)``."""
    critical = f" ({report.critical_open} critical)" if report.critical_open else ""
    return f"[cwdrift] weekly report {report.label}: {report.fleet.text}{critical}"


def build_report_email(
    report: WeeklyReport, *, channel: str, domain: str, links: WebLinks | None = None
) -> dict[str, Any]:
    """Subject, text and HTML, and ids that thread every weekly report together; with
    ``links`` (``web.base_url``), tenants, rules and settings link to the web pages."""
    week = report.label.replace(" ", "_")
    return {
        "subject": subject(report),
        "message_id": f"<cwdrift.report.{week}.{channel}@{domain}>",
        "thread_id": f"<cwdrift.report@{domain}>",
        "date": format_datetime(report.generated_at, usegmt=True),
        "text": render_text(report, links=links),
        "html": render_html(report, links=links),
    }


def build_report_slack(
    report: WeeklyReport, *, worst: int = SLACK_WORST, links: WebLinks | None = None
) -> dict[str, Any]:
    """Block Kit: the score and counts, then the worst open violations and unchecked tenants."""
    e = escape_mrkdwn
    counts = (
        f"*{len(report.violations)}* open violations ({report.critical_open} critical) · "
        f"*{len(report.new)}* new · *{len(report.resolved)}* resolved · "
        f"*{len(report.regressed)}* regressed · *{len(report.changes)}* settings changed · "
        f"*{len(report.unchecked)}* not checked"
    )
    if report.median_time_to_fix is not None:
        counts += f"\nMedian time to fix: {format_duration(report.median_time_to_fix)}"
    if report.fixed_by_cwdrift.count:
        counts += (
            f"\nFixed by cwdrift: {report.fixed_by_cwdrift.text} · by a person: "
            f"{report.fixed_by_person.text}"
        )
    trend = " → ".join(p.score.text for p in report.trend[-4:])
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Weekly compliance {report.label}"},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"Fleet compliance *{report.fleet.text}* "
                f"({report.fleet.passing}/{report.fleet.applicable} rules passing)\n"
                f"{counts}\nLast weeks: {trend}",
            },
        },
    ]
    if report.violations:
        lines = [
            f"• *{v.severity}* {e(v.tenant_name)}: {e(v.label)} "
            f"(actual {e(show(v.actual))}, failing {format_duration(v.age)})"
            for v in report.violations[:worst]
        ]
        more = len(report.violations) - worst
        if more > 0:
            lines.append(f"… and {more} more in the email report")
        blocks.append(_section("Worst open violations", lines))
    if report.unchecked:
        lines = [f"• {e(u.name)}: {e(u.headline)}" for u in report.unchecked[:worst]]
        blocks.append(_section("Not verified in this period", lines))
    soon = [w for w in report.waivers if w.expiring_soon]
    if soon or report.silences:
        lines = [
            f"• waiver {e(w.tenant_id)} / {e(w.rule)} ends {format_time(w.expires)}"
            for w in soon[:worst]
        ] + [
            f"• silence {e(s.tenant or 'any tenant')} / {e(s.rule or 'any rule')} "
            f"ends {format_time(s.expires)}"
            for s in report.silences[:worst]
        ]
        blocks.append(_section(f"Ending within {report.warning_days} days", lines))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _full_report(report, links)}],
        }
    )
    text = f"cwdrift weekly report {report.label}: fleet compliance {report.fleet.text}"
    return {"text": text, "blocks": blocks}


def _full_report(report: WeeklyReport, links: WebLinks | None) -> str:
    command = f"Full report: `{report_command(report)}`"
    if links is None:
        return command
    url = escape_mrkdwn(links.report(report_week(report))).replace("|", "%7C")
    return f"{command} or <{url}|on the web>"


def report_command(report: WeeklyReport) -> str:
    """The command that prints this report in full."""
    week = report.label.removesuffix(TO_DATE)
    if ISO_WEEK.match(week):
        return f"cwdrift report --week {week}"
    since, until = (f"{t:%Y-%m-%dT%H:%M}Z" for t in (report.since, report.until))
    return f"cwdrift report --since {since} --until {until}"


def _section(title: str, lines: list[str]) -> dict[str, Any]:
    body = f"*{title}*\n" + "\n".join(lines)
    return {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}
