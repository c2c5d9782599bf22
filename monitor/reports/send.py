"""Sending the weekly report: build last week's report, queue it in the alerts outbox, dispatch.

The report goes through the same outbox as alerts (one row per channel of
``config.report.channels``), so it inherits their retries, channel health and secret handling,
and a daemon restart mid-send never loses it. Queuing is idempotent per week and channel: a
second call for the same week queues nothing, so a re-run or a second node cannot double-send.

The daemon polls :func:`report_due` every few minutes and calls :func:`send_weekly` when the
configured slot (default Monday 08:00 in ``report.timezone``) has passed this week; polling
instead of a cron trigger keeps the report's own timezone (the scheduler runs in UTC) and
catches up after downtime, and the idempotent queue makes repeated calls harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from monitor.alerts.channels import channel_configs
from monitor.alerts.outbox import PENDING
from monitor.errors import ConfigError
from monitor.reports.build import build_weekly
from monitor.reports.messages import build_report_email, build_report_slack, subject
from monitor.reports.model import WeeklyReport
from monitor.reports.period import last_full_week, zone
from monitor.settings import Config, ReportConfig
from monitor.store.alert_tables import OutboxMessage

if TYPE_CHECKING:
    from monitor.jobs import Runtime

log = logging.getLogger("cwdrift.reports")

FLEET = "*"  # the outbox's tenant column for messages about the whole fleet
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


def last_week_report(session: Session, config: Config, now: datetime) -> WeeklyReport:
    """The report of the last full week in the configured timezone, for every tenant."""
    period = last_full_week(now, zone(config.report.timezone))
    return build_weekly(
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
    rows = []
    for channel in config.report.channels:
        kind, channel_config = configs[channel]
        if _already_queued(session, channel, report.label):
            log.info("weekly report %s already queued for %s", report.label, channel)
            continue
        if kind == "email":
            domain = channel_config.sender.rsplit("@", 1)[-1].strip("> ") or "cwdrift.invalid"
            payload = build_report_email(report, channel=channel, domain=domain)
        else:
            payload = build_report_slack(report)
        rows.append(
            OutboxMessage(
                tenant_id=FLEET,
                channel=channel,
                kind=kind,
                summary=title,
                created_at=now,
                next_attempt_at=now,
                status=PENDING,
                payload=json.dumps(payload, sort_keys=True),
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def _already_queued(session: Session, channel: str, label: str) -> bool:
    prefix = f"[cwdrift] weekly report {label}:"
    found = session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.tenant_id == FLEET,
            OutboxMessage.channel == channel,
            col(OutboxMessage.summary).startswith(prefix, autoescape=True),
        )
    ).first()
    return found is not None


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
        from monitor.jobs import dispatch

        await dispatch(rt)
    return queued
