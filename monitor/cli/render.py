"""Human output for the command line: clear tables, colour only on a terminal (rich decides).

Everything here takes plain results and prints them; ``--json`` output bypasses this module.

What ConnectWise sends is printed literally. Both consoles have Rich markup and emoji codes
off, so a GL caption ``Tracking [/] 1`` or ``:warning:`` is text, never a style; our own
styling is explicit (:func:`styled`, :func:`line`). Every string they print has its control
characters escaped (:mod:`monitor.printable`), and table cells (:func:`cell`) are escaped
whole, newlines included, and clipped to :data:`CELL_LIMIT` characters (``--json`` has all).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.core.findings import Finding, Status
from monitor.printable import clip, printable

if TYPE_CHECKING:
    from monitor.jobs.check import TenantResult

__all__ = [
    "CELL_LIMIT",
    "Table",
    "cell",
    "changes_table",
    "check_results",
    "err",
    "last_editor",
    "line",
    "out",
    "print_json",
    "progress",
    "shared_findings",
    "show",
    "styled",
    "table",
    "tenant_block",
    "when",
    "when_text",
]

CELL_LIMIT = 300  # characters of one value in a table; a 10,000-character caption stays readable


class SafeConsole(Console):
    """A console that escapes control characters in every string it renders."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(printable(text, keep_lines=True), **options)


def _console(*, stderr: bool) -> SafeConsole:
    # soft_wrap on stderr: an error stays one line; stdout tables wrap to the terminal.
    return SafeConsole(stderr=stderr, soft_wrap=stderr, markup=False, emoji=False, highlight=False)


out = _console(stderr=False)
err = _console(stderr=True)

_STATUS_STYLE = {
    "compliant": "green",
    "drift": "bold red",
    "error": "bold yellow",
    Status.PASS.value: "green",
    Status.FAIL.value: "red",
    Status.UNKNOWN.value: "yellow",
    Status.WAIVED.value: "cyan",
}


def styled(text: str) -> Text:
    """A status word in its colour (plain text when it is not a status)."""
    return Text(printable(text), style=_STATUS_STYLE.get(text, ""))


def cell(value: object, *, limit: int = CELL_LIMIT, style: str = "") -> Text:
    """One value in a table: literal, control characters escaped, clipped to ``limit``."""
    return Text(clip(printable(str(value)), limit), style=style)


Part = str | Text | tuple[str, str]


def line(*parts: Part) -> Text:
    """A line assembled from plain strings, ``(text, style)`` pairs and Text, all literal."""
    safe: list[str | Text | tuple[str, str]] = []
    for part in parts:
        if isinstance(part, str):
            safe.append(printable(part, keep_lines=True))
        elif isinstance(part, tuple):
            safe.append((printable(part[0], keep_lines=True), part[1]))
        else:
            safe.append(part)
    return Text.assemble(*safe)


def table(title: str, columns: Sequence[str], *, fold: bool = True) -> Table:
    """A left-titled table whose columns fold long values instead of cutting them."""
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column, overflow="fold" if fold else "ellipsis")
    return result


def show(value: Any) -> str:
    """A setting value as people read it; "—" is absent (a permission level "None" stays)."""
    if value is None:
        return "—"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


TIME_FORMAT = "%Y-%m-%d %H:%M UTC"  # the one way the command line shows a moment


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TIME_FORMAT)


