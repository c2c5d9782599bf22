"""``cwdrift tickets check``: is each ticket channel ready, and what would its next ticket be."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import render
from monitor.cli.common import EXIT_ERROR, EXIT_OK, JsonOpt, load
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.jobs.tickets import ChannelCheck

commands = typer.Typer()
tickets_app = typer.Typer(
    help="Service tickets in the MSP's own ConnectWise (notify.connectwise_ticket).",
    no_args_is_help=True,
)
commands.add_typer(tickets_app, name="tickets")


@tickets_app.command("check")
def tickets_check(
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this ticket channel (its name).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check each ticket channel against ConnectWise without filing anything.

    Reads the board, statuses, type and priorities the channel names, looks up the company of
    every tenant routed to it, reads the ticket member's own permissions, and shows the ticket
    the next incident would open. Exit status: 0 ready, 2 a problem (each with its fix).

    Example: cwdrift tickets check --channel psa --json
    """
    import asyncio

    from monitor.jobs.runtime import Runtime
    from monitor.jobs.tickets import check_ticket_channels

    loaded = load()
    names = [c.name for c in loaded.config.notify.connectwise_ticket]
    if not names and channel is None:
        if as_json:
            render.print_json({"channels": []})
        else:
            render.out.print(
                "no ticket channel is configured: add one under notify.connectwise_ticket "
                "(see config/example.yaml)",
                markup=False,
            )
        raise typer.Exit(EXIT_OK)
    if channel is not None and channel not in names:
        raise ConfigError(
            f"no ticket channel named {channel!r}",
            location="--channel",
            fix=f"use one of {', '.join(names) or '(none configured)'}",
        )
    runtime = Runtime.open(loaded)

    async def run() -> list[ChannelCheck]:
        async with runtime:
            return await check_ticket_channels(runtime, channel)

    checks = asyncio.run(run())
    if as_json:
        render.print_json({"channels": [_as_dict(c) for c in checks]})
    else:
        for check in checks:
            _print(check)
    raise typer.Exit(EXIT_OK if all(c.ok for c in checks) else EXIT_ERROR)


def _ref(ref: Any) -> dict[str, Any] | None:
    return None if ref is None else {"id": ref.id, "name": ref.name}


def _as_dict(check: ChannelCheck) -> dict[str, Any]:
    desk = check.desk
    return {
        "channel": check.channel,
        "site": check.site,
        "ok": check.ok,
        "board": _ref(desk.board) if desk else None,
        "statuses": (
            {"new": _ref(desk.new_status), "closed": _ref(desk.closed_status)} if desk else None
        ),
        "ticket_type": _ref(desk.ticket_type) if desk else None,
        "priorities": (
            {s.value: _ref(r) for s, r in desk.priorities.items()} if desk is not None else None
        ),
        "companies": [
            {
                "tenant": c.tenant_id,
                "identifier": c.identifier,
                "from": c.source,
                "company": _ref(c.company),
                "problem": None if c.problem is None else vars(c.problem),
            }
            for c in check.companies
        ],
        "permissions": [
            {"permission": p.permission, "level": p.level, "ok": p.level != "None"}
            for p in check.permissions
        ],
        "problems": [vars(p) for p in check.problems],
        "incidents": [
            {
                "tenant": i.tenant_id,
                "kind": i.kind.value,
                "external_xref": i.xref,
                "open": i.is_open,
                "opened_at": i.opened_at.isoformat(),
                "closed_at": i.closed_at.isoformat() if i.closed_at else None,
                "failing": list(i.failing),
            }
            for i in check.incidents
        ],
        "next_ticket": check.next_ticket,
    }


def _print(check: ChannelCheck) -> None:
    out = render.out
    verdict = ("ready", "green") if check.ok else ("PROBLEMS", "bold red")
    out.print(render.line(f"ticket channel {check.channel} ({check.site}): ", verdict))
    desk = check.desk
    if desk is not None:
        out.print(render.line(f"  board        {desk.board.name} (#{desk.board.id})"))
        out.print(
            render.line(
                f"  statuses     new: {desk.new_status.name} (#{desk.new_status.id}); "
                f"closed: {desk.closed_status.name} (#{desk.closed_status.id})"
            )
        )
        if desk.ticket_type is not None:
            out.print(
                render.line(f"  type         {desk.ticket_type.name} (#{desk.ticket_type.id})")
            )
        for severity, priority in desk.priorities.items():
            out.print(
                render.line(f"  priority     {severity.value}: {priority.name} (#{priority.id})")
            )
    for permission in check.permissions:
        level = permission.level or "not listed (unverified)"
        style = "red" if permission.level == "None" else ""
        out.print(render.line(f"  permission   {permission.permission}: ", (level, style)))
    for company in check.companies:
        if company.company is not None:
            found = f"{company.company.name} (#{company.company.id})"
            out.print(
                render.line(
                    f"  company      {company.tenant_id} -> {company.identifier}: {found} "
                    f"[{company.source}]"
                )
            )
        elif company.problem is not None:
            out.print(
                render.line(
                    f"  company      {company.tenant_id} -> {company.identifier or '—'}: ",
                    (company.problem.message, "red"),
                    f" (fix: {company.problem.fix})",
                )
            )
    for problem in check.problems:
        out.print(
            render.line("  problem      ", (problem.message, "red"), f" (fix: {problem.fix})")
        )
    for incident in check.incidents:
        state = "open" if incident.is_open else f"closed {render.when(incident.closed_at)}"
        out.print(
            render.line(
                f"  incident     {incident.tenant_id} {incident.kind.value}: {incident.xref} "
                f"({state})"
            )
        )
    _print_next(check.next_ticket)
    out.print()


def _print_next(preview: dict[str, Any] | None) -> None:
    if preview is None:
        return
    out = render.out
    ticket, note = preview["ticket"], preview["note"]
    source = "an example" if preview["example"] else f"from {preview['tenant']}'s open alert"
    out.print(render.line(f"  next ticket ({source}; nothing was filed):"))
    company = preview["company"]
    fields = [
        ("summary", ticket["summary"]),
        ("company", f"{company['name']} (#{company['id']})" if company else "not found"),
        ("externalXRef", f"{ticket['externalXRef']} (the incident's own, when it opens)"),
        ("processNotifications", str(ticket["processNotifications"]).lower()),
    ]
    for name, value in fields:
        out.print(render.line(f"    {name}: {value}"))
    out.print(render.line("    internal note:"))
    for text in note["text"].splitlines():
        out.print(render.line(f"      {text}"))
