"""A real `cwdrift check` process killed with SIGKILL while ConnectWise holds the answer to a
write that has already landed (the simulator's ``timeout_after_write``): once between creating
the ticket and recording the delivery, once between posting a note and recording it. After the
restart (the dispatcher, once the dead process's lease is over) there is exactly one ticket and
one copy of each note."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select
from ticket_env import MSP, TicketEnv, tickets_env

from monitor.alerts.channels import build_channels
from monitor.clock import utcnow
from monitor.jobs.deliver import LEASE, dispatch_pending
from monitor.settings import load_config
from monitor.simulator.scenario import Fault
from monitor.store.alert_tables import OutboxMessage
from monitor.store.database import Database

__all__ = ["tickets_env"]  # the fixture, imported for pytest

BOUND = 60.0  # seconds; a safety net that fails loudly, never a synchronisation delay
TICKETS = "/service/tickets"
NOTES = "/service/tickets/{parentId}/notes"


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.02)


def killed_mid_write(env: TicketEnv, landed: Callable[[], bool], what: str) -> None:
    """Run `cwdrift check --tenant globex` and SIGKILL it once ``landed`` holds."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monitor.cli.app import main; main()",
            "--config",
            str(env.config),
            "check",
            "--tenant",
            "globex",
        ],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(landed, what)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def restart(env: TicketEnv) -> tuple[Database, int]:
    """The dispatcher of a new process after the dead one's lease: (database, messages sent)."""
    loaded = load_config(env.config)
    db = Database(loaded.config.database)
    channels = build_channels(loaded.config.notify)
    later = utcnow() + LEASE + timedelta(seconds=1)
    report = asyncio.run(dispatch_pending(db, channels, later, clock=lambda: later))
    return db, report.sent


def psa_rows(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "psa"))
        return list(rows)


def notes(env: TicketEnv) -> list[str]:
    [ticket] = env.tickets()
    return [note["text"] for note in ticket["notes"]]


@pytest.mark.slow
def test_killed_between_creating_the_ticket_and_recording_it(tickets_env: TicketEnv) -> None:
    tickets_env.sim.state.add_fault(
        MSP, Fault(kind="timeout_after_write", endpoint=TICKETS, methods=["POST"], times=1)
    )
    killed_mid_write(tickets_env, lambda: len(tickets_env.tickets()) == 1, "the ticket to land")
    [ticket] = tickets_env.tickets()
    assert ticket["notes"] == []  # created; the process died before its note

    db, sent = restart(tickets_env)
    assert sent == 1
    [ticket] = tickets_env.tickets()
    [note] = ticket["notes"]
    assert note["text"].endswith("[cwdrift:event 1]")
    assert tickets_env.writes(TICKETS, "POST") == 1  # found by externalXRef, never re-created
    assert tickets_env.writes(NOTES, "POST") == 1
    [row] = psa_rows(db)
    assert (row.status, row.attempts) == ("sent", 2)


@pytest.mark.slow
def test_killed_between_posting_a_note_and_recording_it(tickets_env: TicketEnv) -> None:
    code, _ = tickets_env.run("check", "--tenant", "globex")
    assert code == 1 and len(notes(tickets_env)) == 1
    # A second rule starts failing: the next check adds a note to the same ticket.
    tickets_env.sim.state.set_accounting("globex", "includeSalesTaxFlag", False)
    tickets_env.sim.state.add_fault(
        MSP, Fault(kind="timeout_after_write", endpoint=f"{TICKETS}/*/notes", times=1)
    )
    killed_mid_write(tickets_env, lambda: len(notes(tickets_env)) == 2, "the note to land")

    db, sent = restart(tickets_env)
    assert sent == 1
    texts = notes(tickets_env)
    assert len(texts) == 2 and texts[1].endswith("[cwdrift:event 2]")
    assert "Include Sales Tax" in texts[1]
    assert tickets_env.writes(TICKETS, "POST") == 1 and tickets_env.writes(NOTES, "POST") == 2
    assert [(r.status, r.attempts) for r in psa_rows(db)] == [("sent", 1), ("sent", 2)]