def when_text(value: str | None) -> str:
    """An ISO time given as text (ours, or ConnectWise's ``lastUpdated``) in the one format.

    Text that is not an ISO time is shown as it is: ConnectWise's format is not ours to trust.
    """
    if not value:
        return "—"
    try:
        return when(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def last_editor(by: str | None, at: str | None) -> str:
    """ConnectWise's ``_info.updatedBy``/``lastUpdated``: who last edited the *record*."""
    if not by and not at:
        return "—"
    return f"{by or 'unknown'} at {when_text(at)}" if at else str(by)


def print_json(data: Any) -> None:
    # ensure_ascii (the default) writes control characters as \u escapes: JSON is safe as is.
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def check_results(results: Sequence[TenantResult]) -> None:
    """The summary table, then each finding shared by several tenants once, then what is left
    of each tenant (its error, its own findings, its changes).

    A fleet whose tenants all share one unknown rule would otherwise print the same lines once
    per tenant: thousands of them, and most of a large check's time.
    """
    summary = table(
        "cwdrift check", ("tenant", "status", "mode", "failing", "unknown", "changes"), fold=False
    )
    for result in results:
        failing = sum(1 for f in result.findings if f.is_drift)
        unknown = sum(1 for f in result.findings if f.status is Status.UNKNOWN)
        summary.add_row(
            cell(result.tenant_id),
            styled(result.status),
            result.credential_mode.value if result.credential_mode else "—",
            str(failing),
            str(unknown),
            str(len(result.changes)),
        )
    out.print(summary)
    shared = shared_findings(results)
    if shared:
        out.print()
        out.print(line(("On several tenants", "bold")))
        for finding, tenant_ids in shared.items():
            _finding_lines(finding, on=tenant_ids)
    for result in results:
        tenant_block(result, shown=shared)


def shared_findings(results: Sequence[TenantResult]) -> dict[Finding, list[str]]:
    """Each notable finding (not passing) that two or more tenants have exactly alike, with
    their ids, in the order first met."""
    seen: dict[Finding, list[str]] = {}
    for result in results:
        for finding in result.findings:
            if finding.status is not Status.PASS:
                seen.setdefault(finding, []).append(result.tenant_id)
    return {finding: ids for finding, ids in seen.items() if len(ids) > 1}


_MARK = {
    Status.FAIL: ("✗", "red"),
    Status.UNKNOWN: ("?", "yellow"),
    Status.WAIVED: ("~", "cyan"),
}
SHARED_NAMES = 8  # tenant ids named under a shared finding; --json lists every tenant's findings


def tenant_block(result: TenantResult, *, shown: Collection[Finding] = ()) -> None:
    """One tenant's failing, unknown and waived findings (but those already ``shown`` for
    several tenants) and its changes, as indented text."""
    notable = [f for f in result.findings if f.status is not Status.PASS and f not in shown]
    if result.error is None and not notable and not result.changes:
        return
    out.print()
    mode = f", {result.credential_mode.value} credentials" if result.credential_mode else ""
    out.print(line((result.tenant_id, "bold"), f" ({result.name}): ", styled(result.status), mode))
    if result.error is not None:
        out.print(line("  could not be checked: ", str(result.error)))
    for finding in notable:
        _finding_lines(finding)
    if result.changes:
        out.print("  changed since the last check:")
        for change in result.changes:
            who = ""
            if change.updated_by or change.last_updated:
                who = (
                    " (last edited in ConnectWise by "
                    f"{last_editor(change.updated_by, change.last_updated)})"
                )
            out.print(
                line(
                    f"      {change.label}: ",
                    clip(printable(show(change.old)), CELL_LIMIT),
                    " → ",
                    clip(printable(show(change.new)), CELL_LIMIT),
                    printable(who),
                )
            )


def _finding_lines(finding: Finding, *, on: Sequence[str] = ()) -> None:
    """A finding's lines; ``on`` names the tenants that share it (none: the tenant above)."""
    mark = _MARK.get(finding.status, ("", ""))
    head = line("  ", mark, f" [{finding.severity.value}] {finding.rule_id}: ")
    if finding.status is Status.UNKNOWN:
        out.print(line(head, "unknown"))
    else:
        actual = finding.actual or "—"
        out.print(
            line(
                head,
                f"expected {clip(printable(finding.expected), CELL_LIMIT)}, "
                f"actual {clip(printable(actual), CELL_LIMIT)}",
            )
        )
    if on:
        named = ", ".join(on[:SHARED_NAMES])
        more = f" and {len(on) - SHARED_NAMES} more" if len(on) > SHARED_NAMES else ""
        out.print(line(f"      on {len(on)} tenants: ", named, more))
    if finding.status is Status.UNKNOWN:
        out.print(line("      ", clip(printable(finding.note), CELL_LIMIT)), style="dim")
        return
    out.print(line("      ", finding.label), style="dim")
    if finding.note:
        out.print(line("      note: ", clip(printable(finding.note), CELL_LIMIT)))
    if finding.status is Status.FAIL and finding.remediation:
        out.print(line("      fix: ", finding.remediation))


LAST_EDITOR_COLUMN = "last editor in ConnectWise"


def changes_table(title: str, changes: Sequence[dict[str, Any]]) -> None:
    """Rows with setting/label/old/new and optionally observed_at/changed_by/changed_at.

    ConnectWise keeps no field-level audit trail: the editor shown is the last person who
    saved the *record* the setting is on (``_info.updatedBy``), which is usually, not always,
    the person who changed this setting.
    """
    with_time = any("observed_at" in row for row in changes)
    columns = ["observed"] if with_time else []
    result = table(title, [*columns, "setting", "old", "new", LAST_EDITOR_COLUMN])
    for row in changes:
        cells = [
            cell(row["label"]),
            cell(show(row["old"])),
            cell(show(row["new"])),
            cell(_editor(row)),
        ]
        if with_time:
            cells.insert(0, cell(when_text(row.get("observed_at"))))
        result.add_row(*cells)
    out.print(result)


def _editor(row: dict[str, Any]) -> str:
    editor = last_editor(row.get("changed_by"), row.get("changed_at"))
    fix = row.get("fixed_by_cwdrift")
    if fix:  # a write cwdrift sent: say who ran it (ConnectWise only knows the fix member)
        editor += f"; changed by cwdrift fix, run by {fix['operator']} on {fix['host']}"
    return editor


Advance = Callable[[int], None]


@contextmanager
def progress(description: str, total: int | None, *, enabled: bool = True) -> Iterator[Advance]:
    """A transient progress bar on stderr while a long operation runs.

    Shown only when stderr is a terminal and ``enabled`` (commands pass ``not as_json``): a
    script, a pipe or a log file sees nothing of it. Yields ``advance(n)``.
    """
    if not enabled or not err.is_terminal:
        yield lambda _n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(printable(description), total=total)
        yield lambda n: bar.advance(task, n)
