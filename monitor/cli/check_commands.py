"""``cwdrift check``, ``tenants``, ``config validate`` and ``baseline validate`` (``baseline
preview`` and ``diff`` live in ``baseline_commands``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import render
from monitor.cli.baseline_commands import baseline_diff, baseline_preview
from monitor.cli.common import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, JsonOpt, load, open_database
from monitor.clock import utcnow

if TYPE_CHECKING:
    from monitor.jobs.check import TenantResult

commands = typer.Typer()
config_app = typer.Typer(help="Inspect the config file.", no_args_is_help=True)
baseline_app = typer.Typer(
    help="Check a baseline file, or preview a change to it.", no_args_is_help=True
)
commands.add_typer(config_app, name="config")
commands.add_typer(baseline_app, name="baseline")
baseline_app.command("preview")(baseline_preview)
baseline_app.command("diff")(baseline_diff)


@commands.command()
def check(
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one full check cycle: collect, evaluate, store, alert.

    Rules a tenant puts in approve or auto mode (fix_modes) are planned or fixed, as the daemon
    does; every rule is report-only unless configured otherwise.

    Exit status: 0 all compliant, 1 drift, 2 a tenant could not be checked or the config is invalid.

    Example: cwdrift check --tenant acme --json
    """
    import asyncio

    from monitor.core.remediation import fixing_modes
    from monitor.jobs.check import CheckOne, check_many, check_tenant
    from monitor.jobs.deliver import dispatch
    from monitor.jobs.runtime import Runtime, select_tenants

    loaded = load(tenants=True)
    tenants = select_tenants(loaded, tenant)
    runtime = Runtime.open(loaded)
    # check_and_fix checks a tenant that fixes nothing exactly as check_tenant does: the fixing
    # machinery (plans, writes, their tables) loads only where a rule is in approve or auto mode.
    check_one: CheckOne = check_tenant
    if any(fixing_modes(runtime.baseline, t.fix_modes) for t in tenants):
        from monitor.jobs.fix import check_and_fix

        check_one = check_and_fix

    async def cycle(advance: render.Advance) -> list[TenantResult]:
        async with runtime:
            results = await check_many(
                runtime, tenants, check=check_one, on_done=lambda _: advance(1)
            )
        await dispatch(runtime)
        return results

    with render.progress("checking tenants", len(tenants), enabled=not as_json) as advance:
        results = asyncio.run(cycle(advance))
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


@commands.command()
def tenants(as_json: JsonOpt = False) -> None:
    """List the configured tenants with their last check outcome.

    Example: cwdrift tenants --json
    """
    from monitor.store.history import tenant_summaries

    loaded = load()
    db = open_database(loaded)
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
                "last_check": _iso(summary.last_started_at if summary else None),
                "outcome": summary.outcome if summary else None,
                "open_drift": summary.open_drift if summary else 0,
            }
        )
    if as_json:
        render.print_json({"tenants": rows})
        return
    table = render.table(
        "tenants", ("tenant", "name", "site", "last check", "outcome", "open drift")
    )
    for row in rows:
        table.add_row(
            render.cell(row["tenant"]),
            render.cell(row["name"]),
            render.cell(row["site"]),
            render.when_text(str(row["last_check"])) if row["last_check"] else "never",
            render.styled(str(row["outcome"] or "—")),
            str(row["open_drift"]),
        )
    render.out.print(table)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@config_app.command("validate")
def config_validate(as_json: JsonOpt = False) -> None:
    """Check the config file (and the baseline it names) without contacting ConnectWise.

    Example: cwdrift --config cwdrift.yaml config validate
    """
    from monitor.core.baseline import load_baseline

    loaded = load(tenants=True)
    baseline = load_baseline(loaded.baseline_path)
    loaded.check_against(baseline)
    if as_json:
        render.print_json(
            {
                "config": str(loaded.path),
                "ok": True,
                "tenants": [t.id for t in loaded.config.tenants],
                "baseline": str(baseline.source),
                "rules": len(baseline.rules),
                "warnings": list(loaded.warnings),
            }
        )
        return
    render.out.print(
        f"{loaded.path}: OK ({len(loaded.config.tenants)} tenants, "
        f"baseline {baseline.source} with {len(baseline.rules)} rules)",
        soft_wrap=True,
    )


@baseline_app.command("validate")
def baseline_validate(
    file: Annotated[
        Path | None, typer.Argument(help="Baseline YAML; the bundled one when omitted.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a baseline file's shape and meaning without running it, and list its rules.

    Example: cwdrift baseline validate config/baseline.yaml
    """
    from monitor.core.baseline import load_baseline

    baseline = load_baseline(file)
    rules = [
        {"id": r.id, "kind": r.kind, "severity": r.severity.value, "label": r.label}
        for r in baseline.rules
    ]
    if as_json:
        render.print_json(
            {"baseline": str(baseline.source), "version": baseline.version, "rules": rules}
        )
        return
    render.out.print(f"{baseline.source}: OK ({len(rules)} rules)", soft_wrap=True)
    table = render.table("rules", ("rule id", "severity", "kind"))
    for rule in rules:
        table.add_row(render.cell(rule["id"]), rule["severity"], rule["kind"])
    render.out.print(table)
