"""What ``cwdrift fix`` does: the dry run, ``--apply``, ``--pending``, ``--approve`` and
``--resume`` (the command and its help are in ``fix_commands``)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

from monitor.cli import render
from monitor.cli.common import EXIT_ERROR, EXIT_OK, load, open_database
from monitor.core.remedy import FieldChange
from monitor.errors import ConfigError, CwdriftError
from monitor.jobs.deliver import dispatch
from monitor.jobs.fix import (
    FixReport,
    Operator,
    RuleOutcome,
    RuleResult,
    TenantPlan,
    apply_plans,
    approve,
    no_write_keys,
    plan_tenant,
)
from monitor.jobs.runtime import Runtime
from monitor.settings import LoadedConfig, TenantConfig
from monitor.store.fix_tables import PlanSource, PlanStatus
from monitor.store.fixes import StoredPlan, plans, resume

_OUTCOME_TITLES = {
    RuleOutcome.PLANNED: "WOULD PATCH",
    RuleOutcome.FIXED: "FIXED (verified by re-reading)",
    RuleOutcome.NOT_FIXED: "NOT FIXED",
    RuleOutcome.NEEDS_PERSON: "NEEDS A PERSON",
    RuleOutcome.REFUSED: "REFUSED",
    RuleOutcome.OBSOLETE: "NOTHING TO DO",
}


def run_fix(
    *,
    tenant: str | None,
    rule: list[str] | None,
    apply_: bool,
    yes: bool,
    pending: bool,
    approve_id: int | None,
    resume_: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """What ``cwdrift fix`` does with its options (see its help)."""
    chosen = [name for name, on in (("--pending", pending), ("--resume", resume_)) if on]
    chosen += ["--approve"] if approve_id is not None else []
    chosen += ["--apply"] if apply_ else []
    if len(chosen) > 1:
        _refuse(
            ConfigError(
                f"{' and '.join(chosen)} do not go together", location="cwdrift fix", fix="pick one"
            )
        )
    operator = Operator.current(by)
    if pending:
        _list_pending(load(connectwise=False), tenant, as_json)  # reads the database only
        return
    if resume_:
        loaded = load(connectwise=False)  # writes the database only
        runtime = Runtime.open(loaded)
        tenant_cfg = loaded.config.tenant(_required(tenant))
        _resume(runtime, tenant_cfg, _known_rules(runtime, rule), operator, as_json)
        return
    loaded = load()
    if approve_id is not None:
        _approve(loaded, approve_id, operator, as_json)
        return
    tenant_cfg = loaded.config.tenant(_required(tenant))
    runtime = Runtime.open(loaded)
    rules = _known_rules(runtime, rule)
    tenant_plan = _run(runtime, plan_tenant(runtime, tenant_cfg, rules))
    if not apply_:
        _dry_run(tenant_plan, rules, as_json)
        return
    if tenant_plan.writes:
        if not tenant_cfg.can_write:
            _print_plan(tenant_plan, as_json)
            _refuse(no_write_keys(tenant_cfg, tenant_plan.permissions))
        _confirm(tenant_plan, yes)
        work = apply_plans(runtime, tenant_plan, operator, source=PlanSource.CLI, scope=rules)
        report = _run(runtime, work, deliver=True)
    else:
        report = _person_only(tenant_plan)
    _print_report(report, as_json)
    raise typer.Exit(report.exit_code)


# -- the uses ----------------------------------------------------------------------------------


def _dry_run(tenant_plan: TenantPlan, rules: Sequence[str] | None, as_json: bool) -> None:
    report = FixReport(tenant_id=tenant_plan.tenant.id, applied=False)
    for plan in tenant_plan.plans:
        outcome = RuleOutcome.PLANNED if plan.write else RuleOutcome.NEEDS_PERSON
        report.results.append(RuleResult(plan, outcome, answer=plan.person_reason))
    if as_json:
        data = report.to_json()
        data["write_credentials"] = tenant_plan.tenant.can_write
        data["permissions_needed"] = list(tenant_plan.permissions)
        data["not_failing"] = _not_failing(tenant_plan, rules)
        render.print_json(data)
    else:
        _print_plan(tenant_plan, as_json=False)
        for rule_id, status in _not_failing(tenant_plan, rules).items():
            render.out.print(f"{rule_id}: {status}; nothing to fix", markup=False)
        if tenant_plan.writes and not tenant_plan.tenant.can_write:
            render.out.print(
                f"No write credentials for {tenant_plan.tenant.id}: this stays a dry run. "
                "Add fix_public_key and fix_private_key of an API member whose role grants "
                f"{', '.join(tenant_plan.permissions)}.",
                markup=False,
            )
        elif tenant_plan.writes:
            render.out.print(
                f"Dry run: nothing was sent. Apply with: cwdrift fix --tenant "
                f"{tenant_plan.tenant.id} --apply",
                markup=False,
            )
    raise typer.Exit(report.exit_code)


def _not_failing(tenant_plan: TenantPlan, rules: Sequence[str] | None) -> dict[str, str]:
    """Named rules that are not failing: why nothing is planned for them (waived, unknown...)."""
    planned = {plan.rule_id for plan in tenant_plan.plans}
    found = {}
    for rule_id in rules or ():
        if rule_id in planned:
            continue
        finding = tenant_plan.finding(rule_id)
        found[rule_id] = finding.status.value if finding is not None else "not applicable"
    return found


def _person_only(tenant_plan: TenantPlan) -> FixReport:
    report = FixReport(tenant_id=tenant_plan.tenant.id, applied=True)
    for plan in tenant_plan.plans:
        report.results.append(RuleResult(plan, RuleOutcome.NEEDS_PERSON, plan.person_reason))
    return report


def _approve(loaded: LoadedConfig, plan_id: int, operator: Operator, as_json: bool) -> None:
    runtime = Runtime.open(loaded)
    report = _run(runtime, approve(runtime, plan_id, operator), deliver=True)
    _print_report(report, as_json)
    raise typer.Exit(report.exit_code)


def _list_pending(loaded: LoadedConfig, tenant: str | None, as_json: bool) -> None:
    if tenant is not None:
        loaded.config.tenant(tenant)
    db = open_database(loaded)
    with db.session() as session:
        waiting = plans(session, tenant_id=tenant, statuses=(PlanStatus.PENDING,))
        held = plans(session, tenant_id=tenant, statuses=(PlanStatus.HELD,))
    if as_json:
        render.print_json(
            {"pending": [p.to_dict() for p in waiting], "held": [p.to_dict() for p in held]}
        )
        return
    if not waiting:
        render.out.print("No fix plans are waiting for approval.")
    else:
        _plans_table("fix plans waiting for approval (cwdrift fix --approve PLAN_ID)", waiting)
    if held:
        _plans_table("automatic fixes paused after one did not hold (cwdrift fix --resume)", held)


def _resume(
    runtime: Runtime,
    tenant: TenantConfig,
    rules: Sequence[str] | None,
    operator: Operator,
    as_json: bool,
) -> None:
    with runtime.db.session() as session:
        cleared = resume(session, tenant.id, rules or (), now=runtime.clock(), by=operator.name)
    if as_json:
        render.print_json({"tenant": tenant.id, "resumed": [p.to_dict() for p in cleared]})
        return
    if not cleared:
        render.out.print(f"No automatic fix of {tenant.id} is paused.", markup=False)
    for plan in cleared:
        render.out.print(
            f"{tenant.id}: automatic fixes of {plan.rule_id} resume at the next check "
            f"(plan {plan.id}).",
            markup=False,
            soft_wrap=True,
        )


# -- helpers -----------------------------------------------------------------------------------


def _run(runtime: Runtime, work: Any, *, deliver: bool = False) -> Any:
    """Run ``work`` on one event loop; after writes, send the verification check's notices."""

    async def go() -> Any:
        async with runtime:
            result = await work
        if deliver:
            await dispatch(runtime)
        return result

    return asyncio.run(go())


