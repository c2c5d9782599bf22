"""``cwdrift history``, ``show``, ``timeline`` and ``export``: answers from the recorded history.

The store is imported inside each command (the module is imported for every ``cwdrift --help``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

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
from monitor.core.findings import Status
from monitor.core.snapshot import section_of
from monitor.errors import ConfigError
from monitor.printable import printable

if TYPE_CHECKING:
    from monitor.core.snapshot import Snapshot

commands = typer.Typer()

SettingMatch = Annotated[
    str | None,
    typer.Option(help="A setting key, or part of its key or name (case-insensitive)."),
]


@commands.command()
def history(
    tenant: TenantOpt,
    setting: SettingMatch = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date/time (UTC).")] = None,
    who: Annotated[
        str | None,
        typer.Option(help="Only changes whose record ConnectWise says this user last edited."),
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help="Only the settings this baseline rule reads.")
    ] = None,
    timeline_view: Annotated[
        bool,
        typer.Option("--timeline", help="For one setting: each period with its value."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Every recorded change of a tenant's settings, oldest first.

    Example: cwdrift history --tenant acme --setting "transfer expenses" --since 2026-11-01
    """
    if timeline_view:
        if not setting:
            raise ConfigError(
                "--timeline needs --setting, naming one setting",
                location="--timeline",
                fix=f'e.g. `cwdrift history --tenant {tenant} --timeline --setting "sales tax"`',
            )
        timeline(tenant=tenant, setting=setting, as_json=as_json)
        return
    from monitor.store.database import Database
    from monitor.store.history import changes

    loaded = load(connectwise=False)  # reads the database only
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
            keys = _rule_keys(session, tenant, rule)
            rows = [row for row in rows if row.key in keys]
        data = [row.to_dict() for row in rows]
    if as_json:
        render.print_json({"tenant": tenant, "changes": data})
    elif not data:
        render.out.print(f"No recorded changes for {tenant} matching the filters.")
    else:
        render.changes_table(f"{tenant}: changes, oldest first", data)


def _rule_keys(session: Any, tenant: str, rule: str) -> tuple[str, ...]:
    from monitor.store.history import rule_keys

    keys = rule_keys(session, tenant, rule)
    if keys is None:
        raise _never_evaluated(tenant, rule)
    return keys


def _never_evaluated(tenant: str, rule: str) -> ConfigError:
    return ConfigError(
        f"rule {rule!r} has never been evaluated for {tenant}",
        location="--rule",
        fix=f"the findings of `cwdrift show --tenant {tenant}` name each rule id "
        "(or see config/baseline.yaml)",
    )


