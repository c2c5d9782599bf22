"""``cwdrift report``, ``waive``, ``waivers`` and ``prune``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

import typer

from monitor.cli import render
from monitor.cli.common import (
    EXIT_OK,
    JsonOpt,
    OutOpt,
    TenantOpt,
    choice,
    expiry,
    load,
    open_database,
    parse_when,
    refuse_binary_on_terminal,
    write_output,
)
from monitor.clock import utcnow
from monitor.core.findings import Status
from monitor.errors import ConfigError

if TYPE_CHECKING:  # reports, the baseline and the store are imported by the commands
    from monitor.core.baseline import Rule
    from monitor.reports.render import Format
    from monitor.store.history import FindingAt

commands = typer.Typer()


@commands.command()
def report(
    week: Annotated[
        str | None,
        typer.Option(help="ISO week, e.g. 2026-W47 (the current one is cut at now, 'to date')."),
    ] = None,
    last_week: Annotated[
        bool, typer.Option("--last-week", help="The last full week (what the daemon sends).")
    ] = False,
    since: Annotated[str | None, typer.Option(help="Custom period start (UTC).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Custom period end (UTC), exclusive; default now.")
    ] = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="html, text, json, csv or pdf.")
    ] = "text",
    out: OutOpt = None,
) -> None:
    """The compliance report: scores and trend, violations, changes, waivers.

    Without a period it covers the current week to date; --last-week gives the last full
    week. Weeks run Monday to Monday in report.timezone of the config, and no period reaches
    past now.

    Example: cwdrift report --last-week --format html --out report.html
    """
    from monitor.jobs.runtime import select_tenants
    from monitor.reports.period import custom, iso_week, last_full_week, up_to, week_to_date, zone
    from monitor.reports.render import FORMATS, render
    from monitor.store.report_reads import weekly_report

    chosen = choice(fmt, FORMATS, "--format")
    if chosen == "pdf":
        refuse_binary_on_terminal(out)  # before the work of building it
    given = [name for name, on in (("--week", week), ("--last-week", last_week)) if on]
    if since or until:
        given.append("--since/--until")
    if len(given) > 1:
        raise ConfigError(
            f"{' and '.join(given)} exclude each other",
            fix="give one period, or none for the current week to date",
        )
    loaded = load(connectwise=False)  # reads the database only
    config = loaded.config
    tz = zone(config.report.timezone)
    now = utcnow()
    if since or until:
        start, end = parse_when(since, "--since"), parse_when(until, "--until") or now
        if start is None:
            raise ConfigError("--until needs --since", location="--since", fix="add --since")
        period = custom(start, min(end, now))
    elif week:
        period = up_to(iso_week(week, tz), now)
    elif last_week:
        period = last_full_week(now, tz)
    else:
        period = week_to_date(now, tz)
    tenants = select_tenants(loaded, tenant)
    db = open_database(loaded)
    with db.session() as session:
        weekly = weekly_report(
            session,
            since=period.since,
            until=period.until,
            tenants=tenants,
            now=now,
            label=period.label,
            timezone=config.report.timezone,
            config_silences=config.notify.silences,
        )
    write_output(render(weekly, cast("Format", chosen)), out)  # choice() checked it


@commands.command()
def waive(
    tenant: TenantOpt,
    rule: Annotated[str, typer.Option(help="Rule id, e.g. include-cogs-entries-is-on.")],
    by: Annotated[str, typer.Option(help="Who accepts (or removes) the deviation.")],
    value: Annotated[
        str | None,
        typer.Option(
            help="The accepted actual value, pinned (as findings show it, e.g. off, None, "
            "QB99; UI names such as QuickBooks are accepted)."
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why the deviation is accepted.")] = None,
    expires: Annotated[
        str | None, typer.Option(help="A duration such as 90d, or an ISO date/time.")
    ] = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Withdraw the tenant's database waiver.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Accept a deviation for one tenant and rule until it expires, or --remove it.

    The finding reads "waived" while the actual value equals --value; any other value, or the
    expiry, makes it fail (and alert) again. Every change is logged in waiver_event.

    Example: cwdrift waive --tenant acme --rule inventory-soh-option-is-on --value off
    --reason "SOH kept in the WMS" --by jo@acme.example --expires 90d
    """
    from monitor.core.baseline import load_baseline
    from monitor.store.history import findings_at
    from monitor.store.waivers import add_waiver, remove_waiver

    loaded = load(connectwise=False)  # reads the database only
    loaded.config.tenant(tenant)
    now = utcnow()
    db = open_database(loaded)
    warnings: list[str] = []
    with db.session() as session:
        if remove:
            waiver = remove_waiver(
                session, tenant_id=tenant, rule=rule, by=by, now=now, note=reason or ""
            )
            action = "removed"
        else:
            missing = [
                name
                for name, given in (
                    ("--value", value),
                    ("--reason", reason),
                    ("--expires", expires),
                )
                if given is None
            ]
            if missing:
                raise ConfigError(
                    f"missing {', '.join(missing)}",
                    location="cwdrift waive",
                    fix="a waiver needs --value, --reason, --by and --expires (or use --remove)",
                )
            assert value is not None and reason is not None and expires is not None
            baseline = load_baseline(loaded.baseline_path)
            if rule in baseline:
                value = _waivable_value(baseline.rule(rule), value)
                warnings = _waiver_warnings(findings_at(session, tenant, now).get(rule), value)
            waiver = add_waiver(
                session,
                tenant_id=tenant,
                rule=rule,
                value=value,
                reason=reason,
                accepted_by=by,
                expires=expiry(expires, now),
                now=now,
                known_rules={r.id for r in baseline.rules},
            )
            action = "accepted"
    if as_json:
        render.print_json(
            {
                "action": action,
                "tenant": tenant,
                **waiver.model_dump(mode="json"),
                "warnings": warnings,
            }
        )
        return
    for warning in warnings:
        render.err.print(f"warning: {warning}", style="yellow")
    render.out.print(
        f"{action}: {tenant} / {waiver.rule} = {waiver.value!r} until "
        f"{render.when(waiver.expires)} (by {by})"
    )


