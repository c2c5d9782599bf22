"""Command definitions. Every command's help ends with an example (a test keeps that true)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli import render
from monitor.clock import utcnow
from monitor.core.baseline import load_baseline
from monitor.errors import ConfigError
from monitor.jobs import Runtime, TenantResult, check_many, dispatch, select_tenants
from monitor.settings import LoadedConfig, config_path, load_config
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import serve_forever
from monitor.simulator.state import SimulatorState
from monitor.store.database import Database
from monitor.store.history import (
    changes,
    findings_at,
    rule_keys,
    snapshot_at,
    tenant_summaries,
)

app = typer.Typer(
    name="cwdrift",
    help=(
        "Configuration drift monitor for ConnectWise Manage: checks every tenant's setup for the "
        "Gozynta Mobius integration against a baseline, records every change, and alerts.\n\n"
        "Example: cwdrift --config cwdrift.yaml check"
    ),
    no_args_is_help=True,
    # Typed errors are printed by main(); never dump locals (they may hold secrets).
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the config file.", no_args_is_help=True)
baseline_app = typer.Typer(help="Inspect a baseline file.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(baseline_app, name="baseline")

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id from the config.")]


class State:
    config_file: Path | None = None


state = State()


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="CWDRIFT_CONFIG",
            help="Config file (default ./cwdrift.yaml; or $CWDRIFT_CONFIG).",
        ),
    ] = None,
) -> None:
    state.config_file = config


def load() -> LoadedConfig:
    """The config for this invocation; warnings (never secrets) go to stderr."""
    loaded = load_config(config_path(state.config_file))
    for warning in loaded.warnings:
        render.err.print(f"warning: {warning}", markup=False, style="yellow")
    return loaded


def parse_when(value: str | None, option: str) -> datetime | None:
    """ISO date or datetime; naive values are UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"cannot read {value!r} as a date or time",
            location=option,
            fix="use ISO format, e.g. 2026-11-20 or 2026-11-20T14:30:00Z",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- check -----------------------------------------------------------------------------------


@app.command()
def check(
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one full check cycle: collect, evaluate, store, alert.

    Exit status: 0 all compliant, 1 drift, 2 a tenant could not be checked or the config is invalid.

    Example: cwdrift check --tenant acme --json
    """

    loaded = load()
    tenants = select_tenants(loaded, tenant)
    runtime = Runtime.open(loaded)

    async def cycle() -> list[TenantResult]:
        async with runtime:
            results = await check_many(runtime, tenants)
        await dispatch(runtime)
        return results

    results = asyncio.run(cycle())
    if as_json:
        render.print_json(
            {"checked_at": utcnow().isoformat(), "tenants": [r.to_dict() for r in results]}
        )
    else:
        render.check_results(results)
    statuses = {r.status for r in results}
    if "error" in statuses:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_DRIFT if "drift" in statuses else EXIT_OK)


# --- history and show --------------------------------------------------------------------------


@app.command()
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
        from monitor.cli.report_commands import timeline

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


@app.command()
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


# --- tenants, config, baseline ------------------------------------------------------------------


@app.command()
def tenants(as_json: JsonOpt = False) -> None:
    """List the configured tenants with their last check outcome.

    Example: cwdrift tenants --json
    """

    loaded = load()
    db = Database(loaded.config.database)
    db.migrate()
    with db.session() as session:
        summaries = {s.tenant_id: s for s in tenant_summaries(session)}
    rows = []
    for tenant in loaded.config.tenants:
        summary = summaries.get(tenant.id)
        rows.append(
            {
                "tenant": tenant.id,
                "name": tenant.name,
                "site": tenant.site,
                "last_check": summary.last_started_at.isoformat()
                if summary and summary.last_started_at
                else None,
                "outcome": summary.outcome if summary else None,
                "open_drift": summary.open_drift if summary else 0,
            }
        )
    if as_json:
        render.print_json({"tenants": rows})
        return
    table = render.Table(title="tenants", title_justify="left")
    for column in ("tenant", "name", "site", "last check", "outcome", "open drift"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["tenant"]),
            str(row["name"]),
            str(row["site"]),
            str(row["last_check"] or "never"),
            render.styled(str(row["outcome"] or "—")),
            str(row["open_drift"]),
        )
    render.out.print(table)


@config_app.command("validate")
def config_validate() -> None:
    """Check the config file (and the baseline it names) without contacting ConnectWise.

    Example: cwdrift --config cwdrift.yaml config validate
    """
    loaded = load()
    baseline = load_baseline(loaded.baseline_path)
    loaded.check_rules_exist(baseline.ids)
    render.out.print(
        f"{loaded.path}: OK ({len(loaded.config.tenants)} tenants, "
        f"baseline {baseline.source} with {len(baseline.rules)} rules)",
        markup=False,
    )


@baseline_app.command("validate")
def baseline_validate(
    file: Annotated[
        Path | None, typer.Argument(help="Baseline YAML; the bundled one when omitted.")
    ] = None,
) -> None:
    """Check a baseline file's shape and meaning without running it.

    Example: cwdrift baseline validate config/baseline.yaml
    """
    baseline = load_baseline(file)
    render.out.print(f"{baseline.source}: OK ({len(baseline.rules)} rules)", markup=False)


# --- simulator and demo ------------------------------------------------------------------------


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Option(help="Scenario YAML (see config/scenarios/).")],
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 8900,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
) -> None:
    """Serve the ConnectWise Manage API simulator until interrupted.

    Example: cwdrift simulate --scenario config/scenarios/demo.yaml --port 8900
    """

    state_ = SimulatorState(load_scenario(scenario))
    render.out.print(f"ConnectWise simulator on http://{host}:{port} (Ctrl-C to stop)")
    serve_forever(state_, host=host, port=port)


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and config.")
    ] = Path("demo-out"),
) -> None:
    """Run the real monitor against the bundled simulator: check, change a setting, check again.

    Example: cwdrift demo
    """
    from monitor.cli.demo import run_demo

    run_demo(workdir)
