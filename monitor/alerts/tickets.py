"""One service ticket per tenant incident (pure): what a ticket channel's share of a check does
to the MSP's tickets (connectwise-audit-tickets.md §4).

An *incident* is kept per ticket channel and tenant, of two kinds: ``drift`` (failing rules at
or above the channel's ``min_severity``) and ``collection`` ("cannot verify tenant"). The
lifecycle's events, as routed to the channel, move it:

    none/closed --a rule fails-->          open    create the ticket; the rules, values and
                                                   fixes in an internal note
    open --another rule fails/regresses--> open    an internal note (and reopens a ticket that
                                                   a person closed: something new broke)
    open --reminder-->                     open    an internal note, skipped when a person has
                                                   closed the ticket (the alert channels still
                                                   remind)
    open --a rule passes, others fail-->   open    an internal note
    open --the last rule passes-->         closed  a resolution note ("fixed by cwdrift" when
                                                   cwdrift's own write did it), then the
                                                   closed status
    open --an automatic fix did not hold-> open    an internal note (the ticket keeps its status)
    closed --one of its rules regresses within reopen_within-->  open
                                                   reopen the same ticket, naming when it was
                                                   last resolved; later, or a rule that was not
                                                   part of it: a new incident and ticket
    cannot verify / readable again                 the same, on a ticket of its own
    open --its alerts all closed unheard--> closed the same as resolved: a silence swallowed
                                                   the resolution, but the ticket must not stay
                                                   open for a fixed drift

Each message is a list of :class:`TicketStep` s, each naming the ticket by its ``externalXRef``
(:func:`incident_xref`, stable for the incident) and carrying an event number, unique on that
ticket and increasing, written into its note as ``[cwdrift:event N]``. That makes every step
idempotent (the sender looks the ticket and the note up before writing) and ordered: a step
whose ticket already carries a higher event number is late, and never changes the ticket's
status (see :mod:`monitor.alerts.ticket_sender`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.alerts.config import TicketChannel
from monitor.alerts.messages import format_time, title_of
from monitor.alerts.model import (
    COLLECTION_KEY,
    COLLECTION_SEVERITY,
    AlertEvent,
    EventKind,
    NotificationGroup,
)
from monitor.core.findings import Severity

KIND = "ticket"  # the channel type (outbox.kind holds at most 16 characters)
SUMMARY_MAX = 100  # Ticket.summary: "Max length: 100;"
XREF_MAX = 100  # Ticket.externalXRef: "Max length: 100;"
_MARKER = re.compile(r"\[cwdrift:event (\d+)\]")


class IncidentKind(StrEnum):
    DRIFT = "drift"
    COLLECTION = "collection"


class StatusChange(StrEnum):
    """What a step does to its ticket's status."""

    KEEP = "keep"
    OPEN = "open"  # reopen first if it is closed
    CLOSE = "close"  # close after the note


