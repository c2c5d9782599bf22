"""Alert domain data: the tenant reference, an alert's state, and the notifications planned.

All plain, frozen data. The lifecycle produces it, routing splits it per channel, the message
builders turn it into payloads, and the outbox stores those payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.core.findings import Severity
from monitor.weblinks import WebLinks, links_for

COLLECTION_KEY = "collection"  # the alert key of "cannot verify tenant X"
COLLECTION_SEVERITY = Severity.HIGH  # unverifiable is serious, but not itself proven drift


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class EventKind(StrEnum):
    """What happened to one alert in one check. Order of declaration is the order in messages."""

    CANNOT_VERIFY = "cannot_verify"
    NEW = "new"
    REGRESSED = "regressed"
    FIX_FAILED = "fix_failed"  # an automatic fix did not hold; automatic fixes of it stop
    REMINDER = "reminder"
    RESOLVED = "resolved"
    RECOVERED = "recovered"

    @property
    def opens(self) -> bool:
        """Opening-like events are routed by the current routes; closing ones follow the opening."""
        return self not in (EventKind.RESOLVED, EventKind.RECOVERED)


_KIND_ORDER = {kind: index for index, kind in enumerate(EventKind)}


@dataclass(frozen=True, slots=True)
class TenantRef:
    id: str
    name: str
    tags: tuple[str, ...] = ()
    ticket_company: str | None = None  # the MSP's company for it, for ticket channels


@dataclass(frozen=True, slots=True)
class FixNote:
    """A write cwdrift sent for one rule just before the check that verifies it.

    The check says what came of it: the rule's resolved notice becomes "fixed by cwdrift", and
    an automatic fix that did not hold is announced once (the daemon then stops trying).
    """

    operator: str  # who ran it, e.g. "jane on ops-1", or "cwdrift daemon (automatic)"
    automatic: bool = False
    answer: str = ""  # ConnectWise's answer to the write, for the notice that it did not hold
    resume: str = ""  # the command that resumes automatic fixes of the rule

    @property
    def fixed_by(self) -> str:
        return f"cwdrift ({self.operator})"


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where one alert of one tenant stands. ``alert_key`` is a rule id or ``collection``."""

    tenant_id: str
    alert_key: str
    status: AlertStatus
    label: str
    severity: Severity
    opened_at: datetime | None = None
    last_notified_at: datetime | None = None  # within the current episode; None = nobody told
    resolved_at: datetime | None = None
    silenced_until: datetime | None = None  # set while a silence swallowed a notification
    consecutive_failures: int = 0  # collection key only
    channels: tuple[str, ...] = ()  # channels told about the opening: closings go there too

    @property
    def is_open(self) -> bool:
        return self.status is AlertStatus.OPEN


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One line of a notification: an alert that opened, reminded, regressed or closed."""

    kind: EventKind
    alert_key: str
    label: str
    severity: Severity
    expected: str | None = None
    actual: str | None = None
    first_seen: datetime | None = None
    last_resolved_at: datetime | None = None  # regressed: when it was last fixed
    remediation: str = ""
    note: str = ""
    changed_by: str | None = None
    changed_at: str | None = None
    silenced_until: datetime | None = None  # "was silenced until ..." on late delivery
    error: dict[str, str] | None = None  # cannot_verify: the typed error's kind, message, fix
    fixed_by: str | None = None  # resolved by a cwdrift write: "cwdrift (jane on ops-1)"

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (_KIND_ORDER[self.kind], -self.severity.rank, self.alert_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "alert": self.alert_key,
            "label": self.label,
            "severity": self.severity.value,
            "expected": self.expected,
            "actual": self.actual,
            "first_seen": _iso(self.first_seen),
            "last_resolved_at": _iso(self.last_resolved_at),
            "remediation": self.remediation,
            "note": self.note,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
            "silenced_until": _iso(self.silenced_until),
            "error": self.error,
            "fixed_by": self.fixed_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertEvent:
        """The inverse of :meth:`to_dict`."""
        return cls(
            kind=EventKind(data["kind"]),
            alert_key=data["alert"],
            label=data["label"],
            severity=Severity(data["severity"]),
            expected=data["expected"],
            actual=data["actual"],
            first_seen=_from_iso(data["first_seen"]),
            last_resolved_at=_from_iso(data["last_resolved_at"]),
            remediation=data["remediation"],
            note=data["note"],
            changed_by=data["changed_by"],
            changed_at=data["changed_at"],
            silenced_until=_from_iso(data["silenced_until"]),
            error=data["error"],
            fixed_by=data.get("fixed_by"),  # absent from groups stored before 0008
        )


@dataclass(frozen=True, slots=True)
class LateNote:
    """Said on a message that goes out after its delivery had failed for good (see
    :mod:`monitor.alerts.late`): when its check wrote it, and what newer messages made moot."""

    written_at: datetime
    sent_at: datetime
    dropped: tuple[str, ...] = ()  # labels of the items left out: already told, newer, before it


@dataclass(frozen=True, slots=True)
class NotificationGroup:
    """Everything one check has to say about one tenant: at most one message per channel."""

    tenant: TenantRef
    checked_at: datetime
    events: tuple[AlertEvent, ...] = field(default_factory=tuple)
    late: LateNote | None = None  # set only when a failed delivery is retried
    links: WebLinks | None = None  # to the web pages, when ``web.base_url`` is configured

    @property
    def severity(self) -> Severity:
        """The worst item's severity decides routing and the subject tag."""
        return max((e.severity for e in self.events), key=lambda s: s.rank, default=Severity.LOW)

    def count(self, *kinds: EventKind) -> int:
        return sum(1 for e in self.events if e.kind in kinds)

    def only(self, events: tuple[AlertEvent, ...]) -> NotificationGroup:
        return replace(self, events=events)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; the outbox keeps it so a late message can be rebuilt (never with ``late``;
        with the links' base URL, so a rebuilt message links where the first one did)."""
        tenant: dict[str, Any] = {
            "id": self.tenant.id,
            "name": self.tenant.name,
            "tags": self.tenant.tags,
        }
        if self.tenant.ticket_company is not None:
            tenant["ticket_company"] = self.tenant.ticket_company
        data: dict[str, Any] = {
            "tenant": tenant,
            "checked_at": self.checked_at.isoformat(),
            "events": [event.to_dict() for event in self.events],
        }
        if self.links is not None:
            data["web"] = self.links.base_url
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotificationGroup:
        tenant = data["tenant"]
        return cls(
            tenant=TenantRef(
                tenant["id"], tenant["name"], tuple(tenant["tags"]), tenant.get("ticket_company")
            ),
            checked_at=datetime.fromisoformat(data["checked_at"]),
            events=tuple(AlertEvent.from_dict(event) for event in data["events"]),
            links=links_for(data.get("web")),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
