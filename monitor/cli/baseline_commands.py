"""``cwdrift baseline preview`` and ``baseline diff``: a baseline change, before it is made.

Both read only files and the database, never ConnectWise. They join the ``baseline`` group that
``check_commands`` creates (beside ``baseline validate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import render
from monitor.cli.common import EXIT_DRIFT, EXIT_OK, JsonOpt, load, open_database, parse_when
from monitor.clock import utcnow

if TYPE_CHECKING:  # the baseline loader is imported by the commands (YAML, pydantic, rules)
    from monitor.core.baseline import Baseline
    from monitor.core.findings import Finding
    from monitor.core.preview import BaselinePreview, RuleDiff

BUILTIN = "builtin"


def baseline_preview(
    file: Annotated[Path, typer.Argument(help="The proposed baseline YAML.")],
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Use the configurations in force at this time (default: the latest)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Which tenant x rule a new baseline would flip, on the stored snapshots (no ConnectWise).

    Each tenant's latest stored configuration (or the one in force at --at) is evaluated under
    the config's baseline and under FILE; prints the flips (pass -> fail, fail -> pass, new
    unknown, rule added or removed) with counts. Exit status: 0 no new failures, 1 new
    failures, 2 an invalid file or config.

    Example: cwdrift baseline preview tighter-baseline.yaml --tenant acme --json
    """
    from monitor.core.baseline import load_baseline
    from monitor.jobs.preview import preview_baseline
    from monitor.jobs.runtime import select_tenants

    when = parse_when(at, "--at")
    loaded = load(connectwise=False)  # reads the database only
    tenants = select_tenants(loaded, tenant)
    current = load_baseline(loaded.baseline_path)
    proposed = load_baseline(file)
    db = open_database(loaded)
    try:
        with db.session() as session:
            preview = preview_baseline(
                session,
                current=current,
                proposed=proposed,
                tenants=tenants,
                now=utcnow(),
                at=when,
                current_name=loaded.config.baseline,
                proposed_name=str(file),
            )
    finally:
        db.dispose()
    if as_json:
        render.print_json(preview.to_dict())
    else:
        _print_preview(preview, {t.id: t.name for t in tenants})
    raise typer.Exit(EXIT_DRIFT if preview.new_failures else EXIT_OK)


def baseline_diff(
    old: Annotated[str, typer.Argument(help="The baseline in force: a YAML file, or 'builtin'.")],
    new: Annotated[str, typer.Argument(help="The proposed baseline: a YAML file, or 'builtin'.")],
    as_json: JsonOpt = False,
) -> None:
    """Rule-level differences between two baselines: rules added, removed, and changed fields.

    Example: cwdrift baseline diff builtin tighter-baseline.yaml
    """
    from monitor.core.preview import diff_baselines

    before, after = _baseline(old), _baseline(new)
    rules = diff_baselines(before, after)
    counts = {change: sum(r.change == change for r in rules) for change in _CHANGES}
    if as_json:
        render.print_json(
            {"old": old, "new": new, "counts": counts, "rules": [r.to_dict() for r in rules]}
        )
        return
    render.out.print(
        f"{old} -> {new}: " + ", ".join(f"{counts[change]} rules {change}" for change in _CHANGES),
        markup=False,
        soft_wrap=True,
    )
    _print_rules(rules)


_CHANGES = ("changed", "added", "removed")


def _baseline(name: str) -> Baseline:
    from monitor.core.baseline import load_baseline

    return load_baseline(None if name == BUILTIN else Path(name))


def _print_rules(rules: list[RuleDiff]) -> None:
    for rule in rules:
        render.out.print(f"  {rule.change:<8} {rule.rule_id}", markup=False, soft_wrap=True)
        for field in rule.fields:
            render.out.print(
                f"             {field.field}: {_value(field.old)} -> {_value(field.new)}",
                markup=False,
                soft_wrap=True,
            )


def _value(value: Any) -> str:
    text = "(absent)" if value is None else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _print_preview(preview: BaselinePreview, names: dict[str, str]) -> None:
    from monitor.core.preview import FlipKind

    scope = f"in force at {render.when(preview.at)}" if preview.at else "latest"
    render.out.print(
        f"baseline {preview.current} -> {preview.proposed}, on the {scope} stored "
        f"configurations of {len(preview.tenants)} tenants (ConnectWise not contacted)",
        markup=False,
        soft_wrap=True,
    )
    if preview.rules:
        render.out.print("rules:", markup=False)
        _print_rules(list(preview.rules))
    else:
        render.out.print("rules: no differences", markup=False)
    for kind in FlipKind:
        rows = [f for f in preview.flips if f.kind is kind]
        if not rows:
            continue
        render.out.print(f"\n{kind.heading} ({len(rows)})", markup=False, style="bold")
        for flip in rows:
            finding = flip.after or flip.before
            assert finding is not None  # a flip has a finding on one side at least
            lines = [
                f"  {flip.tenant_id} ({names.get(flip.tenant_id, '')}): {flip.rule_id} "
                f"[{finding.severity.value}]",
                f"      {flip.label}",
                f"      before: {_side(flip.before)}",
                f"      after:  {_side(flip.after)}",
            ]
            render.out.print("\n".join(lines), markup=False, soft_wrap=True)
    render.out.print()
    if preview.without_snapshot:
        render.out.print(
            "not previewed (no stored configuration: never read successfully): "
            + ", ".join(preview.without_snapshot),
            markup=False,
            soft_wrap=True,
        )
    render.out.print(preview.summary, markup=False, soft_wrap=True)


def _side(finding: Finding | None) -> str:
    if finding is None:
        return "no finding (rule absent, or not applicable to this tenant)"
    actual = "—" if finding.actual is None else finding.actual
    return f"{finding.status.value}, expected {finding.expected}, actual {actual}"
