"""Message builders (pure): a tenant's notification group -> a Slack or email payload.

Payloads are plain JSON-able dicts, stored in the outbox as they are and compared exactly in
tests; the senders only transmit them.

Everything that came from ConnectWise (labels, values, member names, error text) is escaped:
for Slack mrkdwn ``&``, ``<`` and ``>`` (https://api.slack.com/reference/surfaces/formatting
#escaping), so a role named ``<!channel>`` cannot ping anyone; for email HTML by Jinja2's
autoescape.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from monitor.alerts.model import (
    COLLECTION_KEY,
    AlertEvent,
    EventKind,
    LateNote,
    NotificationGroup,
)
from monitor.data import template_environment

if TYPE_CHECKING:  # Jinja2 loads with the first e-mail body rendered, not with every check
    from jinja2 import Environment

SLACK_MAX_BLOCKS = 50  # Block Kit limit per message
SLACK_MAX_SECTION = 3000  # characters per section text

KIND_TITLES = {
    EventKind.CANNOT_VERIFY: "CANNOT VERIFY",
    EventKind.NEW: "NEW",
    EventKind.REGRESSED: "REGRESSED",
    EventKind.FIX_FAILED: "AUTOMATIC FIX DID NOT HOLD",
    EventKind.REMINDER: "STILL FAILING",
    EventKind.RESOLVED: "RESOLVED",
    EventKind.RECOVERED: "READABLE AGAIN",
}


FIXED_TITLE = "FIXED BY CWDRIFT"


def title_of(event: AlertEvent) -> str:
    """The event's heading; a resolution cwdrift's own write caused says so."""
    return FIXED_TITLE if event.fixed_by else KIND_TITLES[event.kind]


def format_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def escape_mrkdwn(text: str | None) -> str:
    """Slack's three control characters; ``&`` first so entities are not double-escaped."""
    if text is None:
        return ""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary(group: NotificationGroup) -> str:
    """``1 new, 0 resolved`` plus only the other counts that are not zero."""
    fixed = sum(1 for e in group.events if e.fixed_by)
    resolved = f"{group.count(EventKind.RESOLVED)} resolved"
    parts = [
        f"{group.count(EventKind.NEW)} new",
        f"{resolved} ({fixed} fixed by cwdrift)" if fixed else resolved,
    ]
    extras = [
        (EventKind.REGRESSED, "regressed"),
        (EventKind.REMINDER, "still failing"),
    ]
    parts += [f"{group.count(kind)} {word}" for kind, word in extras if group.count(kind)]
    if group.count(EventKind.FIX_FAILED):
        parts.append(f"{group.count(EventKind.FIX_FAILED)} automatic fix failed")
    if group.count(EventKind.CANNOT_VERIFY):
        parts.append("cannot verify")
    if group.count(EventKind.RECOVERED):
        parts.append("readable again")
    return ", ".join(parts)


def closes_only(group: NotificationGroup) -> bool:
    """Every item is good news (resolved, readable again): nothing in it is at any severity."""
    return all(not event.kind.opens for event in group.events)


def tag(group: NotificationGroup) -> str:
    """``critical`` (the worst item's severity), or ``resolved`` for good news only."""
    return "resolved" if closes_only(group) else group.severity.value


def subject_line(group: NotificationGroup) -> str:
    """``[cwdrift] [CRITICAL] acme: 1 new, 0 resolved``: sorts by tool, severity, tenant id.

    A message that only resolves reads ``[RESOLVED]``: a ``[CRITICAL]`` on good news would
    page someone for nothing. A late message (see :mod:`monitor.alerts.late`) says so right
    after the tool's tag.
    """
    late = "[late] " if group.late is not None else ""
    return f"[cwdrift] {late}[{tag(group).upper()}] {group.tenant.id}: {summary(group)}"


def last_editor(event: AlertEvent) -> str:
    """ConnectWise records who last saved the *record* (``_info.updatedBy``), not who changed
    this one field: say so, rather than name someone as the author of a change."""
    return f"{event.changed_by or 'unknown'} at {event.changed_at or '?'}"


def late_notice(late: LateNote) -> str:
    """One sentence for the top of a late message; labels are raw (each format escapes)."""
    text = (
        f"Late: written by the check of {format_time(late.written_at)}; its delivery failed "
        f"and is retried now that the channel works again ({format_time(late.sent_at)})."
    )
    if late.dropped:
        text += " Left out, because newer messages already covered them: "
        text += "; ".join(late.dropped) + "."
    return text


# -- Slack ------------------------------------------------------------------------------------


