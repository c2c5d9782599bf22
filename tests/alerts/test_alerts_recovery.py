"""A mail relay in trouble, then back: nothing lost, nothing twice, never out of order unsaid.

Real SMTP (aiosmtpd) answering 550 during an "outage"; clocks are injected, nothing sleeps.
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from alert_builders import EXPENSE_RULE, INVOICING_RULE, T0, finding, hours, policy
from alert_db import enqueue, outbox
from alert_servers import SMTP_PASSWORD, SMTP_USER, SmtpServer

from monitor.alerts.channels import build_channels
from monitor.alerts.config import NotifyConfig
from monitor.alerts.model import TenantRef
from monitor.core.findings import Finding, Severity, Status
from monitor.jobs.deliver import dispatch_pending
from monitor.store.database import Database
from monitor.store.outbox import ChannelHealth, channel_status, revive_failed

OUTAGE = "550 5.7.1 Relaying denied: relay in maintenance"
GLOBEX = TenantRef("globex", "Globex")
EXPENSES = "Transfer Expenses as a Bill is off"
INVOICING = "Role may not delete invoices"


def email_config(smtp: SmtpServer) -> NotifyConfig:
    channel: dict[str, Any] = {
        "name": "finance",
        "host": "127.0.0.1",
        "port": smtp.port,
        "starttls": False,  # loopback test server without TLS; plain AUTH is allowed here only
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "sender": "cwdrift@example.com",
        "recipients": ["finance@example.com"],
        "timeout": 5,
    }
    return policy(email=[channel])


def expenses(status: Status) -> Finding:
    return finding(status, rule=EXPENSE_RULE, label=EXPENSES)


def invoicing(status: Status) -> Finding:
    return finding(
        status,
        rule=INVOICING_RULE,
        label=INVOICING,
        severity=Severity.HIGH,
        expected="None",
        actual="All",
        keys=("permission.finance.invoicing",),
    )


def received(smtp: SmtpServer) -> list[EmailMessage]:
    parsed = []
    for raw in smtp.inbox.messages:
        message = message_from_bytes(raw, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        parsed.append(message)
    return parsed


def subjects(smtp: SmtpServer) -> list[str]:
    return [str(message["Subject"]) for message in received(smtp)]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def health(db: Database) -> ChannelHealth:
    with db.session() as session:
        (found,) = channel_status(session)
    return found


async def dispatch(db: Database, config: NotifyConfig, at: Any) -> Any:
    return await dispatch_pending(db, build_channels(config), at, clock=lambda: at)


async def test_a_550_outage_loses_nothing_and_sends_nothing_twice(
    db: Database, smtp: SmtpServer
) -> None:
    smtp.start()
    smtp.inbox.refuse = OUTAGE
    config = email_config(smtp)

    enqueue(db, config, findings=[expenses(Status.FAIL), invoicing(Status.FAIL)], now=T0)
    first = await dispatch(db, config, T0)
    enqueue(db, config, findings=[expenses(Status.PASS), invoicing(Status.FAIL)], now=hours(1))
    second = await dispatch(db, config, hours(1))

    assert (first.failed, second.failed) == (1, 1)  # the first is not retried into the outage
    assert len(smtp.inbox.refused) == 2 and smtp.inbox.messages == []
    assert [row.status for row in outbox(db)] == ["failed", "failed"]
    down = health(db)
    assert down.permanent_failure and down.failed == 2
    assert "SMTP 550" in (down.last_error or "")

    # The relay is back; another tenant's alert is the first send to show it.
    smtp.inbox.refuse = None
    enqueue(db, config, tenant=GLOBEX, findings=[expenses(Status.FAIL)], now=hours(2))
    back = await dispatch(db, config, hours(2))

    assert (back.sent, back.failed, back.superseded) == (3, 0, 0)
    assert subjects(smtp) == [
        "[cwdrift] [CRITICAL] globex: 1 new, 0 resolved",
        # in the order the checks wrote them: the "new" before its "resolved"
        "[cwdrift] [late] [CRITICAL] acme: 2 new, 0 resolved",
        "[cwdrift] [late] [RESOLVED] acme: 0 new, 1 resolved",
    ]
    late_new = received(smtp)[1]
    assert "Late: written by the check of 2026-03-02 09:00 UTC" in text_of(late_new)
    assert late_new["Date"] == "Mon, 02 Mar 2026 11:00:00 +0000"  # dated when it went out
    assert [row.status for row in outbox(db)] == ["sent", "sent", "sent"]
    recovered = health(db)
    assert (recovered.permanent_failure, recovered.last_error, recovered.failed) == (
        False,
        None,
        0,
    )

    for later in (hours(3), hours(30)):
        assert (await dispatch(db, config, later)).sent == 0
    assert len(smtp.inbox.messages) == 3


async def test_a_resolution_that_got_through_first_drops_its_late_new_with_a_word(
    db: Database, smtp: SmtpServer
) -> None:
    smtp.start()
    smtp.inbox.refuse = OUTAGE
    config = email_config(smtp)
    enqueue(db, config, findings=[expenses(Status.FAIL), invoicing(Status.FAIL)], now=T0)
    await dispatch(db, config, T0)

    smtp.inbox.refuse = None
    # The next check of the same tenant resolves one alert; its message goes out first and
    # shows the relay works, which brings the failed "2 new" back, after it.
    enqueue(db, config, findings=[expenses(Status.PASS), invoicing(Status.FAIL)], now=hours(1))
    report = await dispatch(db, config, hours(1))

    assert (report.sent, report.superseded) == (2, 0)
    resolved, late = received(smtp)
    assert resolved["Subject"] == "[cwdrift] [RESOLVED] acme: 0 new, 1 resolved"
    assert late["Subject"] == "[cwdrift] [late] [HIGH] acme: 1 new, 0 resolved"
    body = text_of(late)
    assert f"[NEW] high: {INVOICING}" in body
    assert f"[NEW] critical: {EXPENSES}" not in body  # never a "new" after its "resolved"
    assert f"Left out, because newer messages already covered them: {EXPENSES}." in body
    html = late.get_body(("html",))
    assert html is not None and "Left out" in html.get_content()


async def test_a_late_message_with_nothing_left_to_say_is_dropped_with_the_reason(
    db: Database, smtp: SmtpServer
) -> None:
    smtp.start()
    smtp.inbox.refuse = OUTAGE
    config = email_config(smtp)
    enqueue(db, config, findings=[expenses(Status.FAIL)], now=T0)
    await dispatch(db, config, T0)

    smtp.inbox.refuse = None
    enqueue(db, config, findings=[expenses(Status.PASS)], now=hours(1))
    report = await dispatch(db, config, hours(1))

    assert (report.sent, report.superseded) == (1, 1)
    assert subjects(smtp) == ["[cwdrift] [RESOLVED] acme: 0 new, 1 resolved"]
    dropped, resolved = outbox(db)
    assert (dropped.status, resolved.status) == ("superseded", "sent")
    assert dropped.last_error == (
        f"superseded: newer messages (#{resolved.id}, the last sent 2026-03-02 10:00 UTC) "
        "already told this channel about every alert in it"
    )
    assert report.notes == [f"finance: outbox #{dropped.id} {dropped.last_error}"]
    assert (await dispatch(db, config, hours(5))).sent == 0
    assert health(db).failed == 0


async def test_a_message_refused_for_its_own_sake_is_retried_once_then_only_on_request(
    db: Database, smtp: SmtpServer
) -> None:
    smtp.start()
    smtp.inbox.refuse = "554 5.7.1 Message content rejected"
    smtp.inbox.refuse_if = b"globex"  # the relay works, but not for this message
    config = email_config(smtp)

    enqueue(db, config, tenant=GLOBEX, findings=[expenses(Status.FAIL)], now=T0)
    await dispatch(db, config, T0)
    enqueue(db, config, findings=[expenses(Status.FAIL)], now=hours(1))
    report = await dispatch(db, config, hours(1))

    # acme's success showed the channel works: globex's message was tried again, and refused.
    assert (report.sent, report.failed) == (1, 1)
    assert len(smtp.inbox.refused) == 2
    assert [row.status for row in outbox(db)] == ["rejected", "sent"]
    assert health(db).rejected == 1

    enqueue(db, config, findings=[expenses(Status.PASS)], now=hours(2))
    await dispatch(db, config, hours(2))
    assert len(smtp.inbox.refused) == 2  # a further success does not retry it again

    smtp.inbox.refuse = None  # whatever the relay disliked is fixed; someone asks for a retry
    with db.session() as session:
        revived = revive_failed(session, hours(3))
    report = await dispatch(db, config, hours(3))
    assert report.sent == 1
    assert subjects(smtp)[-1] == "[cwdrift] [late] [CRITICAL] globex: 1 new, 0 resolved"
    assert [row.status for row in outbox(db)] == ["sent", "sent", "sent"]
    assert revived == [outbox(db)[0].id]


async def test_a_tenants_later_message_waits_for_its_earlier_one_to_be_retried(
    db: Database, smtp: SmtpServer
) -> None:
    config = email_config(smtp)  # not started: connection refused, a transient failure
    enqueue(db, config, findings=[expenses(Status.FAIL)], now=T0)
    down = await dispatch(db, config, T0)
    assert down.retrying == 1
    (first,) = outbox(db)
    retry_at = first.next_attempt_at

    smtp.start()
    early = T0 + timedelta(seconds=10)
    enqueue(db, config, findings=[expenses(Status.PASS)], now=early)
    enqueue(db, config, tenant=GLOBEX, findings=[expenses(Status.FAIL)], now=early)
    held = await dispatch(db, config, early)

    # acme's "resolved" is due, but its "new" is not yet: it waits; globex is not held up.
    assert held.sent == 1
    assert subjects(smtp) == ["[cwdrift] [CRITICAL] globex: 1 new, 0 resolved"]

    await dispatch(db, config, retry_at)
    assert subjects(smtp)[1:] == [
        "[cwdrift] [CRITICAL] acme: 1 new, 0 resolved",
        "[cwdrift] [RESOLVED] acme: 0 new, 1 resolved",
    ]
    assert health(db).last_error is None  # the transient error is history once sent


async def test_a_weekly_report_that_failed_is_resent_as_it_was(
    db: Database, smtp: SmtpServer
) -> None:
    """Messages without a notification group (the report) go out unchanged when retried."""
    from monitor.alerts.notify import QueuedMessage
    from monitor.store.outbox import FLEET, queue_messages

    smtp.start()
    smtp.inbox.refuse = OUTAGE
    config = email_config(smtp)
    payload = {
        "subject": "[cwdrift] weekly report 2026-W09: all compliant",
        "message_id": "<r@example.com>",
        "thread_id": "<r@example.com>",
        "date": "Mon, 02 Mar 2026 08:00:00 +0000",
        "text": "report",
        "html": "<p>report</p>",
    }
    with db.session() as session:
        queue_messages(
            session, FLEET, [QueuedMessage("finance", "email", payload["subject"], payload)], T0
        )
    await dispatch(db, config, T0)
    smtp.inbox.refuse = None
    enqueue(db, config, findings=[expenses(Status.FAIL)], now=hours(1))
    await dispatch(db, config, hours(1))

    assert subjects(smtp) == [
        "[cwdrift] [CRITICAL] acme: 1 new, 0 resolved",
        "[cwdrift] weekly report 2026-W09: all compliant",
    ]