@commands.command()
def show(
    tenant: TenantOpt,
    at: Annotated[
        str | None, typer.Option(help="Reconstruct the configuration as it was at this time.")
    ] = None,
    setting: SettingMatch = None,
    rule: Annotated[
        str | None, typer.Option(help="Only this rule's finding and the settings it reads.")
    ] = None,
    failing: Annotated[
        bool,
        typer.Option("--failing", help="Only failing findings and the settings they read."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The configuration and findings of a tenant, now or as they were at a past time.

    Each setting is shown with its key (what --setting of history, timeline and show take).
    "unknown" means cwdrift could not read it; "None" is ConnectWise's permission level.

    Example: cwdrift show --tenant acme --at 2026-11-20T09:00:00Z --failing
    """
    from monitor.store.database import Database
    from monitor.store.history import findings_at, keys_by_rule, snapshot_at

    loaded = load(connectwise=False)  # reads the database only
    loaded.config.tenant(tenant)
    moment = parse_when(at, "--at") or utcnow()
    db = Database(loaded.config.database)
    with db.session() as session:
        snapshot = snapshot_at(session, tenant, moment)
        findings = findings_at(session, tenant, moment)
        # The keys each rule read at its latest evaluation (also for --at: they rarely move).
        read = keys_by_rule(session, tenant)
    if rule is not None and rule not in read:
        raise _never_evaluated(tenant, rule)
    keys: set[str] | None = None  # the settings the selected findings read (None: all)
    if rule is not None or failing:
        findings = {
            r: f
            for r, f in findings.items()
            if (rule is None or r == rule) and (not failing or f.status is Status.FAIL)
        }
        keys = {k for r in findings for k in read.get(r, ())}
    if snapshot is None:
        if as_json:
            render.print_json({"tenant": tenant, "at": moment.isoformat(), "snapshot": None})
        else:
            render.out.print(f"No configuration recorded for {tenant} at {render.when(moment)}.")
        raise typer.Exit(EXIT_OK)
    settings = _selected_settings(snapshot, keys, setting)
    unknown = _selected_unknown(snapshot, keys, setting)
    if setting:  # only the findings of rules that read a setting shown
        every_key = {k for keys_read in read.values() for k in keys_read}
        shown = set(settings) | {k for k in every_key if section_of(k) in unknown}
        findings = {r: f for r, f in findings.items() if shown & set(read.get(r, ()))}
    finding_rows = {rule_id: info.to_dict() for rule_id, info in findings.items()}
    if as_json:
        render.print_json(
            {
                "tenant": tenant,
                "at": moment.isoformat(),
                "observed_at": snapshot.collected_at.isoformat(),
                "credential_mode": snapshot.credential_mode.value,
                "settings": {k: snapshot.settings[k].to_dict() for k in settings},
                "unknown": unknown,
                "findings": finding_rows,
            }
        )
        return
    _print_show(tenant, moment, snapshot, settings, unknown, finding_rows)


def _selected_settings(
    snapshot: Snapshot, keys: Collection[str] | None, text: str | None
) -> list[str]:
    """Setting keys to show: those of the rules asked for, then those ``text`` names."""
    selected = [k for k in snapshot.settings if keys is None or k in keys]
    if text:
        needle = text.strip().casefold()
        selected = [
            k
            for k in selected
            if needle in k.casefold() or needle in snapshot.settings[k].label.casefold()
        ]
    return selected


def _selected_unknown(
    snapshot: Snapshot, keys: Collection[str] | None, text: str | None
) -> dict[str, str]:
    """Unreadable sections relevant to the filters (all of them without filters)."""
    if keys is None and not text:
        return dict(snapshot.unknown)
    sections = {section_of(k) for k in keys or ()}
    needle = (text or "").strip().casefold()
    if "." in needle:
        sections.add(section_of(needle))  # a key: its section
    elif needle:
        sections |= {s for s in snapshot.unknown if needle in s}  # e.g. "customize"
    return {s: reason for s, reason in snapshot.unknown.items() if s in sections}


def _print_show(
    tenant: str,
    moment: Any,
    snapshot: Snapshot,
    settings: list[str],
    unknown: dict[str, str],
    finding_rows: dict[str, dict[str, Any]],
) -> None:
    render.out.print(
        render.line(
            (tenant, "bold"),
            f" as of {render.when(moment)} (observed {render.when(snapshot.collected_at)}, "
            f"{snapshot.credential_mode.value} mode)",
        )
    )
    table = render.table("settings", ("setting (key)", "value", render.LAST_EDITOR_COLUMN))
    table.columns[0].min_width = 40  # most keys whole on an 80-column terminal, to copy
    for key in settings:
        item = snapshot.settings[key]
        name = Text.assemble(render.cell(item.label), "\n", render.cell(key, style="dim"))
        table.add_row(
            name,
            render.cell(render.show(item.value)),
            render.cell(render.last_editor(item.updated_by, item.last_updated)),
        )
    if settings:
        render.out.print(table)
    for section, reason in unknown.items():
        render.out.print(
            render.line(("unknown", "yellow"), f" {section}.*: ", printable(reason)),
            soft_wrap=True,
        )
    if not settings and not unknown:
        render.out.print("No settings match the filters.")
    if finding_rows:
        table = render.table("findings", ("rule", "status", "expected", "actual"))
        table.columns[0].no_wrap = True  # a rule id is a word people copy
        for rule_id, row in finding_rows.items():
            unknown_finding = row["status"] == Status.UNKNOWN.value
            actual = "—" if unknown_finding or row["actual"] is None else row["actual"]
            table.add_row(
                render.cell(rule_id),
                render.styled(str(row["status"])),
                render.cell(row["expected"]),
                render.cell(actual),
            )
        render.out.print(table)


@commands.command()
def timeline(
    tenant: TenantOpt,
    setting: Annotated[
        str,
        typer.Option(help="A setting key, or part of its key or name (as history --setting)."),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Each period one setting held a value, from its first observation to now.

    Example: cwdrift timeline --tenant acme --setting "transfer expenses"
    """
    from monitor.store.history import matching_settings
    from monitor.store.history import timeline as setting_timeline

    loaded = load(connectwise=False)  # reads the database only
    loaded.config.tenant(tenant)
    db = open_database(loaded)
    with db.session() as session:
        key = _one_setting(matching_settings(session, tenant, setting), tenant, setting)
        periods = setting_timeline(session, tenant, key)
    rows = [p.to_dict() for p in periods]
    if as_json:
        render.print_json({"tenant": tenant, "setting": key, "periods": rows})
        return
    label = rows[0]["label"] if rows else None
    title = f"{tenant}: {label} ({key})" if label else f"{tenant}: {key}"
    table = render.table(title, ("from", "until", "value", render.LAST_EDITOR_COLUMN))
    for p in periods:
        if p.unknown:
            value = render.cell(f"unknown ({p.unknown})", style="yellow")
        else:
            value = render.cell(render.show(p.value) if p.present else "absent")
        table.add_row(
            render.when(p.start),
            render.when(p.end) if p.end else "now",
            value,
            render.cell(render.last_editor(p.changed_by, p.changed_at)),
        )
    render.out.print(table)


def _one_setting(matches: list[tuple[str, str]], tenant: str, text: str) -> str:
    """The one key ``text`` names, or a clear error listing what it could mean."""
    if len(matches) == 1:
        return matches[0][0]
    if not matches:
        raise ConfigError(
            f"no recorded setting of {tenant} matches {text!r}",
            location="--setting",
            fix=f"`cwdrift show --tenant {tenant}` lists every setting with its key; give a key "
            "or a part of a setting's name",
        )
    shown = "; ".join(f"{key} ({label})" for key, label in matches[:8])
    more = f"; and {len(matches) - 8} more" if len(matches) > 8 else ""
    raise ConfigError(
        f"{len(matches)} settings of {tenant} match {text!r}: {shown}{more}",
        location="--setting",
        fix=f"give one of these keys, e.g. --setting {matches[0][0]}",
    )


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

    "changed_by"/"changed_at" are ConnectWise's last editor of the record the setting is on.

    Example: cwdrift export --tenant acme --since 2026-01-01 --format csv --out acme-changes.csv
    """
    from monitor.reports.render import csv_cell
    from monitor.store.history import change_batches, count_changes

    chosen = choice(fmt, ("csv", "json"), "--format")
    loaded = load(connectwise=False)  # reads the database only
    loaded.config.tenant(tenant)
    db = open_database(loaded)
    start = parse_when(since, "--since")
    records: list[dict[str, Any]] = []
    with db.session() as session:
        total = count_changes(session, tenant, since=start)
        with render.progress(f"exporting {tenant}", total) as advance:
            for batch in change_batches(session, tenant, since=start):
                records += [row.to_dict() for row in batch]
                advance(len(batch))
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