def build_slack(group: NotificationGroup) -> dict[str, Any]:
    """Block Kit blocks plus the ``text`` fallback shown in notifications and old clients."""
    tenant = group.tenant
    name = escape_mrkdwn(tenant.name)
    text = f"cwdrift: {name} ({tenant.id}) [{tag(group)}] {summary(group)}"
    if group.late is not None:
        text = f"[late] {text}"
    worst = (
        f"all resolved (worst was *{group.severity.value}*)"
        if closes_only(group)
        else f"worst severity *{group.severity.value}*"
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{tenant.name}: {summary(group)}", 150),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Tenant `{tenant.id}` · {worst} · "
                    f"checked {format_time(group.checked_at)}"
                    + (
                        f" · <{_slack_url(group.links.tenant(tenant.id))}|Open in cwdrift>"
                        if group.links
                        else ""
                    ),
                }
            ],
        },
    ]
    if group.late is not None:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _clip(escape_mrkdwn(late_notice(group.late)), SLACK_MAX_SECTION),
                    }
                ],
            }
        )
    events = group.events
    room = SLACK_MAX_BLOCKS - len(blocks) - 1  # keep one for a possible "and N more"
    for event in events[:room]:
        section = _slack_event(event)
        link = _rule_link(group, event)
        if link:
            section = _clip(section, SLACK_MAX_SECTION - len(link) - 20) + f"\n<{link}|Timeline>"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(section, SLACK_MAX_SECTION)},
            }
        )
    if len(events) > room:
        more = len(events) - room
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"… and {more} more: run `cwdrift status`"}
                ],
            }
        )
    return {"text": text, "blocks": blocks}


def _slack_event(event: AlertEvent) -> str:
    e = escape_mrkdwn
    lines = [f"*{title_of(event)}* · {event.severity.value} · *{e(event.label)}*"]
    if event.error is not None:
        lines.append(f"Error ({e(event.error.get('kind'))}): {e(event.error.get('message'))}")
    if event.expected is not None or event.actual is not None:
        lines.append(f"Expected: {e(event.expected)} · actual: {e(event.actual or 'absent')}")
    seen = [f"First seen {format_time(event.first_seen)}"] if event.first_seen else []
    if event.last_resolved_at is not None:
        seen.append(f"last resolved {format_time(event.last_resolved_at)}")
    if event.changed_by or event.changed_at:
        seen.append(f"record last edited in ConnectWise by {e(last_editor(event))}")
    if seen:
        lines.append(" · ".join(seen))
    if event.remediation and event.kind.opens:
        lines.append(f"Fix: {e(event.remediation)}")
    if event.note:
        lines.append(f"Note: {e(event.note)}")
    if event.silenced_until is not None:
        lines.append(f"_Was silenced until {format_time(event.silenced_until)}_")
    return "\n".join(lines)


def _rule_link(group: NotificationGroup, event: AlertEvent) -> str:
    """The timeline of the settings a rule reads (a tenant's page for "cannot verify")."""
    if group.links is None:
        return ""
    if event.alert_key == COLLECTION_KEY:
        return _slack_url(group.links.tenant(group.tenant.id))
    return _slack_url(group.links.rule(group.tenant.id, event.alert_key))


def _slack_url(url: str) -> str:
    """A URL inside ``<url|text>``: its own ``&``, ``<``, ``>`` and ``|`` cannot end the link
    (the path segments are percent-encoded already; this covers the configured base URL)."""
    return escape_mrkdwn(url).replace("|", "%7C")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- email ------------------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return template_environment()


def thread_id(tenant_id: str, domain: str) -> str:
    """A stable per-tenant id every alert email references, so clients thread them together."""
    return f"<cwdrift.{tenant_id}@{domain}>"


def build_email(group: NotificationGroup, *, channel: str, domain: str) -> dict[str, Any]:
    """Subject, text and HTML bodies, and threading ids; the sender adds From and To."""
    stamp = group.checked_at.strftime("%Y%m%dT%H%M%S%fZ")
    context = {
        "tenant": group.tenant,
        "severity": group.severity.value,
        "resolved_only": closes_only(group),
        "summary": summary(group),
        "checked_at": format_time(group.checked_at),
        "events": [_email_event(e, group) for e in group.events],
        "late": late_notice(group.late) if group.late is not None else None,
        "tenant_url": group.links.tenant(group.tenant.id) if group.links else None,
    }
    # When the check saw it; a late message is dated when it goes out, so mail clients show
    # it among the newest (its body says when it was written).
    date = group.late.sent_at if group.late is not None else group.checked_at
    env = _environment()
    return {
        "subject": subject_line(group),
        "message_id": f"<cwdrift.{group.tenant.id}.{stamp}.{channel}@{domain}>",
        "thread_id": thread_id(group.tenant.id, domain),
        "date": format_datetime(date, usegmt=True),
        "text": env.get_template("email/alert.txt.j2").render(context),
        "html": env.get_template("email/alert.html.j2").render(context),
    }


def _email_event(event: AlertEvent, group: NotificationGroup) -> dict[str, Any]:
    links = group.links
    if links is None:
        url = None
    elif event.alert_key == COLLECTION_KEY:
        url = links.tenant(group.tenant.id)
    else:
        url = links.rule(group.tenant.id, event.alert_key)
    return {
        "url": url,
        "title": title_of(event),
        "kind": event.kind.value,
        "severity": event.severity.value,
        "label": event.label,
        "expected": event.expected,
        "actual": event.actual,
        "show_values": event.expected is not None or event.actual is not None,
        "first_seen": format_time(event.first_seen),
        "last_resolved_at": format_time(event.last_resolved_at),
        "changed_by": event.changed_by,
        "changed_at": event.changed_at,
        "last_editor": last_editor(event),
        "remediation": event.remediation if event.kind.opens else "",
        "note": event.note,
        "silenced_until": format_time(event.silenced_until),
        "error": event.error,
    }
