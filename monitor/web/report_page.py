"""The reports page: the weekly report of any week, exactly as the e-mail renders it (the same
template), with links into the other pages and a strip to step from week to week.

``?week=2026-W47`` (weeks in ``report.timezone``); without it, the current week to date, as
``cwdrift report`` gives. The JSON twin is ``cwdrift report --format json``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.errors import ConfigError
from monitor.reports.period import TO_DATE, Period, iso_week, up_to, week_to_date, zone
from monitor.reports.render import render_html, render_json
from monitor.store import Session
from monitor.store.report_reads import weekly_report
from monitor.web.render import PageError, View
from monitor.web.security import REPORT_CSP
from monitor.web.site import Site
from monitor.weblinks import FLEET, WebLinks, report_path


def report_period(site: Site, week: str | None) -> Period:
    now = site.clock()
    tz = zone(site.config().config.report.timezone)
    if not week:
        return week_to_date(now, tz)
    try:
        return up_to(iso_week(week, tz), now)
    except ConfigError as exc:
        raise PageError(400, f"week={week!r}: {exc.problem}", fix=exc.fix) from None


def report_view(site: Site, session: Session, week: str | None) -> View:
    period = report_period(site, week)
    config = site.config().config
    now = site.clock()
    report = weekly_report(
        session,
        since=period.since,
        until=period.until,
        tenants=config.tenants,
        now=now,
        label=period.label,
        timezone=config.report.timezone,
        config_silences=config.notify.silences,
    )
    tz = zone(config.report.timezone)
    before = iso_week_label(period.since - timedelta(days=3), tz)
    after = iso_week_label(period.since + timedelta(days=10), tz)
    nav = [("← Fleet", FLEET), (f"← {before}", report_path(before))]
    if not period.label.endswith(TO_DATE):
        nav.append((f"{after} →", report_path(after)))
    nav.append(("JSON", report_path(period.label.split(",")[0]) + "&format=json"
                if week else report_path() + "?format=json"))  # fmt: skip
    html = render_html(report, links=WebLinks(""), nav=nav)
    return View(
        "",
        {"html": html},
        json.loads(render_json(report)),
        title=report.title,
        headers={"content-security-policy": REPORT_CSP},
    )


def iso_week_label(moment: datetime, tz: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"
