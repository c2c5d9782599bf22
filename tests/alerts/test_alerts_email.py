"""Email delivery through the outbox and dispatcher, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import pytest
from alert_builders import T0, finding, policy
from alert_db import channel_row, enqueue, outbox
from alert_servers import SMTP_PASSWORD, SMTP_USER, SmtpServer

from monitor.alerts.channels import build_channels
from monitor.alerts.config import EmailChannel, NotifyConfig
from monitor.alerts.email import EmailSender
from monitor.core.findings import Severity, Status
from monitor.jobs.deliver import dispatch_pending
from monitor.store.database import Database

LATER = T0 + timedelta(seconds=2)


def email_config(smtp: SmtpServer, password: str = SMTP_PASSWORD) -> NotifyConfig:
    channel: dict[str, Any] = {
        "name": "finance",
        "host": "127.0.0.1",
        "port": smtp.port,
        "starttls": False,  # the loopback test server speaks no TLS
        "username": SMTP_USER,
        "password": password,
        "sender": "cwdrift@example.com",
        "recipients": ["finance@example.com", "ops@example.com"],
        "timeout": 5,
    }
    return policy(email=[channel])


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_delivers_multipart_text_and_html_with_auth(db: Database, smtp: SmtpServer) -> None:
    smtp.start()
    config = email_config(smtp)
    hostile = finding(label="Role <b>Admin</b> & co", actual="<script>x</script>")
    (payload,) = enqueue(db, config, findings=[hostile])

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (raw,) = smtp.inbox.messages
    message = parse(raw)
    assert message["Subject"] == "[cwdrift] [CRITICAL] acme: 1 new, 0 resolved"
    assert message["From"] == "cwdrift@example.com"
    assert message["Date"] == "Mon, 02 Mar 2026 09:00:00 +0000"
    assert message["To"] == "finance@example.com, ops@example.com"
    assert message["Message-ID"] == payload["message_id"]
    assert message["References"] == "<cwdrift.acme@example.com>"
    assert message["In-Reply-To"] == "<cwdrift.acme@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Role <b>Admin</b> & co" in text.get_content()
    html_body = html.get_content()
    assert "Role &lt;b&gt;Admin&lt;/b&gt; &amp; co" in html_body
    assert "<script>" not in html_body
    status = channel_row(db, "finance")
    assert status is not None and status.last_success_at == LATER


async def test_server_down_is_retried_then_delivered_exactly_once(
    db: Database, smtp: SmtpServer
) -> None:
    config = email_config(smtp)  # the server is not started yet: connection refused
    enqueue(db, config)
    channels = build_channels(config)

    down = await dispatch_pending(db, channels, T0, clock=lambda: T0)

    assert (down.sent, down.retrying, down.failed) == (0, 1, 0)
    (row,) = outbox(db)
    assert row.status == "pending" and row.attempts == 1
    assert "cannot reach 127.0.0.1" in (row.last_error or "")
    retry_at = row.next_attempt_at

    smtp.start()
    too_early = await dispatch_pending(db, channels, retry_at - timedelta(seconds=1))
    back = await dispatch_pending(db, channels, retry_at, clock=lambda: retry_at)
    after = await dispatch_pending(db, channels, retry_at + timedelta(hours=1))

    assert too_early.sent == 0
    assert back.sent == 1
    assert after.sent == 0
    assert len(smtp.inbox.messages) == 1
    (row,) = outbox(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


async def test_wrong_password_is_permanent_and_never_shown(
    db: Database, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    smtp.start()
    config = email_config(smtp, password="hunter2-wrong")
    enqueue(db, config)

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)

    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    assert smtp.inbox.messages == []
    (row,) = outbox(db)
    assert row.status == "failed"
    assert "refused the login" in (row.last_error or "")
    status = channel_row(db, "finance")
    assert status is not None and status.permanent_failure
    for text in (row.last_error or "", " ".join(report.errors), caplog.text, repr(config)):
        assert "hunter2" not in text


async def test_resolution_threads_with_the_opening(db: Database, smtp: SmtpServer) -> None:
    smtp.start()
    config = email_config(smtp)
    enqueue(db, config, findings=[finding(Status.FAIL, severity=Severity.HIGH)])
    enqueue(db, config, findings=[finding(Status.PASS, severity=Severity.HIGH)], now=LATER)

    report = await dispatch_pending(db, build_channels(config), LATER, clock=lambda: LATER)

    assert report.sent == 2
    opening, closing = (parse(raw) for raw in smtp.inbox.messages)
    assert opening["Subject"] == "[cwdrift] [HIGH] acme: 1 new, 0 resolved"
    assert closing["Subject"] == "[cwdrift] [RESOLVED] acme: 0 new, 1 resolved"
    assert opening["References"] == closing["References"]
    assert opening["Message-ID"] != closing["Message-ID"]


async def test_the_sender_never_sends_a_password_without_tls_off_this_machine(
    db: Database, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The config refuses such a channel; a channel built around the validator is refused too."""
    caplog.set_level(logging.DEBUG)
    smtp.start()
    valid = email_config(smtp)
    (channel,) = valid.email
    remote = EmailChannel.model_construct(
        **{**dict(channel), "host": "smtp.example.invalid"}  # no validation: as a bug would
    )
    enqueue(db, valid)

    report = await dispatch_pending(db, {"finance": EmailSender(remote)}, T0, clock=lambda: LATER)

    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    (row,) = outbox(db)
    assert (row.last_error or "").startswith(
        "email channel 'finance': refusing to send the password to smtp.example.invalid "
        "without TLS (fix: set starttls: true"
    )
    assert "hunter2" not in (row.last_error or "") + caplog.text
