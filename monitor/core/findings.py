"""Domain results: a rule's :class:`Finding` and a setting's :class:`Change` (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from monitor.core.snapshot import Value


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a rule status, not a password)
    FAIL = "fail"
    UNKNOWN = "unknown"  # could not be read: never reported as drift
    WAIVED = "waived"  # failing, but an accepted deviation pins the actual value


class Severity(StrEnum):
    """Ordered from most to least urgent. ``warning`` is advisory: it never makes a tenant drift."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        """Higher is more urgent; used for routing thresholds and sorting."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.WARNING: 0,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's result for one tenant at one check.

    ``expected`` and ``actual`` are human-readable strings ("All", "off", "Account");
    ``keys`` are the snapshot settings the rule read, so alerts and history can say who
    changed them.
    """

    rule_id: str
    label: str
    severity: Severity
    status: Status
    expected: str
    actual: str | None
    keys: tuple[str, ...] = ()
    remediation: str = ""
    note: str = ""

    @property
    def is_drift(self) -> bool:
        return self.status is Status.FAIL and self.severity is not Severity.WARNING

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "label": self.label,
            "severity": self.severity.value,
            "status": self.status.value,
            "expected": self.expected,
            "actual": self.actual,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """A setting that moved between two snapshots. ``None`` on either side means absent."""

    key: str
    label: str
    old: Value
    new: Value
    updated_by: str | None = None  # ConnectWise _info.updatedBy of the new record, if given
    last_updated: str | None = None  # ConnectWise _info.lastUpdated of the new record, if given

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.key,
            "label": self.label,
            "old": self.old,
            "new": self.new,
            "changed_by": self.updated_by,
            "changed_at": self.last_updated,
        }