def _waivable_value(rule: Rule, value: str) -> str:
    """``value`` as the rule's findings show it; a value they can never show is refused."""
    choices = rule.requirement.actual_values()
    if choices is None:
        return value  # free text (a role name, segment captions): pinned as given
    canonical = choices.resolve(value)
    if canonical is None:
        raise ConfigError(
            f"{rule.id} never reads {value!r}, so a waiver for it would accept nothing",
            location="--value",
            fix=f"use one of {choices.describe()}",
        )
    return canonical


def _waiver_warnings(current: FindingAt | None, value: str) -> list[str]:
    """What the user may not have meant: waiving a rule that passes, or another value."""
    if current is None:
        return []
    if current.status is Status.PASS:
        return [
            f"{current.rule_id} passes now (actual {current.actual!r}); the waiver changes "
            f"nothing until it fails with exactly {value!r}"
        ]
    if current.status in (Status.FAIL, Status.WAIVED) and current.actual != value:
        return [
            f"{current.rule_id} fails now with {current.actual!r}, not {value!r}: it keeps "
            "failing until ConnectWise shows the waived value"
        ]
    return []


@commands.command()
def waivers(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    log: Annotated[
        bool, typer.Option("--log", help="Show the change log of database waivers instead.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Accepted deviations from the config file and the database, with expiry.

    Example: cwdrift waivers --tenant acme --json
    """
    from monitor.store.waivers import list_waivers, waiver_events

    loaded = load(connectwise=False)  # reads the database only
    if tenant is not None:
        loaded.config.tenant(tenant)
    now = utcnow()
    db = open_database(loaded)
    with db.session() as session:
        if log:
            events = [e.to_dict() for e in waiver_events(session, tenant)]
        else:
            rows = [w.to_dict(now) for w in list_waivers(session, loaded.config.tenants, tenant)]
    if log:
        if as_json:
            render.print_json({"events": events})
            return
        table = render.table(
            "waiver changes, oldest first",
            ("at", "tenant", "rule", "action", "by", "value", "expires", "reason"),
        )
        for e in events:
            table.add_row(
                render.when_text(e["at"]), render.cell(e["tenant"]), render.cell(e["rule"]),
                e["action"], render.cell(e["actor"]), render.cell(render.show(e["value"])),
                render.when_text(e["expires"]), render.cell(e["reason"]),
            )  # fmt: skip
        render.out.print(table)
        return
    if as_json:
        render.print_json({"waivers": rows})
        return
    if not rows:
        render.out.print("No waivers.")
        return
    table = render.table(
        "waivers", ("tenant", "rule", "value", "expires", "accepted by", "reason", "source")
    )
    for row in rows:
        expires = render.when_text(row["expires"]) + (" (expired)" if row["expired"] else "")
        table.add_row(
            render.cell(row["tenant"]), render.cell(row["rule"]),
            render.cell(render.show(row["value"])), expires, render.cell(row["accepted_by"]),
            render.cell(row["reason"]), row["source"],
        )  # fmt: skip
    render.out.print(table)


@commands.command()
def prune(
    as_json: JsonOpt = False,
) -> None:
    """Delete redundant check rows older than retention.check_rows; changes and transitions stay.

    Example: cwdrift prune
    """
    from monitor.store.history import prune_checks

    loaded = load(connectwise=False)  # reads the database only
    horizon = utcnow() - loaded.config.retention.check_rows
    db = open_database(loaded)
    with db.session() as session:
        deleted = prune_checks(session, older_than=horizon)
    if as_json:
        render.print_json({"deleted": deleted, "older_than": horizon.isoformat()})
    else:
        render.out.print(f"pruned {deleted} redundant check rows older than {render.when(horizon)}")
    raise typer.Exit(EXIT_OK)
