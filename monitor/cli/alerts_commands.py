"""``cwdrift alerts retry``: send again the alerts whose delivery failed for good."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import render
from monitor.cli.common import EXIT_ERROR, EXIT_OK, JsonOpt, load
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.jobs.deliver import Retried

commands = typer.Typer()
alerts_app = typer.Typer(help="Alert delivery: retry what failed.", no_args_is_help=True)
commands.add_typer(alerts_app, name="alerts")


def outcomes() -> dict[str, str]:
    """A message's outbox status -> what retrying it did, in words."""
    from monitor.store.outbox import FAILED, PENDING, REJECTED, SENDING, SENT, SUPERSEDED

    return {
        SENT: "sent",
        SUPERSEDED: "dropped",
        FAILED: "failed again",
        REJECTED: "refused again",
        PENDING: "will be retried",
        SENDING: "being sent",
    }


@alerts_app.command("retry")
def retry(
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this channel (a name under notify:).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send again the messages whose delivery failed for good (status shows them as failed).

    The daemon does this by itself after the next successful send on the channel; use this
    once you have fixed the channel. A message about alerts that newer messages already
    covered is dropped, with the reason; the rest go out marked as late. Exit status: 0 when
    every retried message was sent or dropped, 2 when one failed again.

    Example: cwdrift alerts retry --channel finance --json
    """
    import asyncio

    from monitor.jobs.deliver import retry_failed
    from monitor.jobs.runtime import Runtime
    from monitor.store.outbox import SENT, SUPERSEDED

    loaded = load()
    names = loaded.config.notify.channel_names
    if channel is not None and channel not in names:
        raise ConfigError(
            f"no channel named {channel!r} under notify:",
            location="--channel",
            fix=f"use one of {', '.join(names) or '(none configured)'}",
        )
    runtime = Runtime.open(loaded)

    async def run() -> Retried:
        async with runtime:
            return await retry_failed(runtime, channel)

    retried = asyncio.run(run())
    rows = [
        {
            "id": m.id,
            "tenant": m.tenant_id,
            "channel": m.channel,
            "summary": m.summary,
            "status": m.status,
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "error": None if m.status == SENT else m.last_error,
        }
        for m in retried.messages
    ]
    if as_json:
        report = retried.report
        render.print_json(
            {
                "retried": rows,
                "dispatched": {
                    "sent": report.sent,
                    "retrying": report.retrying,
                    "failed": report.failed,
                    "superseded": report.superseded,
                },
            }
        )
    else:
        _print(rows)
    done = all(row["status"] in (SENT, SUPERSEDED) for row in rows)
    raise typer.Exit(EXIT_OK if done else EXIT_ERROR)


def _print(rows: list[dict[str, Any]]) -> None:
    if not rows:
        render.out.print("Nothing to retry: no message has failed for good.")
        return
    for row in rows:
        outcome = outcomes().get(row["status"], row["status"])
        detail = f": {row['error']}" if row["error"] else ""
        render.out.print(
            f"#{row['id']} to {row['channel']} about {row['tenant']}: {outcome}{detail}",
            markup=False,
        )
    counts: dict[str, int] = {}
    for row in rows:
        outcome = outcomes().get(row["status"], row["status"])
        counts[outcome] = counts.get(outcome, 0) + 1
    render.out.print(
        f"retried {len(rows)} message(s): "
        + ", ".join(f"{n} {outcome}" for outcome, n in counts.items()),
        markup=False,
    )
