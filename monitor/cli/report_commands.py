"""Commands for reports, accepted deviations and history answers, registered on the main app.

cwdrift report    the weekly compliance report (html, text, json, csv, pdf)
cwdrift waive     accept (or --remove) a deviation; every change is logged
cwdrift waivers   list config and database waivers
cwdrift timeline  the values one setting held, period by period
cwdrift export    the change log for auditors (csv, json)
cwdrift prune     drop redundant check rows past the retention horizon
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from monitor.cli import render
from monitor.cli.app import EXIT_OK, JsonOpt, TenantOpt, app, load, parse_when
from monitor.clock import utcnow
from monitor.durations import parse_duration
from monitor.errors import ConfigError
from monitor.settings import LoadedConfig
from monitor.store.database import Database

if TYPE_CHECKING:
    from monitor.reports.render import Format

OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
]


def _database(loaded: LoadedConfig) -> Database:
    db = Database(loaded.config.database)
    db.migrate()  # idempotent; commands may be the first thing run against a new database
    return db


def _write(data: str | bytes, out: Path | None) -> None:
    if out is not None:
        if isinstance(data, bytes):
            out.write_bytes(data)
        else:
            out.write_text(data, encoding="utf-8")
        render.err.print(f"wrote {out}", markup=False)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise ConfigError(
                "PDF output is binary", location="--format pdf", fix="add --out report.pdf"
            )
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise ConfigError(
            f"unknown format {value!r}", location=option, fix=f"use one of {', '.join(allowed)}"
        )
    return value


def _expiry(value: str, now: datetime) -> datetime:
    """An ISO date/time, or a duration from now such as 30d or 12w."""
    relative = parse_duration(value)
    if isinstance(relative, timedelta):
        return now + relative
    parsed = parse_when(value, "--expires")
    assert parsed is not None  # value is not None
    return parsed


# --- report ------------------------------------------------------------------------------------


@app.command()
def report(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: last full week).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Custom period start (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Custom period end (UTC), exclusive.")] = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="html, text, json, csv or pdf.")
    ] = "text",
    out: OutOpt = None,
) -> None:
    """The weekly compliance report: scores and trend, violations, changes, waivers.

    Weeks run Monday to Monday in report.timezone of the config.

    Example: cwdrift report --week 2026-W47 --format html --out report.html
    """
    from monitor.jobs import select_tenants
    from monitor.reports.build import build_weekly
    from monitor.reports.period import custom, iso_week, last_full_week, zone
    from monitor.reports.render import FORMATS, render

    chosen = _choice(fmt, FORMATS, "--format")
    loaded = load()
    config = loaded.config
    tz = zone(config.report.timezone)
    now = utcnow()
    if week and (since or until):
        raise ConfigError(
            "--week and --since/--until exclude each other", fix="give one or the other"
        )
    if since or until:
        start, end = parse_when(since, "--since"), parse_when(until, "--until") or now
        if start is None:
            raise ConfigError("--until needs --since", location="--since", fix="add --since")
        period = custom(start, end)
    elif week:
        period = iso_week(week, tz)
    else:
        period = last_full_week(now, tz)
    tenants = select_tenants(loaded, tenant)
    db = _database(loaded)
    with db.session() as session:
        weekly = build_weekly(
            session,
            since=period.since,
            until=period.until,
            tenants=tenants,
            now=now,
            label=period.label,
            timezone=config.report.timezone,
            config_silences=config.notify.silences,
        )
    _write(render(weekly, cast("Format", chosen)), out)  # _choice checked it


# --- waivers -----------------------------------------------------------------------------------


@app.command()
def waive(
    tenant: TenantOpt,
    rule: Annotated[str, typer.Option(help="Rule id, e.g. include-cogs-entries-is-on.")],
    by: Annotated[str, typer.Option(help="Who accepts (or removes) the deviation.")],
    value: Annotated[
        str | None, typer.Option(help="The accepted actual value, pinned (as findings show it).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why the deviation is accepted.")] = None,
    expires: Annotated[
        str | None, typer.Option(help="ISO date/time, or a duration such as 90d.")
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
    from monitor.store.waivers import add_waiver, remove_waiver

    loaded = load()
    loaded.config.tenant(tenant)
    now = utcnow()
    db = _database(loaded)
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
            assert reason is not None and expires is not None  # checked just above
            baseline = load_baseline(loaded.baseline_path)
            waiver = add_waiver(
                session,
                tenant_id=tenant,
                rule=rule,
                value=value,
                reason=reason,
                accepted_by=by,
                expires=_expiry(expires, now),
                now=now,
                known_rules={r.id for r in baseline.rules},
            )
            action = "accepted"
    if as_json:
        render.print_json({"action": action, "tenant": tenant, **waiver.model_dump(mode="json")})
    else:
        render.out.print(
            f"{action}: {tenant} / {waiver.rule} = {waiver.value!r} until "
            f"{render.when(waiver.expires)} (by {by})",
            markup=False,
        )


@app.command()
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

    loaded = load()
    if tenant is not None:
        loaded.config.tenant(tenant)
    now = utcnow()
    db = _database(loaded)
    with db.session() as session:
        if log:
            events = [e.to_dict() for e in waiver_events(session, tenant)]
        else:
            rows = [w.to_dict(now) for w in list_waivers(session, loaded.config.tenants, tenant)]
    if log:
        if as_json:
            render.print_json({"events": events})
            return
        table = Table(title="waiver changes, oldest first", title_justify="left")
        for column in ("at", "tenant", "rule", "action", "by", "value", "expires", "reason"):
            table.add_column(column, overflow="fold")
        for e in events:
            table.add_row(
                e["at"], e["tenant"], e["rule"], e["action"], e["actor"],
                render.show(e["value"]), e["expires"], e["reason"],
            )  # fmt: skip
        render.out.print(table)
        return
    if as_json:
        render.print_json({"waivers": rows})
        return
    if not rows:
        render.out.print("No waivers.")
        return
    table = Table(title="waivers", title_justify="left")
    for column in ("tenant", "rule", "value", "expires", "accepted by", "reason", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        expires = row["expires"] + (" (expired)" if row["expired"] else "")
        table.add_row(
            row["tenant"], row["rule"], render.show(row["value"]), expires,
            row["accepted_by"], row["reason"], row["source"],
        )  # fmt: skip
    render.out.print(table)


# --- history answers ---------------------------------------------------------------------------


@app.command()
def timeline(
    tenant: TenantOpt,
    setting: Annotated[str, typer.Option(help="Exact setting key, e.g. accounting.package.")],
    as_json: JsonOpt = False,
) -> None:
    """Each period one setting held a value, from its first observation to now.

    Example: cwdrift timeline --tenant acme --setting accounting.transferExpensesAsBillFlag
    """
    from monitor.store.history import timeline as setting_timeline

    loaded = load()
    loaded.config.tenant(tenant)
    db = _database(loaded)
    with db.session() as session:
        periods = setting_timeline(session, tenant, setting)
    rows = [
        {
            "start": p.start.isoformat(),
            "end": p.end.isoformat() if p.end else None,
            "value": p.value,
            "present": p.present,
            "unknown": p.unknown,
            "label": p.label,
            "changed_by": p.changed_by,
            "changed_at": p.changed_at,
        }
        for p in periods
    ]
    if as_json:
        render.print_json({"tenant": tenant, "setting": setting, "periods": rows})
        return
    if not rows:
        render.out.print(
            f"No observations of {setting!r} for {tenant}; `cwdrift show --tenant {tenant}` "
            "lists the setting keys.",
            markup=False,
        )
        return
    table = Table(title=f"{tenant}: {setting}", title_justify="left")
    for column in ("from", "until", "value", "changed by (ConnectWise)"):
        table.add_column(column, overflow="fold")
    for p in periods:
        if p.unknown:
            value = f"unknown ({p.unknown})"
        else:
            value = render.show(p.value) if p.present else "absent"
        who = " at ".join(x for x in (p.changed_by, p.changed_at) if x) or "—"
        table.add_row(render.when(p.start), render.when(p.end) if p.end else "now", value, who)
    render.out.print(table)


EXPORT_COLUMNS = ("observed_at", "setting", "label", "old", "new", "changed_by", "changed_at")


@app.command()
def export(
    tenant: TenantOpt,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or json.")] = "csv",
    out: OutOpt = None,
) -> None:
    """The tenant's change log for auditors: when observed, what, old and new, who and when.

    Example: cwdrift export --tenant acme --since 2026-01-01 --format csv --out acme-changes.csv
    """
    from monitor.store.history import changes

    chosen = _choice(fmt, ("csv", "json"), "--format")
    loaded = load()
    loaded.config.tenant(tenant)
    db = _database(loaded)
    with db.session() as session:
        rows = changes(session, tenant, since=parse_when(since, "--since"))
    records: list[dict[str, Any]] = [row.to_dict() for row in rows]
    if chosen == "json":
        _write(json.dumps({"tenant": tenant, "changes": records}, indent=2) + "\n", out)
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        # Values as JSON, so true / "true" / null (absent) stay distinguishable.
        record["old"], record["new"] = json.dumps(record["old"]), json.dumps(record["new"])
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})
    _write(buffer.getvalue(), out)


def _csv_cell(value: str | None) -> str:
    """Formula-safe for spreadsheets: ConnectWise data is untrusted (OWASP CSV injection)."""
    text = "" if value is None else value
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@app.command()
def prune(
    as_json: JsonOpt = False,
) -> None:
    """Delete redundant check rows older than retention.check_rows; changes and transitions stay.

    Example: cwdrift prune
    """
    from monitor.store.history import prune_checks

    loaded = load()
    horizon = utcnow() - loaded.config.retention.check_rows
    db = _database(loaded)
    with db.session() as session:
        deleted = prune_checks(session, older_than=horizon)
    if as_json:
        render.print_json({"deleted": deleted, "older_than": horizon.isoformat()})
    else:
        render.out.print(f"pruned {deleted} redundant check rows older than {render.when(horizon)}")
    raise typer.Exit(EXIT_OK)
