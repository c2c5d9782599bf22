"""``cwdrift history``, ``show``, ``timeline`` and ``export``: answers from the recorded history."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

import typer

from monitor.cli import render
from monitor.cli.common import (
    EXIT_OK,
    JsonOpt,
    OutOpt,
    TenantOpt,
    choice,
    load,
    open_database,
    parse_when,
    write_output,
)
from monitor.clock import utcnow
from monitor.errors import ConfigError
from monitor.reports.render import csv_cell
from monitor.store.database import Database
from monitor.store.history import changes, findings_at, rule_keys, snapshot_at
from monitor.store.history import timeline as setting_timeline

commands = typer.Typer()


@commands.command()
def history(
    tenant: TenantOpt,
    setting: Annotated[
        str | None, typer.Option(help="Key or label, case-insensitive substring.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date/time (UTC).")] = None,
    who: Annotated[
        str | None, typer.Option(help="Only changes ConnectWise attributes to this user.")
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help="Only the settings this baseline rule reads.")
    ] = None,
    timeline_view: Annotated[
        bool,
        typer.Option("--timeline", help="For one setting key: each period with its value."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Every recorded change of a tenant's settings, oldest first.

    Example: cwdrift history --tenant acme --setting "transfer expenses" --since 2026-11-01
    """
    if timeline_view:
        if not setting:
            raise ConfigError(
                "--timeline needs --setting with a setting key",
                location="--timeline",
                fix="e.g. --setting accounting.includeSalesTaxFlag (cwdrift show lists the keys)",
            )
        timeline(tenant=tenant, setting=setting, as_json=as_json)
        return
    loaded = load()
    loaded.config.tenant(tenant)
    db = Database(loaded.config.database)
    with db.session() as session:
        rows = changes(
            session,
            tenant,
            setting=setting,
            since=parse_when(since, "--since"),
            until=parse_when(until, "--until"),
            who=who,
        )
        if rule is not None:
            keys = rule_keys(session, tenant, rule)
            if keys is None:
                raise ConfigError(
                    f"rule {rule!r} has never been evaluated for {tenant}",
                    location="--rule",
                    fix="use a rule id from `cwdrift show --tenant ...` or config/baseline.yaml",
                )
            rows = [row for row in rows if row.key in keys]
        data = [row.to_dict() for row in rows]
    if as_json:
        render.print_json({"tenant": tenant, "changes": data})
    elif not data:
        render.out.print(f"No recorded changes for {tenant} matching the filters.")
    else:
        render.changes_table(f"{tenant}: changes, oldest first", data)


@commands.command()
def show(
    tenant: TenantOpt,
    at: Annotated[
        str | None, typer.Option(help="Reconstruct the configuration as it was at this time.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The configuration and findings of a tenant, now or as they were at a past time.

    Example: cwdrift show --tenant acme --at 2026-11-20T09:00:00Z
    """

    loaded = load()
    loaded.config.tenant(tenant)
    moment = parse_when(at, "--at") or utcnow()
    db = Database(loaded.config.database)
    with db.session() as session:
        snapshot = snapshot_at(session, tenant, moment)
        findings = findings_at(session, tenant, moment)
    if snapshot is None:
        if as_json:
            render.print_json({"tenant": tenant, "at": moment.isoformat(), "snapshot": None})
        else:
            render.out.print(f"No configuration recorded for {tenant} at {render.when(moment)}.")
        raise typer.Exit(EXIT_OK)
    finding_rows = {rule: _finding_dict(info) for rule, info in findings.items()}
    if as_json:
        render.print_json(
            {
                "tenant": tenant,
                "at": moment.isoformat(),
                "observed_at": snapshot.collected_at.isoformat(),
                "credential_mode": snapshot.credential_mode.value,
                "settings": {k: s.to_dict() for k, s in snapshot.settings.items()},
                "unknown": dict(snapshot.unknown),
                "findings": finding_rows,
            }
        )
        return
    render.out.print(
        f"[bold]{tenant}[/] as of {render.when(moment)} "
        f"(observed {render.when(snapshot.collected_at)}, {snapshot.credential_mode.value} mode)"
    )
    table = render.Table(title="settings", title_justify="left")
    for column in ("setting", "value", "last changed in ConnectWise"):
        table.add_column(column, overflow="fold")
    for setting in snapshot.settings.values():
        who = " at ".join(x for x in (setting.updated_by, setting.last_updated) if x) or "—"
        table.add_row(setting.label, render.show(setting.value), who)
    render.out.print(table)
    for section, reason in snapshot.unknown.items():
        render.out.print(f"[yellow]unknown[/] {section}: {reason}")
    if finding_rows:
        table = render.Table(title="findings", title_justify="left")
        for column in ("rule", "status", "expected", "actual"):
            table.add_column(column, overflow="fold")
        for rule, row in finding_rows.items():
            table.add_row(
                rule, render.styled(str(row["status"])), str(row["expected"]), str(row["actual"])
            )
        render.out.print(table)


def _finding_dict(info: object) -> dict[str, object]:
    """findings_at returns small records; present them uniformly."""
    if isinstance(info, dict):
        return dict(info)
    fields = ("status", "severity", "label", "expected", "actual", "at")
    return {name: getattr(info, name, None) for name in fields}


@commands.command()
def timeline(
    tenant: TenantOpt,
    setting: Annotated[str, typer.Option(help="Exact setting key, e.g. accounting.package.")],
    as_json: JsonOpt = False,
) -> None:
    """Each period one setting held a value, from its first observation to now.

    Example: cwdrift timeline --tenant acme --setting accounting.transferExpensesAsBillFlag
    """

    loaded = load()
    loaded.config.tenant(tenant)
    db = open_database(loaded)
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
    table = render.Table(title=f"{tenant}: {setting}", title_justify="left")
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


EXPORT_COLUMNS = (
    "observed_at",
    "setting",
    "label",
    "old",
    "new",
    "changed_by",
    "changed_at",
    "fixed_by_cwdrift",  # the operator who ran the cwdrift fix behind the change, if any
)


@commands.command()
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

    chosen = choice(fmt, ("csv", "json"), "--format")
    loaded = load()
    loaded.config.tenant(tenant)
    db = open_database(loaded)
    with db.session() as session:
        rows = changes(session, tenant, since=parse_when(since, "--since"))
    records: list[dict[str, Any]] = [row.to_dict() for row in rows]
    if chosen == "json":
        write_output(json.dumps({"tenant": tenant, "changes": records}, indent=2) + "\n", out)
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        # Values as JSON, so true / "true" / null (absent) stay distinguishable.
        record["old"], record["new"] = json.dumps(record["old"]), json.dumps(record["new"])
        fix = record["fixed_by_cwdrift"]
        record["fixed_by_cwdrift"] = f"{fix['operator']} on {fix['host']}" if fix else ""
        writer.writerow({k: csv_cell(v) for k, v in record.items()})
    write_output(buffer.getvalue(), out)
