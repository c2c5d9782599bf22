"""What the weekly report is built from: plain records the store reads in a few set-based queries.

:func:`monitor.store.report_reads.read_report_inputs` fills a :class:`ReportInputs`;
:func:`monitor.reports.build.build_weekly` turns it into a report without touching the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.alerts.config import Silence
from monitor.core.options import Waiver
from monitor.core.snapshot import Value


@dataclass(frozen=True, slots=True)
class Transition:
    """A finding's move into a status (``finding_transition``)."""

    tenant_id: str
    rule_id: str
    at: datetime
    to_status: str
    severity: str
    label: str
    expected: str
    actual: str | None
    run_id: int | None = None  # the check run that recorded it


@dataclass(frozen=True, slots=True)
class ObservedChange:
    """A setting change as recorded (``setting_change``)."""

    tenant_id: str
    observed_at: datetime
    key: str
    label: str
    old: Value
    new: Value
    changed_by: str | None
    changed_at: str | None


@dataclass(frozen=True, slots=True)
class FailedRun:
    """A failed check run after the tenant's last good one (its current error streak)."""

    tenant_id: str
    started_at: datetime
    error_kind: str | None
    error_message: str | None


@dataclass(frozen=True, slots=True)
class WaiverInput:
    tenant_id: str
    waiver: Waiver
    source: str  # "config" | "database"
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class SilenceInput:
    silence: Silence
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """Everything the store holds that a report over some tenants up to ``until`` needs."""

    transitions: list[Transition]  # ordered by tenant, rule, time; all before ``until``
    finding_keys: dict[tuple[str, str], tuple[str, ...]]  # (tenant, rule) -> setting keys read
    changes: list[ObservedChange]  # observed in [since, until), oldest first
    failed_runs: list[FailedRun]  # per tenant, the runs after its last good run, oldest first
    last_checked: dict[str, datetime]  # tenant -> start of its newest run before ``until``
    first_checked: dict[str, datetime]  # tenant -> start of its first run ever (may be later)
    database_waivers: list[WaiverInput]
    database_silences: list[SilenceInput]
    # (tenant, rule, check run) -> operator, for cwdrift writes that run verified as fixed
    cwdrift_fixes: dict[tuple[str, str, int], str] = field(default_factory=dict)