def _required(tenant: str | None) -> str:
    if tenant is None:
        _refuse(
            ConfigError(
                "--tenant is required",
                location="cwdrift fix",
                fix="name the tenant: cwdrift fix --tenant ID (or use --pending / --approve)",
            )
        )
    return tenant


def _known_rules(runtime: Runtime, rules: list[str] | None) -> list[str] | None:
    for rule_id in rules or ():
        if rule_id not in runtime.baseline:
            _refuse(
                ConfigError(
                    f"unknown rule {rule_id!r}",
                    location="--rule",
                    fix="use a rule id from the baseline (cwdrift show --tenant ID lists them)",
                )
            )
    return rules or None


def _confirm(tenant_plan: TenantPlan, yes: bool) -> None:
    """Ask on a terminal; without one, only --yes lets a write through (never guess)."""
    if yes:
        return
    count = len(tenant_plan.writes)
    if not sys.stdin.isatty():
        _refuse(
            ConfigError(
                "--apply needs confirmation and there is no terminal to ask on",
                location="cwdrift fix --apply",
                fix="add --yes to apply without asking",
            )
        )
    _print_plan(tenant_plan, as_json=False)
    question = f"Send {count} PATCH request{'s' if count != 1 else ''} to {tenant_plan.tenant.id}?"
    if not typer.confirm(question, default=False):
        render.err.print("Nothing was sent.", markup=False)
        raise typer.Exit(EXIT_OK if not tenant_plan.plans else 1)


