"""The weekly compliance report as plain, frozen data.

:func:`monitor.reports.build.build_weekly` produces a :class:`WeeklyReport`; every renderer
(JSON, text, CSV, HTML, PDF, Slack) reads only this, so all formats say the same thing and tests
compare the data once, exactly.

Scoring: a tenant's score is *passing rules / applicable rules* as of the period end, where a
rule is applicable when its latest finding is pass, fail or waived (an *unknown* rule could not
be judged, and a *warning* is advisory, so neither counts), and passing means pass or waived (an
accepted deviation is compliant by decision; the report lists every waiver separately).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 1)


def format_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def format_duration(value: timedelta | None) -> str:
    """``3d 4h`` / ``5h 10m`` / ``12m``: precise enough to read, short enough for a table cell."""
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


@dataclass(frozen=True, slots=True)
class Score:
    passing: int
    applicable: int

    @property
    def percent(self) -> float | None:
        """Rounded to one decimal; None when nothing was applicable (never checked)."""
        if self.applicable == 0:
            return None
        return round(100.0 * self.passing / self.applicable, 1)

    @property
    def text(self) -> str:
        return "n/a" if self.percent is None else f"{self.percent:.1f}%"

    def __add__(self, other: Score) -> Score:
        return Score(self.passing + other.passing, self.applicable + other.applicable)

    def to_dict(self) -> dict[str, Any]:
        return {"passing": self.passing, "applicable": self.applicable, "percent": self.percent}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The fleet score at the end of one week (``week`` is the ISO label, e.g. 2026-W47)."""

    week: str
    until: datetime
    score: Score

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week, "until": iso(self.until), **self.score.to_dict()}


