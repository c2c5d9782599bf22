"""Human output for the command line: clear tables, colour only on a terminal (rich decides).

Everything here takes plain results and prints them; ``--json`` output bypasses this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.core.findings import Finding, Status
from monitor.jobs.check import TenantResult

__all__ = [
    "Table",
    "changes_table",
    "check_results",
    "err",
    "escape",
    "findings_table",
    "out",
    "print_json",
    "show",
    "styled",
    "tenant_block",
    "when",
]

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line

_STATUS_STYLE = {
    "compliant": "green",
    "drift": "bold red",
    "error": "bold yellow",
    Status.PASS.value: "green",
    Status.FAIL.value: "red",
    Status.UNKNOWN.value: "yellow",
    Status.WAIVED.value: "cyan",
}


def styled(text: str) -> str:
    style = _STATUS_STYLE.get(text)
    return f"[{style}]{text}[/]" if style else text


def show(value: Any) -> str:
    """A setting value as people read it."""
    if value is None:
        return "—"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def check_results(results: Sequence[TenantResult]) -> None:
    summary = Table(title="cwdrift check", title_justify="left")
    for column in ("tenant", "status", "mode", "failing", "unknown", "changes"):
        summary.add_column(column)
    for result in results:
        failing = sum(1 for f in result.findings if f.is_drift)
        unknown = sum(1 for f in result.findings if f.status is Status.UNKNOWN)
        summary.add_row(
            result.tenant_id,
            styled(result.status),
            result.credential_mode.value if result.credential_mode else "—",
            str(failing),
            str(unknown),
            str(len(result.changes)),
        )
    out.print(summary)
    for result in results:
        tenant_block(result)


_MARK = {Status.FAIL: "[red]✗[/]", Status.UNKNOWN: "[yellow]?[/]", Status.WAIVED: "[cyan]~[/]"}


def tenant_block(result: TenantResult) -> None:
    """One tenant's failing, unknown and waived findings and its changes, as indented text."""
    notable = [f for f in result.findings if f.status is not Status.PASS]
    if result.error is None and not notable and not result.changes:
        return
    out.print()
    mode = f", {result.credential_mode.value} credentials" if result.credential_mode else ""
    out.print(
        f"[bold]{escape(result.tenant_id)}[/] ({escape(result.name)}): "
        f"{styled(result.status)}{mode}"
    )
    if result.error is not None:
        out.print(f"  could not be checked: {escape(str(result.error))}")
    for finding in notable:
        mark = _MARK.get(finding.status, "")
        severity = escape(f"[{finding.severity.value}]")
        if finding.status is Status.UNKNOWN:
            out.print(f"  {mark} {severity} {escape(finding.rule_id)}: unknown")
            out.print(f"      {escape(finding.note)}", style="dim")
            continue
        out.print(
            f"  {mark} {severity} {escape(finding.rule_id)}: "
            f"expected {escape(finding.expected)}, actual {escape(finding.actual or '—')}"
        )
        out.print(f"      {escape(finding.label)}", style="dim")
        if finding.note:
            out.print(f"      note: {escape(finding.note)}")
        if finding.status is Status.FAIL and finding.remediation:
            out.print(f"      fix: {escape(finding.remediation)}")
    if result.changes:
        out.print("  changed since the last check:")
        for change in result.changes:
            who = f" (ConnectWise: {change.updated_by}" if change.updated_by else ""
            if who and change.last_updated:
                who += f" at {change.last_updated}"
            who += ")" if who else ""
            out.print(
                f"      {escape(change.label)}: {escape(show(change.old))} → "
                f"{escape(show(change.new))}{escape(who)}"
            )


def findings_table(title: str, findings: Iterable[Finding]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("severity", "status", "rule", "expected", "actual", "fix"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(
            finding.severity.value,
            styled(finding.status.value),
            finding.label,
            finding.expected,
            finding.actual if finding.actual is not None else "—",
            finding.note or finding.remediation,
        )
    out.print(table)


def changes_table(title: str, changes: Iterable[dict[str, Any]]) -> None:
    """Rows with setting/label/old/new and optionally observed_at/changed_by."""
    table = Table(title=title, title_justify="left")
    rows = list(changes)
    with_time = any("observed_at" in row for row in rows)
    if with_time:
        table.add_column("observed")
    for column in ("setting", "old", "new", "changed by (ConnectWise)"):
        table.add_column(column, overflow="fold")
    for row in rows:
        who = row.get("changed_by") or "—"
        if row.get("changed_at"):
            who = f"{who} at {row['changed_at']}"
        fix = row.get("fixed_by_cwdrift")
        if fix:  # a write cwdrift sent: say who ran it (ConnectWise only knows the fix member)
            who = f"{who}; changed by cwdrift fix, run by {fix['operator']} on {fix['host']}"
        cells = [row["label"], show(row["old"]), show(row["new"]), who]
        if with_time:
            observed = row.get("observed_at")
            cells.insert(0, when(datetime.fromisoformat(observed)) if observed else "")
        table.add_row(*cells)
    out.print(table)