def _refuse(error: CwdriftError) -> NoReturn:
    render.err.print(f"error: {error}", markup=False, style="bold red")
    raise typer.Exit(EXIT_ERROR)


# -- output ------------------------------------------------------------------------------------


def _print_plan(tenant_plan: TenantPlan, as_json: bool) -> None:
    if as_json:
        return
    writes = len(tenant_plan.writes)
    people = len(tenant_plan.plans) - writes
    if not tenant_plan.plans:
        render.out.print(f"{tenant_plan.tenant.id}: no failing rule to fix.", markup=False)
        return
    render.out.print(
        f"{tenant_plan.tenant.id}: {writes} rule{'s' if writes != 1 else ''} ConnectWise lets "
        f"cwdrift write, {people} only a person can fix",
        markup=False,
    )
    for plan in tenant_plan.plans:
        outcome = RuleOutcome.PLANNED if plan.write else RuleOutcome.NEEDS_PERSON
        _print_rule(RuleResult(plan, outcome, answer=plan.person_reason))


def _print_report(report: FixReport, as_json: bool) -> None:
    if as_json:
        render.print_json(report.to_json())
        return
    for result in report.results:
        _print_rule(result)
    if report.verify_error is not None:
        render.out.print(
            f"The re-read failed, so no fix is verified: {report.verify_error.get('message')}",
            markup=False,
        )
    if report.applied and report.still_failing:
        render.out.print(
            f"Still failing after the re-read: {', '.join(report.still_failing)}", markup=False
        )


def _print_rule(result: RuleResult) -> None:
    plan = result.plan
    out = render.out
    out.print("")
    out.print(
        f"{plan.rule_id} [{plan.severity.value}] {_OUTCOME_TITLES[result.outcome]}",
        markup=False,
        soft_wrap=True,
    )
    out.print(f"  {plan.label}", markup=False, soft_wrap=True)
    write = plan.write
    if write is not None and result.outcome is not RuleOutcome.NEEDS_PERSON:
        out.print(
            f"  PATCH {write.path}   (needs {write.permission})", markup=False, soft_wrap=True
        )
        for change in write.changes:
            out.print(f"    {_from_to(change)}", markup=False, soft_wrap=True)
        out.print(f"    {json.dumps(write.body())}", markup=False, soft_wrap=True)
        if write.inferred:
            out.print(f"    note: {write.inferred}", markup=False, soft_wrap=True)
    if result.answer and result.outcome is not RuleOutcome.PLANNED:
        out.print(f"  {result.answer}", markup=False, soft_wrap=True)
    if write is not None and result.outcome is RuleOutcome.NOT_FIXED:
        out.print("  To fix it by hand instead:", markup=False)
    elif write is not None and result.outcome is not RuleOutcome.NEEDS_PERSON:
        return
    for number, step in enumerate(plan.steps, 1):
        out.print(f"    {number}. {step}", markup=False, soft_wrap=True)


def _from_to(change: FieldChange) -> str:
    return f"{change.label} ({change.key}): {_shown(change.before)} -> {_shown(change.after)}"


def _shown(value: object) -> str:
    return render.show(value) if not isinstance(value, str) else repr(value)


def _plans_table(title: str, rows: Sequence[StoredPlan]) -> None:
    result = render.table(title, ("plan", "tenant", "rule", "since", "PATCH", "from -> to", "note"))
    for plan in rows:
        result.add_row(
            render.cell(plan.id),
            render.cell(plan.tenant_id),
            render.cell(plan.rule_id),
            render.cell(render.when(plan.updated_at)),
            render.cell(plan.write.path),
            render.cell("; ".join(_from_to(c) for c in plan.write.changes)),
            render.cell(plan.note or ""),
        )
    render.out.print(result)
