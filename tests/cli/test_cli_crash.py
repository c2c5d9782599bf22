"""A cwdrift process killed between committing an alert and Slack answering: after the lease, the
alert is sent exactly once more, never dropped, never twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from cli_env import Env
from sqlmodel import select

from monitor.alerts.channels import build_channels
from monitor.clock import utcnow
from monitor.jobs.deliver import LEASE, dispatch_pending
from monitor.settings import load_config
from monitor.store.alert_tables import OutboxMessage
from monitor.store.database import Database

BOUND = 60.0  # seconds; a safety net that fails loudly, never a synchronisation delay


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.02)


def outbox(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.exec(select(OutboxMessage)))


@pytest.mark.slow
def test_killed_between_commit_and_send_resends_exactly_once(demo_env: Env) -> None:
    demo_env.slack.hold.set()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monitor.cli.app import main; main()",
            "--config",
            str(demo_env.config),
            "check",
            "--tenant",
            "globex",
        ],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: demo_env.slack.held == 1, "the alert to reach Slack")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    demo_env.slack.release()

    loaded = load_config(demo_env.config)
    db = Database(loaded.config.database)
    [row] = outbox(db)
    assert (row.status, row.attempts) == ("sending", 1)  # committed, and the send never finished
    channels = build_channels(loaded.config.notify)

    # while the dead sender's lease runs, nobody else sends it (it might still be alive)
    report = asyncio.run(dispatch_pending(db, channels, utcnow()))
    assert report.sent == 0 and demo_env.slack.messages == []

    later = utcnow() + LEASE + timedelta(seconds=1)
    report = asyncio.run(dispatch_pending(db, channels, later, clock=lambda: later))
    assert report.sent == 1
    report = asyncio.run(dispatch_pending(db, channels, later + LEASE, clock=lambda: later))
    assert report.sent == 0
    [delivered] = demo_env.slack.messages
    assert "globex" in delivered["text"]
    [row] = outbox(db)
    assert (row.status, row.attempts) == ("sent", 2)
