"""Slack delivery through the outbox and dispatcher, against a local Slack-compatible endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from alert_builders import T0, policy
from alert_db import channel_row, enqueue, outbox
from alert_servers import BUSY_TOKEN, GOOD_TOKEN, RETRY_AFTER_SECONDS, REVOKED_TOKEN, SlackEndpoint
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.channels import build_channels
from monitor.alerts.config import NotifyConfig
from monitor.alerts.sender import BACKOFF_MAX, RETRY_AFTER_CAP, backoff, retry_delay
from monitor.alerts.slack import parse_retry_after
from monitor.jobs.deliver import dispatch_pending
from monitor.store.database import Database
from monitor.store.outbox import ChannelHealth, channel_status

LATER = T0 + timedelta(seconds=3)


def webhook(slack: SlackEndpoint, secret: str) -> NotifyConfig:
    return policy(slack=[{"name": "ops", "webhook_url": slack.webhook_url(secret)}])


def bot(slack: SlackEndpoint, token: str) -> NotifyConfig:
    return policy(
        slack=[
            {"name": "ops", "bot_token": token, "channel": "C0123", "base_url": f"{slack.url}/api/"}
        ]
    )


@pytest.mark.parametrize("transport", ["webhook", "bot"])
async def test_delivers_the_built_payload_once(
    db: Database, slack: SlackEndpoint, transport: str
) -> None:
    config = webhook(slack, "okhunter2") if transport == "webhook" else bot(slack, GOOD_TOKEN)
    (payload,) = enqueue(db, config)

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)
    again = await dispatch_pending(db, build_channels(config), LATER, clock=lambda: LATER)

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    assert again.sent == 0
    (body,) = slack.bodies()
    assert body["text"] == payload["text"]
    assert body["blocks"] == payload["blocks"]
    if transport == "bot":
        assert body["channel"] == "C0123"
    (row,) = outbox(db)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, LATER)
    status = channel_row(db, "ops")
    assert status is not None
    assert status.last_success_at == LATER and not status.permanent_failure


@pytest.mark.parametrize("transport", ["webhook", "bot"])
async def test_rate_limited_is_retried_after_retry_after(
    db: Database, slack: SlackEndpoint, transport: str
) -> None:
    config = webhook(slack, "busyhunter2") if transport == "webhook" else bot(slack, BUSY_TOKEN)
    enqueue(db, config)

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)

    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    (row,) = outbox(db)
    assert row.status == "pending"
    assert row.next_attempt_at == LATER + timedelta(seconds=RETRY_AFTER_SECONDS)
    assert "rate limited" in (row.last_error or "")
    # not due before Retry-After has passed
    early = await dispatch_pending(db, build_channels(config), LATER + timedelta(seconds=6))
    assert early.sent + early.retrying == 0


async def test_server_error_backs_off_exponentially(db: Database, slack: SlackEndpoint) -> None:
    config = webhook(slack, "downhunter2")
    enqueue(db, config)
    now = T0
    for attempt in (1, 2, 3):
        report = await dispatch_pending(db, build_channels(config), now, clock=frozen(now))
        assert report.retrying == 1
        (row,) = outbox(db)
        assert row.attempts == attempt
        assert row.next_attempt_at == now + backoff(attempt)
        now = row.next_attempt_at
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(seconds=s) for s in (30, 60, 120)]
    assert backoff(100) == timedelta(hours=1)


@pytest.mark.parametrize("transport", ["webhook", "bot"])
async def test_invalid_token_is_permanent_and_recorded_on_the_channel(
    db: Database, slack: SlackEndpoint, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = (
        webhook(slack, "revokedhunter2") if transport == "webhook" else bot(slack, REVOKED_TOKEN)
    )
    enqueue(db, config)

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)
    again = await dispatch_pending(db, build_channels(config), T0 + timedelta(days=1))

    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    assert again.sent + again.retrying + again.failed == 0  # never retried
    (row,) = outbox(db)
    assert row.status == "failed"
    assert "invalid_token" in (row.last_error or "")
    (health,) = _status(db)
    assert health.permanent_failure
    assert health.last_error == row.last_error
    assert health.last_error_at == LATER
    # secrets: not in the stored error, the report, or any log line
    for text in (row.last_error or "", " ".join(report.errors), caplog.text):
        assert "hunter2" not in text


async def test_unreachable_slack_is_transient_without_leaking_the_url(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from alert_servers import free_port

    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/hunter2secret"
    config = policy(slack=[{"name": "ops", "webhook_url": url}])
    enqueue(db, config)

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)

    assert report.retrying == 1
    (row,) = outbox(db)
    assert row.status == "pending"
    assert "cannot reach Slack" in (row.last_error or "")
    assert "hunter2" not in (row.last_error or "") + caplog.text


async def test_a_slack_server_that_hangs_up_is_transient_without_leaking_the_url(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp (under slack-sdk's async client) raises non-OSError types for this."""
    caplog.set_level(logging.DEBUG)

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T0/B0/hunter2secret"
    config = policy(slack=[{"name": "ops", "webhook_url": url}])
    enqueue(db, config)
    async with server:
        report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)

    assert report.retrying == 1
    (row,) = outbox(db)
    assert row.status == "pending"
    assert "cannot reach Slack (ServerDisconnectedError)" in (row.last_error or "")
    assert "hunter2" not in (row.last_error or "") + caplog.text


def frozen(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def _status(db: Database) -> list[ChannelHealth]:
    with db.session() as session:
        return channel_status(session)


# -- Retry-After from outside: capped before it becomes a delay -------------------------------


@pytest.mark.parametrize(
    ("header", "delay"),
    [
        ("99999999999", RETRY_AFTER_CAP),  # three thousand years
        ("1e400", RETRY_AFTER_CAP),  # infinity once parsed
        ("inf", RETRY_AFTER_CAP),
        ("nan", backoff(1)),
        ("-5", backoff(1)),
        ("Wed, 21 Oct 2015 07:28:00 GMT", backoff(1)),  # an HTTP-date: not trusted
        ("", backoff(1)),
        ("600", timedelta(minutes=10)),
    ],
)
async def test_an_absurd_retry_after_never_parks_the_channel(
    db: Database, slack: SlackEndpoint, header: str, delay: timedelta
) -> None:
    slack.retry_after = header
    config = webhook(slack, "busyhunter2")
    enqueue(db, config)

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: LATER)

    assert report.retrying == 1
    (row,) = outbox(db)
    assert row.next_attempt_at == LATER + delay


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    header=st.one_of(
        st.text(max_size=40),
        st.floats().map(repr),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
    ),
    attempts=st.integers(min_value=1, max_value=10**9),
)
def test_any_retry_after_header_gives_a_bounded_delay(header: str, attempts: int) -> None:
    seconds = parse_retry_after({"Retry-After": header})
    delay = retry_delay(attempts, seconds)
    assert timedelta(0) <= delay <= max(RETRY_AFTER_CAP, BACKOFF_MAX)
    assert seconds is None or 0 <= seconds <= RETRY_AFTER_CAP.total_seconds()
    assert T0 + delay >= T0  # never overflows a datetime


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.one_of(st.none(), st.floats()))
def test_any_channels_retry_after_gives_a_bounded_delay(seconds: float | None) -> None:
    delay = retry_delay(3, seconds)
    assert timedelta(0) <= delay <= RETRY_AFTER_CAP