@dataclass(frozen=True, slots=True)
class TenantScore:
    tenant_id: str
    name: str
    score: Score
    previous: Score  # at the end of the week before, for the delta column
    open_violations: int
    # False when its latest check by the period end failed or it was never read: nothing about
    # it can be verified, so "worst first" puts it on top.
    readable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "name": self.name,
            **self.score.to_dict(),
            "previous_percent": self.previous.percent,
            "open_violations": self.open_violations,
            "readable": self.readable,
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule failing at the period end; ``age`` counts from the start of its failing streak."""

    tenant_id: str
    tenant_name: str
    rule_id: str
    label: str
    severity: str
    expected: str
    actual: str | None
    first_failed_at: datetime
    age: timedelta
    command: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "name": self.tenant_name,
            "rule": self.rule_id,
            "label": self.label,
            "severity": self.severity,
            "expected": self.expected,
            "actual": self.actual,
            "first_failed_at": iso(self.first_failed_at),
            "age_hours": hours(self.age),
            "command": self.command,
        }


@dataclass(frozen=True, slots=True)
class FindingEvent:
    """A finding that became failing (new / regressed) or stopped failing (resolved) this week."""

    kind: str  # "new" | "regressed" | "resolved"
    tenant_id: str
    tenant_name: str
    rule_id: str
    label: str
    severity: str
    at: datetime
    to_status: str
    expected: str
    actual: str | None
    time_to_fix: timedelta | None = None  # resolved: since the streak began
    last_resolved_at: datetime | None = None  # regressed: when it was fixed before
    command: str = ""
    cwdrift_operator: str | None = None  # resolved by a verified cwdrift write, run by whom

    @property
    def fixed_by(self) -> str | None:
        """Who fixed a resolved finding: "cwdrift", "person", or None (not a fix: waived)."""
        if self.kind != "resolved" or self.to_status != "pass":
            return None
        return "cwdrift" if self.cwdrift_operator is not None else "person"

    @property
    def how_resolved(self) -> str:
        """ "accepted deviation", "fixed by cwdrift (jane on ops-1)" or "fixed" (by a person)."""
        if self.to_status == "waived":
            return "accepted deviation"
        if self.cwdrift_operator is not None:
            return f"fixed by cwdrift ({self.cwdrift_operator})"
        return "fixed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tenant": self.tenant_id,
            "name": self.tenant_name,
            "rule": self.rule_id,
            "label": self.label,
            "severity": self.severity,
            "at": iso(self.at),
            "status": self.to_status,
            "expected": self.expected,
            "actual": self.actual,
            "time_to_fix_hours": hours(self.time_to_fix),
            "last_resolved_at": iso(self.last_resolved_at),
            "command": self.command,
            "fixed_by": self.fixed_by,
            "cwdrift_operator": self.cwdrift_operator,
        }


@dataclass(frozen=True, slots=True)
class FixerTally:
    """How many findings one kind of fixer fixed in the period, and their median time to fix."""

    count: int
    median_time_to_fix: timedelta | None

    @property
    def text(self) -> str:
        if not self.count:
            return "0"
        return f"{self.count} (median time to fix {format_duration(self.median_time_to_fix)})"

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median_time_to_fix_hours": hours(self.median_time_to_fix)}


@dataclass(frozen=True, slots=True)
class SettingChangeItem:
    """A setting change observed this week: when cwdrift saw it, and who ConnectWise says did it."""

    tenant_id: str
    tenant_name: str
    observed_at: datetime
    key: str
    label: str
    old: Any
    new: Any
    changed_by: str | None
    changed_at: str | None
    command: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "name": self.tenant_name,
            "observed_at": iso(self.observed_at),
            "setting": self.key,
            "label": self.label,
            "old": self.old,
            "new": self.new,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
            "command": self.command,
        }


@dataclass(frozen=True, slots=True)
class UncheckedTenant:
    """A tenant not verified in the period: its latest check by the period end failed, it had
    no check in the period, or it was never checked at all."""

    tenant_id: str
    name: str
    since: datetime | None  # first error of the current streak; None: not failing
    consecutive_errors: int
    error_kind: str | None
    error_message: str | None
    command: str
    last_checked_at: datetime | None = None  # newest check (any outcome) before the period end
    first_checked_at: datetime | None = None  # first check ever, possibly after the period
    checked_in_period: bool = False

    @property
    def state(self) -> str:
        """``failing`` (its checks fail), ``not_checked`` (none in the period) or ``never``."""
        if self.consecutive_errors:
            return "failing"
        return "not_checked" if self.first_checked_at is not None else "never"

    @property
    def headline(self) -> str:
        """Why the tenant is listed, in a few words (the Slack summary and the table)."""
        if self.state == "failing":
            headline = f"failing since {format_time(self.since)}"
            if not self.checked_in_period:
                headline += f"; {self._not_checked()}"
            return headline
        if self.state == "not_checked":
            return self._not_checked()
        return "never checked"

    @property
    def summary(self) -> str:
        if self.state != "failing":
            return self.headline
        return (
            f"{self.headline}, {self.consecutive_errors} checks in a row: "
            f"{self.error_kind}: {self.error_message}"
        )

    def _not_checked(self) -> str:
        if self.last_checked_at is not None:
            when = f"last checked {format_time(self.last_checked_at)}"
        else:
            when = f"first checked later, {format_time(self.first_checked_at)}"
        return f"not checked in this period ({when})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "name": self.name,
            "state": self.state,
            "since": iso(self.since),
            "consecutive_errors": self.consecutive_errors,
            "error_kind": self.error_kind,
            "error_message": self.error_message,
            "last_checked_at": iso(self.last_checked_at),
            "summary": self.summary,
            "command": self.command,
        }


@dataclass(frozen=True, slots=True)
class WaiverItem:
    """An accepted deviation in force at the period end."""

    tenant_id: str
    tenant_name: str
    rule: str
    value: str | None
    reason: str
    accepted_by: str
    expires: datetime
    source: str  # "config" | "database"
    expiring_soon: bool  # within the report's warning window (14 days)
    command: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "name": self.tenant_name,
            "rule": self.rule,
            "value": self.value,
            "reason": self.reason,
            "accepted_by": self.accepted_by,
            "expires": iso(self.expires),
            "source": self.source,
            "expiring_soon": self.expiring_soon,
            "command": self.command,
        }


@dataclass(frozen=True, slots=True)
class SilenceItem:
    """A notification silence that ends within the warning window."""

    tenant: str | None
    rule: str | None
    reason: str
    author: str
    expires: datetime
    source: str  # "config" | "database"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "rule": self.rule,
            "reason": self.reason,
            "author": self.author,
            "expires": iso(self.expires),
            "source": self.source,
        }


@dataclass(frozen=True)
class WeeklyReport:
    label: str  # "2026-W47", or "2026-11-01 to 2026-11-08" for a custom range
    since: datetime
    until: datetime
    generated_at: datetime
    fleet: Score
    trend: tuple[TrendPoint, ...]
    tenants: tuple[TenantScore, ...]
    violations: tuple[Violation, ...]
    new: tuple[FindingEvent, ...]
    resolved: tuple[FindingEvent, ...]
    regressed: tuple[FindingEvent, ...]
    changes: tuple[SettingChangeItem, ...]
    unchecked: tuple[UncheckedTenant, ...]
    waivers: tuple[WaiverItem, ...]
    silences: tuple[SilenceItem, ...]
    warning_days: int = 14
    # The median time from a failure to its fix, over the fixes in the period (an accepted
    # deviation is not a fix); None when nothing was fixed.
    median_time_to_fix: timedelta | None = None
    # The same split by who fixed it: a verified cwdrift write, or a person.
    fixed_by_cwdrift: FixerTally = field(default_factory=lambda: FixerTally(0, None))
    fixed_by_person: FixerTally = field(default_factory=lambda: FixerTally(0, None))

    @property
    def title(self) -> str:
        return f"cwdrift weekly compliance report {self.label}"

    @property
    def critical_open(self) -> int:
        return sum(1 for v in self.violations if v.severity == "critical")

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": "weekly",
            "label": self.label,
            "since": iso(self.since),
            "until": iso(self.until),
            "generated_at": iso(self.generated_at),
            "fleet": self.fleet.to_dict(),
            "trend": [p.to_dict() for p in self.trend],
            "tenants": [t.to_dict() for t in self.tenants],
            "violations": [v.to_dict() for v in self.violations],
            "new": [e.to_dict() for e in self.new],
            "resolved": [e.to_dict() for e in self.resolved],
            "regressed": [e.to_dict() for e in self.regressed],
            "changes": [c.to_dict() for c in self.changes],
            "unchecked": [u.to_dict() for u in self.unchecked],
            "waivers": [w.to_dict() for w in self.waivers],
            "silences": [s.to_dict() for s in self.silences],
            "warning_days": self.warning_days,
            "median_time_to_fix_hours": hours(self.median_time_to_fix),
            "fixed_by": {
                "cwdrift": self.fixed_by_cwdrift.to_dict(),
                "person": self.fixed_by_person.to_dict(),
            },
        }
