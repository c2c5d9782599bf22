"""send_weekly: last week's report through the outbox to a real SMTP server and a Slack endpoint."""

from __future__ import annotations

import asyncio
import email
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from html_tables import parse_tables
from report_history import History

from monitor.jobs.report import send_weekly
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config
from monitor.simulator.server import serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app

MONDAY_8AM = datetime(2026, 11, 23, 8, tzinfo=UTC)

CONFIG = """
database: sqlite:///{db}
tenants:
{tenants}
notify:
  slack:
    - name: ops
      webhook_url: {slack}/services/T0/B0/report
  email:
    - name: finance
      host: 127.0.0.1
      port: {smtp_port}
      starttls: false
      sender: cwdrift@msp.example
      recipients: [finance@msp.example]
  routes:
    - channels: [ops]
report:
  timezone: UTC
  channels: [finance, ops]
"""


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def copy_database(history: History, target: Path) -> Path:
    """A private copy of the shared history, so this test's outbox rows stay its own."""
    source = Path(history.database.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


def test_weekly_report_goes_to_email_and_slack_once(
    sqlite_history: History, smtp: tuple[int, Inbox], tmp_path: Path
) -> None:
    port, inbox = smtp
    db = copy_database(sqlite_history, tmp_path / "copy.db")
    tenants = sqlite_history.config_file.read_text().split("tenants:\n", 1)[1].split("notify:")[0]
    sink = SlackSink()
    with serve_asgi(create_slack_app(sink)) as slack:
        config = tmp_path / "cwdrift.yaml"
        config.write_text(
            CONFIG.format(db=db, tenants=tenants.rstrip(), slack=slack, smtp_port=port)
        )
        rt = Runtime.open(load_config(config))
        queued = asyncio.run(send_weekly(rt, MONDAY_8AM))
        again = asyncio.run(send_weekly(rt, MONDAY_8AM))  # a re-run the same morning
        rt.db.dispose()

    assert queued == ["finance", "ops"]
    assert again == []  # idempotent per week and channel: nobody gets it twice
    (mail,) = inbox.messages
    assert mail["Subject"].startswith("[cwdrift] weekly report 2026-W47: ")
    assert "(1 critical)" in mail["Subject"]
    assert mail["To"] == "finance@msp.example"
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    assert "Fleet compliance: " in text and "umbrella (Umbrella Corporation)" in text
    tables, scripts = parse_tables(html_part.get_content())
    assert scripts == 0
    assert [row[1] for row in tables["violations"][1:]] == ["globex", "acme", "initech"]

    (slack_message,) = sink.messages
    assert slack_message["blocks"][0]["text"]["text"] == "Weekly compliance 2026-W47"
    assert slack_message["text"].startswith("cwdrift weekly report 2026-W47")


def test_disabled_report_sends_nothing(sqlite_history: History, tmp_path: Path) -> None:
    db = copy_database(sqlite_history, tmp_path / "copy.db")
    config = tmp_path / "cwdrift.yaml"
    config.write_text(f"database: sqlite:///{db}\nreport: {{enabled: false, channels: []}}\n")
    rt = Runtime.open(load_config(config))
    assert asyncio.run(send_weekly(rt, MONDAY_8AM)) == []
    rt.db.dispose()
