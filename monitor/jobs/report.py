"""The weekly report: build last week's report, queue it in the outbox, dispatch.

The report goes through the same outbox as alerts (one row per channel of
``config.report.channels``), so it inherits their retries, channel health and secret handling,
and a daemon restart mid-send never loses it. Queuing is idempotent per week and channel: a
second call for the same week queues nothing, so a re-run or a second node cannot double-send.

The daemon polls :func:`send_report_if_due` every few minutes: polling instead of a cron
trigger keeps the report's own timezone (the scheduler runs in UTC) and catches up after
downtime, and the idempotent queue makes repeated calls harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlmodel import Session

from monitor.alerts.channels import channel_configs
from monitor.alerts.notify import QueuedMessage
from monitor.errors import ConfigError
from monitor.jobs.deliver import dispatch
from monitor.jobs.runtime import Runtime
from monitor.reports.messages import build_report_email, build_report_slack, subject
from monitor.reports.model import WeeklyReport
from monitor.reports.period import last_full_week, report_due, zone
from monitor.settings import Config
from monitor.store.alert_tables import OutboxMessage
from monitor.store.outbox import FLEET, queue_messages, report_queued
from monitor.store.report_reads import weekly_report
from monitor.weblinks import links_for

log = logging.getLogger("cwdrift.reports")


async def send_report_if_due(rt: Runtime) -> list[str]:
    """The weekly report, once its slot has passed this week (sending is idempotent per week)."""
    now = rt.clock()
    if not report_due(rt.config.report, now):
        return []
    return await send_weekly(rt, now)


async def send_weekly(rt: Runtime, now: datetime) -> list[str]:
    """Build last week's report, queue it for ``report.channels`` and dispatch; the channels queued.

    Does nothing when the report is disabled or has no channels.
    """
    config = rt.config
    if not config.report.enabled or not config.report.channels:
        log.info("weekly report disabled or without channels; nothing sent")
        return []

    def queue() -> list[str]:
        with rt.db.session() as session:
            report = last_week_report(session, config, now)
            return [row.channel for row in enqueue_report(session, config, report, now)]

    queued = await asyncio.to_thread(queue)
    if queued:
        await dispatch(rt)
    return queued


def last_week_report(session: Session, config: Config, now: datetime) -> WeeklyReport:
    """The report of the last full week in the configured timezone, for every tenant."""
    period = last_full_week(now, zone(config.report.timezone))
    return weekly_report(
        session,
        since=period.since,
        until=period.until,
        tenants=config.tenants,
        now=now,
        label=period.label,
        timezone=period.timezone,
        config_silences=config.notify.silences,
    )


def enqueue_report(
    session: Session, config: Config, report: WeeklyReport, now: datetime
) -> list[OutboxMessage]:
    """One outbox row per report channel not yet given this report (in the caller's session)."""
    configs = channel_configs(config.notify)
    unknown = [c for c in config.report.channels if c not in configs]
    if unknown:
        raise ConfigError(
            f"report.channels names unknown channels {unknown}",
            location="report.channels",
            fix=f"use names defined under notify.slack/notify.email: {sorted(configs)}",
        )
    title = subject(report)
    links = links_for(config.web.base_url)
    messages = []
    for channel in config.report.channels:
        kind, channel_config = configs[channel]
        if report_queued(session, channel, f"[cwdrift] weekly report {report.label}:"):
            log.info("weekly report %s already queued for %s", report.label, channel)
            continue
        if kind == "email":
            domain = channel_config.sender.rsplit("@", 1)[-1].strip("> ") or "cwdrift.invalid"
            payload = build_report_email(report, channel=channel, domain=domain, links=links)
        else:
            payload = build_report_slack(report, links=links)
        messages.append(QueuedMessage(channel, kind, title, payload))
    return queue_messages(session, FLEET, messages, now)