@dataclass(frozen=True, slots=True)
class Incident:
    """One ticket channel's incident for one tenant: its ticket, and which alerts it is about."""

    channel: str
    tenant_id: str
    kind: IncidentKind
    xref: str  # the ticket's externalXRef
    opened_at: datetime
    closed_at: datetime | None = None  # None while open
    failing: tuple[str, ...] = ()  # alert keys failing now
    keys: tuple[str, ...] = ()  # every alert key that has been part of it
    events: int = 0  # the last event number given to a step on its ticket

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class TicketStep:
    """One idempotent change to one ticket: make sure it exists, set its status, add a note."""

    xref: str
    event: int
    summary: str  # for creating the ticket when it does not exist yet
    severity: Severity  # the ticket's priority, through ``priority_by_severity``
    note: str  # ends with the event marker
    resolution: bool = False  # a resolution note (still internal)
    status: StatusChange = StatusChange.KEEP
    skip_if_closed: bool = False  # a reminder to a ticket a person closed is not posted
    create: bool = True  # False: closing a ticket that never existed creates nothing

    def to_dict(self) -> dict[str, Any]:
        return {
            "xref": self.xref,
            "event": self.event,
            "summary": self.summary,
            "severity": self.severity.value,
            "note": self.note,
            "resolution": self.resolution,
            "status": self.status.value,
            "skip_if_closed": self.skip_if_closed,
            "create": self.create,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketStep:
        return cls(
            xref=str(data["xref"]),
            event=int(data["event"]),
            summary=str(data["summary"]),
            severity=Severity(data["severity"]),
            note=str(data["note"]),
            resolution=bool(data["resolution"]),
            status=StatusChange(data["status"]),
            skip_if_closed=bool(data["skip_if_closed"]),
            create=bool(data["create"]),
        )


@dataclass(frozen=True, slots=True)
class TicketMessage:
    """The outbox payload of a ticket channel: the tenant, its company, the steps in order."""

    tenant_id: str
    tenant_name: str
    company: str | None  # the MSP's company identifier for the tenant
    steps: tuple[TicketStep, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "tenant_name": self.tenant_name,
            "company": self.company,
            "steps": [step.to_dict() for step in self.steps],
            "summary": describe(self),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketMessage:
        company = data.get("company")
        return cls(
            tenant_id=str(data["tenant"]),
            tenant_name=str(data["tenant_name"]),
            company=None if company is None else str(company),
            steps=tuple(TicketStep.from_dict(step) for step in data["steps"]),
        )


@dataclass(frozen=True, slots=True)
class TicketPlan:
    message: TicketMessage | None  # None: nothing for this channel to do
    incidents: tuple[Incident, ...]  # the incidents this plan moved, to store


def plan_tickets(
    group: NotificationGroup,
    channel: TicketChannel,
    incidents: Iterable[Incident],
    open_keys: Collection[str] | None = None,
) -> TicketPlan:
    """The steps for ``group`` (already routed to ``channel``) and the incidents they move.

    ``incidents`` are the channel's stored incidents for the group's tenant (any kind);
    ``open_keys`` the tenant's open alerts after this check, to close what passed unheard
    (None: not known, nothing is reconciled).
    """
    current = {incident.kind: incident for incident in incidents}
    planner = _Planner(group, channel, current, open_keys)
    planner.collection([e for e in group.events if e.alert_key == COLLECTION_KEY])
    planner.drift([e for e in group.events if e.alert_key != COLLECTION_KEY])
    moved = tuple(
        incident for kind, incident in planner.incidents.items() if current.get(kind) != incident
    )
    if not planner.steps:
        return TicketPlan(message=None, incidents=moved)
    tenant = group.tenant
    message = TicketMessage(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        company=tenant.ticket_company or channel.company,
        steps=tuple(planner.steps),
    )
    return TicketPlan(message=message, incidents=moved)


class _Planner:
    """The working state of one :func:`plan_tickets` call."""

    def __init__(
        self,
        group: NotificationGroup,
        channel: TicketChannel,
        incidents: dict[IncidentKind, Incident],
        open_keys: Collection[str] | None,
    ) -> None:
        self.group = group
        self.channel = channel
        self.open_keys = open_keys
        self.now = group.checked_at
        self.incidents = dict(incidents)
        self.steps: list[TicketStep] = []

    # -- the two kinds of incident ---------------------------------------------------------

    def drift(self, events: Sequence[AlertEvent]) -> None:
        incident = self._reconciled(self.incidents.get(IncidentKind.DRIFT), events)
        failing = set(incident.failing) if incident is not None and incident.is_open else set()
        opening = [
            e
            for e in events
            if (e.kind in _OPENING or (e.kind is EventKind.REMINDER and e.alert_key not in failing))
            and (e.alert_key in failing or self._severe_enough(e))
        ]
        reminders = [e for e in events if e.kind is EventKind.REMINDER and e.alert_key in failing]
        resolved = [e for e in events if e.kind is EventKind.RESOLVED and e.alert_key in failing]
        unfixed = [e for e in events if e.kind is EventKind.FIX_FAILED and e.alert_key in failing]
        if opening:
            incident = self._open(IncidentKind.DRIFT, incident, opening)
        if unfixed and incident is not None:
            # News, not a new failure: posted even to a ticket a person closed, never reopening it.
            incident = self._step(
                incident, _unfixed_note(self.group, unfixed), severity=_worst(unfixed)
            )
        if reminders and incident is not None:
            incident = self._step(
                incident,
                _reminder_note(self.group, reminders),
                severity=_worst(reminders),
                skip_if_closed=True,
            )
        if resolved and incident is not None:
            still = tuple(k for k in incident.failing if k not in {e.alert_key for e in resolved})
            incident = replace(incident, failing=still)
            if still:
                incident = self._step(
                    incident, _partly_resolved_note(self.group, resolved, still), severity=None
                )
            else:
                incident = self._close(incident, _resolved_note(self.group, resolved))
        elif incident is not None and incident.is_open and not incident.failing:
            # Every rule passed while notifications were silenced (see _reconciled).
            incident = self._close(incident, _resolved_unheard_note(self.group, incident))
        if incident is not None:
            self.incidents[IncidentKind.DRIFT] = incident

    def collection(self, events: Sequence[AlertEvent]) -> None:
        incident = self.incidents.get(IncidentKind.COLLECTION)
        is_open = incident is not None and incident.is_open
        failed = [e for e in events if e.kind is EventKind.CANNOT_VERIFY and self._severe_enough(e)]
        recovered = [e for e in events if e.kind is EventKind.RECOVERED]
        unheard = (
            is_open
            and not failed
            and not recovered
            and self.open_keys is not None
            and COLLECTION_KEY not in self.open_keys
        )
        if failed:
            if is_open and incident is not None:
                note = _opening_note(self.group, failed, more=True)
                incident = self._step(incident, note, severity=None)
            else:
                incident = self._open(IncidentKind.COLLECTION, incident, failed)
        elif (recovered or unheard) and is_open and incident is not None:
            incident = replace(incident, failing=())
            incident = self._close(incident, _recovered_note(self.group, recovered))
        if incident is not None:
            self.incidents[IncidentKind.COLLECTION] = incident

    def _reconciled(
        self, incident: Incident | None, events: Sequence[AlertEvent]
    ) -> Incident | None:
        """The incident without the rules whose alerts closed unheard by this channel.

        A silence swallows a resolution (the alert state still moves): the ticket would stay
        open for a fixed drift. Keys failing here whose alerts are no longer open, and that
        this group says nothing about, are dropped; with none left the incident closes.
        """
        if incident is None or not incident.is_open or self.open_keys is None:
            return incident
        told = {e.alert_key for e in events}
        kept = tuple(k for k in incident.failing if k in self.open_keys or k in told)
        return replace(incident, failing=kept) if kept != incident.failing else incident

    # -- moves ------------------------------------------------------------------------------

    def _open(
        self, kind: IncidentKind, incident: Incident | None, opening: Sequence[AlertEvent]
    ) -> Incident:
        """Add ``opening`` to the open incident, reopen the last one, or open a new one."""
        keys = tuple(e.alert_key for e in opening)
        if incident is not None and incident.is_open:
            incident = replace(
                incident,
                failing=_union(incident.failing, keys),
                keys=_union(incident.keys, keys),
            )
            return self._step(
                incident,
                _opening_note(self.group, opening, more=True),
                severity=_worst(opening),
                status=StatusChange.OPEN,  # something new broke: a closed ticket reopens
            )
        if incident is not None and self._regresses(incident, kind, opening):
            assert incident.closed_at is not None  # not open
            resolved_at = incident.closed_at
            incident = replace(
                incident, closed_at=None, failing=keys, keys=_union(incident.keys, keys)
            )
            return self._step(
                incident,
                _reopened_note(self.group, opening, resolved_at),
                severity=_worst(opening),
                status=StatusChange.OPEN,
            )
        xref = incident_xref(self.channel.name, self.group.tenant.id, kind, self.now)
        if incident is not None and xref == incident.xref:
            xref = incident_xref(self.channel.name, self.group.tenant.id, kind, self.now, 2)
        new = Incident(
            channel=self.channel.name,
            tenant_id=self.group.tenant.id,
            kind=kind,
            xref=xref,
            opened_at=self.now,
            failing=keys,
            keys=keys,
        )
        return self._step(new, _opening_note(self.group, opening), severity=_worst(opening))

    def _regresses(
        self, incident: Incident, kind: IncidentKind, opening: Sequence[AlertEvent]
    ) -> bool:
        """Whether ``opening`` brings back the closed ``incident`` (soon enough to reopen it)."""
        closed_at, within = incident.closed_at, self.channel.reopen_within
        if closed_at is None or not within or self.now - closed_at > within:
            return False  # open, reopening turned off (0), or too long ago
        if kind is IncidentKind.COLLECTION:
            return True  # unreadable again
        return any(e.kind is EventKind.REGRESSED and e.alert_key in incident.keys for e in opening)

    def _close(self, incident: Incident, note: str) -> Incident:
        closed = replace(incident, closed_at=self.now, failing=())
        return self._step(
            closed, note, severity=None, status=StatusChange.CLOSE, resolution=True, create=False
        )

    def _step(
        self,
        incident: Incident,
        note: str,
        *,
        severity: Severity | None,
        status: StatusChange = StatusChange.KEEP,
        skip_if_closed: bool = False,
        resolution: bool = False,
        create: bool = True,
    ) -> Incident:
        incident = replace(incident, events=incident.events + 1)
        self.steps.append(
            TicketStep(
                xref=incident.xref,
                event=incident.events,
                summary=self._summary(incident),
                severity=severity or self._incident_severity(incident),
                note=f"{note}\n\n{event_marker(incident.events)}",
                resolution=resolution,
                status=status,
                skip_if_closed=skip_if_closed,
                create=create,
            )
        )
        return incident

    # -- words ------------------------------------------------------------------------------

    def _severe_enough(self, event: AlertEvent) -> bool:
        return event.severity.at_least(self.channel.min_severity)

    def _summary(self, incident: Incident) -> str:
        name = self.group.tenant.name
        if incident.kind is IncidentKind.COLLECTION:
            return clip(f"[cwdrift] cannot verify {name}", SUMMARY_MAX)
        labels = [e.label for e in self.group.events if e.alert_key in incident.keys]
        if len(labels) == 1:
            return clip(f"[cwdrift] {name}: {labels[0]}", SUMMARY_MAX)
        if labels:
            return clip(
                f"[cwdrift] {name}: {len(labels)} rules drifted ({labels[0]}, …)", SUMMARY_MAX
            )
        return clip(f"[cwdrift] {name}: configuration drift", SUMMARY_MAX)

    def _incident_severity(self, incident: Incident) -> Severity:
        if incident.kind is IncidentKind.COLLECTION:
            return COLLECTION_SEVERITY
        about = [e for e in self.group.events if e.alert_key in incident.keys]
        return _worst(about) if about else self.channel.min_severity


_OPENING = frozenset({EventKind.NEW, EventKind.REGRESSED})  # and a reminder of a new key


def incident_xref(
    channel: str, tenant_id: str, kind: IncidentKind, opened_at: datetime, nth: int = 1
) -> str:
    """The ticket's ``externalXRef``: ours, naming the tenant and the incident, unique per
    channel (two channels may share one ConnectWise); hashed when over 100 characters."""
    stamp = opened_at.strftime("%Y%m%dT%H%M%SZ") + (f"-{nth}" if nth > 1 else "")
    key = f"cwdrift:{channel}:{tenant_id}:{kind.value}:{stamp}"
    if len(key) <= XREF_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    head = f"cwdrift:{tenant_id}:"
    return head + digest[: XREF_MAX - len(head)]


def event_marker(event: int) -> str:
    return f"[cwdrift:event {event}]"


def events_in(texts: Iterable[str]) -> set[int]:
    """The event numbers ``texts`` (a ticket's notes) carry."""
    found: set[int] = set()
    for text in texts:
        found.update(int(n) for n in _MARKER.findall(text))
    return found


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(message: TicketMessage) -> str:
    """One line for `cwdrift status`: the tenant and what each step does."""
    parts = []
    for step in message.steps:
        if step.status is StatusChange.CLOSE:
            parts.append("resolve and close")
        elif step.status is StatusChange.OPEN:
            parts.append("note (reopen if closed)")
        elif step.event == 1:
            parts.append("open ticket")
        else:
            parts.append("note")
    return f"[cwdrift] {message.tenant_id}: {', '.join(parts)}"


# -- notes (plain text: ConnectWise shows notes as they are) --------------------------------


def _when(group: NotificationGroup) -> str:
    return f"the check of {format_time(group.checked_at)}"


def _opening_note(
    group: NotificationGroup, events: Sequence[AlertEvent], *, more: bool = False
) -> str:
    """The ticket's first note (``more``: a note on it for what failed since)."""
    tenant = f"{group.tenant.name} (tenant {group.tenant.id})"
    if events[0].kind is EventKind.CANNOT_VERIFY:
        head = f"cwdrift cannot verify {tenant} at {_when(group)}."
    elif more:
        rules = "Another rule fails" if len(events) == 1 else f"{len(events)} more rules fail"
        head = f"{rules} in {tenant} at {_when(group)}."
    elif len(events) == 1:
        head = f"cwdrift found a failing rule in {tenant} at {_when(group)}."
    else:
        head = f"cwdrift found {len(events)} failing rules in {tenant} at {_when(group)}."
    if more:
        return "\n\n".join([head, *(_item(e) for e in events)])
    tail = (
        "cwdrift adds a note here when this changes and closes the ticket when every rule "
        "passes again."
    )
    return "\n\n".join([head, *(_item(e) for e in events), tail])


def _reminder_note(group: NotificationGroup, events: Sequence[AlertEvent]) -> str:
    head = f"Still failing at {_when(group)}."
    return "\n\n".join([head, *(_item(e) for e in events)])


def _partly_resolved_note(
    group: NotificationGroup, events: Sequence[AlertEvent], still: Sequence[str]
) -> str:
    head = f"Resolved at {_when(group)}; {len(still)} rule(s) of this ticket still fail."
    return "\n\n".join([head, *(_item(e) for e in events)])


def _unfixed_note(group: NotificationGroup, events: Sequence[AlertEvent]) -> str:
    head = f"An automatic fix did not hold at {_when(group)}."
    return "\n\n".join([head, *(_item(e) for e in events)])


def _resolved_note(group: NotificationGroup, events: Sequence[AlertEvent]) -> str:
    fixed = all(e.fixed_by for e in events)
    how = " (fixed by cwdrift)" if fixed else ""
    head = f"Resolved{how}: every rule of this ticket passes again at {_when(group)}."
    return "\n\n".join([head, *(_item(e) for e in events), "cwdrift closes the ticket."])


def _recovered_note(group: NotificationGroup, events: Sequence[AlertEvent]) -> str:
    head = f"Readable again: cwdrift reads {group.tenant.name}'s configuration at {_when(group)}."
    if not events:
        head += " (The recovery itself was not announced: notifications were silenced.)"
    return "\n\n".join([head, *(_item(e) for e in events), "cwdrift closes the ticket."])


def _resolved_unheard_note(group: NotificationGroup, incident: Incident) -> str:
    return (
        f"Resolved: every rule of this ticket passes again, found at {_when(group)} (the "
        f"resolution was not announced: notifications were silenced). Rules: "
        f"{', '.join(incident.keys)}.\n\ncwdrift closes the ticket."
    )


def _reopened_note(
    group: NotificationGroup, events: Sequence[AlertEvent], resolved_at: datetime
) -> str:
    again = "Cannot verify again" if events[0].kind is EventKind.CANNOT_VERIFY else "Regressed"
    head = (
        f"{again} at {_when(group)}: last resolved {format_time(resolved_at)}. "
        "cwdrift reopens the ticket."
    )
    return "\n\n".join([head, *(_item(e) for e in events)])


def _item(event: AlertEvent) -> str:
    """One alert, as lines: what, values, who, the fix."""
    lines = [f"{title_of(event)} ({event.severity.value}): {event.label}"]
    if event.error is not None:
        lines.append(f"  Error ({event.error.get('kind')}): {event.error.get('message')}")
    if event.expected is not None or event.actual is not None:
        lines.append(f"  Expected: {event.expected}; actual: {event.actual or 'absent'}")
    if event.last_resolved_at is not None:
        lines.append(f"  Last resolved: {format_time(event.last_resolved_at)}")
    if event.changed_by or event.changed_at:
        lines.append(f"  Changed by {event.changed_by or 'unknown'} at {event.changed_at or '?'}")
    if event.remediation and event.kind.opens:
        lines.append(f"  Fix: {event.remediation}")
    if event.note:
        # Resolutions say why ("accepted deviation"; "fixed by cwdrift" once fixes exist).
        lines.append(f"  Note: {event.note}")
    if event.silenced_until is not None:
        lines.append(f"  (was silenced until {format_time(event.silenced_until)})")
    return "\n".join(lines)


def _worst(events: Iterable[AlertEvent]) -> Severity:
    return max((e.severity for e in events), key=lambda s: s.rank)


def _union(first: Sequence[str], more: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *more)))
