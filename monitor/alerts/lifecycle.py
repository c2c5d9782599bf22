"""The alert lifecycle (pure): previous states + one check's result -> new states + one group.

Modelled on Prometheus Alertmanager, per tenant and per rule:

    (none|resolved) --fail--> open          "new" (or "regressed", naming when it was last fixed)
    open            --fail--> open          nothing, or "reminder" once ``policy.reminder`` passed
    open            --pass/waived--> resolved "resolved" (waived: note "accepted deviation";
                                            after a cwdrift write: "fixed by cwdrift")
    any             --unknown--> unchanged  an unreadable setting neither opens nor resolves

A check that verifies cwdrift's own writes (``fixes``) marks the resolutions they caused as
fixed by cwdrift, and announces once an automatic fix that did not hold ("fix_failed"; the
alert's state is untouched: it is still open, and told).

A failed collection counts towards ``policy.failure_threshold``; at the threshold the tenant gets
one "cannot verify" alert (the typed error's kind, message and fix) and, on the next successful
check, one "recovered". While the tenant cannot be read, its drift alerts stay exactly as they
were: not resolved, not reminded.

Silences swallow notifications but never the state: the state still moves, and remembers
``silenced_until``; when the silence has ended, the next check delivers what is still true, once,
marked "was silenced until ...". A resolution nobody heard the opening of is not announced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.alerts.config import NotifyConfig, Silence
from monitor.alerts.model import (
    COLLECTION_KEY,
    COLLECTION_SEVERITY,
    AlertEvent,
    AlertState,
    AlertStatus,
    EventKind,
    FixNote,
    NotificationGroup,
    TenantRef,
)
from monitor.core.findings import Change, Finding, Status
from monitor.errors import CwdriftError

ACCEPTED_DEVIATION = "accepted deviation"
NO_LONGER_CHECKED = "no longer checked by the baseline"

Who = Mapping[str, tuple[str | None, str | None]]  # setting key -> (changed_by, changed_at)


@dataclass(frozen=True, slots=True)
class Plan:
    """The lifecycle's output: every state to store, and the one group to notify (or None)."""

    states: tuple[AlertState, ...]
    group: NotificationGroup | None
    # Whether any silence was looked up. When not, no silence could have changed this plan, so
    # a caller may plan without reading its stored silences and read them only when this is True.
    consulted_silences: bool = False


def plan_alerts(
    *,
    tenant: TenantRef,
    previous: Iterable[AlertState],
    findings: Sequence[Finding] | None,
    error: CwdriftError | None,
    changes: Sequence[Change] = (),
    who: Who | None = None,
    policy: NotifyConfig,
    now: datetime,
    silences: Sequence[Silence] = (),
    fixes: Mapping[str, FixNote] | None = None,
) -> Plan:
    """Advance the tenant's alerts by one check. Give exactly one of ``findings`` or ``error``.

    ``silences`` adds the database's silences to the config's ``policy.silences``; ``fixes``
    are the writes cwdrift sent just before this check, by rule id.
    """
    if (findings is None) == (error is None):
        raise ValueError("plan_alerts needs exactly one of findings or error")
    run = _Run(tenant, {s.alert_key: s for s in previous}, policy, now, silences, fixes or {})
    if error is not None:
        run.collection_failed(error)
    else:
        assert findings is not None  # for mypy: checked above
        run.collection_succeeded()
        from_changes: Who = {c.key: (c.updated_by, c.last_updated) for c in changes}
        seen = set()
        for finding in findings:
            seen.add(finding.rule_id)
            run.finding(finding, {} if who is None else who, from_changes)
        for key, state in list(run.states.items()):
            if key != COLLECTION_KEY and key not in seen and state.is_open:
                run.resolve(state, note=NO_LONGER_CHECKED, finding=None)
    return run.plan()


class _Run:
    """The working state of one ``plan_alerts`` call (kept private: the function is the API)."""

    def __init__(
        self,
        tenant: TenantRef,
        states: dict[str, AlertState],
        policy: NotifyConfig,
        now: datetime,
        db_silences: Sequence[Silence],
        fixes: Mapping[str, FixNote],
    ) -> None:
        self.tenant = tenant
        self.fixes = fixes
        self.states = states
        self.policy = policy
        self.now = now
        self.events: list[AlertEvent] = []
        self.consulted_silences = False
        self.silences = [
            s
            for s in (*policy.silences, *db_silences)
            if now < s.expires and s.tenant in (None, tenant.id)
        ]

    def plan(self) -> Plan:
        states = tuple(self.states[key] for key in sorted(self.states))
        group = None
        if self.events:
            events = tuple(sorted(self.events, key=lambda e: e.sort_key))
            group = NotificationGroup(tenant=self.tenant, checked_at=self.now, events=events)
        return Plan(states=states, group=group, consulted_silences=self.consulted_silences)

    def silenced_until(self, alert_key: str) -> datetime | None:
        self.consulted_silences = True
        ends = [s.expires for s in self.silences if s.rule in (None, alert_key)]
        return max(ends, default=None)

    def emit(self, state: AlertState, event: AlertEvent) -> AlertState:
        """Notify unless silenced; either way return the advanced state."""
        until = self.silenced_until(state.alert_key)
        if until is not None:
            return replace(state, silenced_until=until)
        was_silenced = state.silenced_until
        if was_silenced is not None and was_silenced > self.now:
            was_silenced = self.now  # lifted early (`cwdrift silence expire`): it ended by now
        self.events.append(replace(event, silenced_until=was_silenced))
        return replace(state, last_notified_at=self.now, silenced_until=None)

    def save(self, state: AlertState) -> None:
        self.states[state.alert_key] = state

    # -- collection ---------------------------------------------------------------------------

    def collection_failed(self, error: CwdriftError) -> None:
        state = self.states.get(COLLECTION_KEY) or AlertState(
            tenant_id=self.tenant.id,
            alert_key=COLLECTION_KEY,
            status=AlertStatus.RESOLVED,
            label=f"cannot verify tenant {self.tenant.name}",
            severity=COLLECTION_SEVERITY,
        )
        state = replace(state, consecutive_failures=state.consecutive_failures + 1)
        told = state.is_open and state.last_notified_at is not None
        if state.consecutive_failures < self.policy.failure_threshold or told:
            self.save(state)  # below the threshold, or already said once: say nothing
            return
        if not state.is_open:
            state = replace(
                state,
                status=AlertStatus.OPEN,
                opened_at=self.now,
                last_notified_at=None,
                channels=(),
            )
        event = AlertEvent(
            kind=EventKind.CANNOT_VERIFY,
            alert_key=COLLECTION_KEY,
            label=state.label,
            severity=COLLECTION_SEVERITY,
            first_seen=state.opened_at,
            remediation=error.fix,
            note=f"{state.consecutive_failures} checks in a row failed",
            error=error.as_dict(),
        )
        self.save(self.emit(state, event))

    def collection_succeeded(self) -> None:
        state = self.states.get(COLLECTION_KEY)
        if state is None:
            return
        state = replace(state, consecutive_failures=0)
        if state.is_open:
            told = state.last_notified_at is not None
            state = replace(state, status=AlertStatus.RESOLVED, resolved_at=self.now)
            if told:
                event = AlertEvent(
                    kind=EventKind.RECOVERED,
                    alert_key=COLLECTION_KEY,
                    label=state.label,
                    severity=COLLECTION_SEVERITY,
                    first_seen=state.opened_at,
                    note="the tenant can be read again",
                )
                state = self.emit(state, event)
            state = replace(state, silenced_until=None)
        self.save(state)

    # -- drift ----------------------------------------------------------------------------------

    def finding(self, finding: Finding, who: Who, from_changes: Who) -> None:
        if finding.status is Status.UNKNOWN:
            return  # unknown never opens, resolves or reminds
        state = self.states.get(finding.rule_id)
        if not finding.is_drift:
            if state is not None and state.is_open:
                note = ACCEPTED_DEVIATION if finding.status is Status.WAIVED else finding.note
                self.resolve(state, note=note, finding=finding)
            return
        fix = self.fixes.get(finding.rule_id)
        if fix is not None and fix.automatic and state is not None and state.is_open:
            self.fix_failed(state, finding, fix)
        by, at = _who_changed(finding, who, from_changes)
        event = AlertEvent(
            kind=EventKind.NEW,
            alert_key=finding.rule_id,
            label=finding.label,
            severity=finding.severity,
            expected=finding.expected,
            actual=finding.actual,
            remediation=finding.remediation,
            note=finding.note,
            changed_by=by,
            changed_at=at,
        )
        if state is None or not state.is_open:
            regressed = state is not None and state.resolved_at is not None
            state = AlertState(
                tenant_id=self.tenant.id,
                alert_key=finding.rule_id,
                status=AlertStatus.OPEN,
                label=finding.label,
                severity=finding.severity,
                opened_at=self.now,
                resolved_at=state.resolved_at if state is not None else None,
            )
            kind = EventKind.REGRESSED if regressed else EventKind.NEW
            event = replace(
                event, kind=kind, first_seen=self.now, last_resolved_at=state.resolved_at
            )
            self.save(self.emit(state, event))
            return
        state = replace(state, label=finding.label, severity=finding.severity)
        event = replace(event, first_seen=state.opened_at)
        if state.last_notified_at is None:
            # Opened while silenced (or the silence was lifted): deliver the opening now.
            kind = EventKind.REGRESSED if state.resolved_at is not None else EventKind.NEW
            event = replace(event, kind=kind, last_resolved_at=state.resolved_at)
            state = self.emit(state, event)
        elif self._silence_ended(state) or self._reminder_due(state):
            state = self.emit(state, replace(event, kind=EventKind.REMINDER))
        self.save(state)

    def resolve(self, state: AlertState, *, note: str, finding: Finding | None) -> None:
        told = state.last_notified_at is not None
        state = replace(state, status=AlertStatus.RESOLVED, resolved_at=self.now)
        fixed_by = None
        if finding is not None and finding.status is Status.PASS:
            fix = self.fixes.get(state.alert_key)
            fixed_by = fix.fixed_by if fix is not None else None
        if told:
            event = AlertEvent(
                kind=EventKind.RESOLVED,
                alert_key=state.alert_key,
                label=state.label,
                severity=state.severity,
                expected=finding.expected if finding else None,
                actual=finding.actual if finding else None,
                first_seen=state.opened_at,
                note=f"fixed by {fixed_by}" if fixed_by else note,
                fixed_by=fixed_by,
            )
            state = self.emit(state, event)
        self.save(replace(state, silenced_until=None))

    def fix_failed(self, state: AlertState, finding: Finding, fix: FixNote) -> None:
        """An automatic fix that did not hold: said once; the alert itself stays as it was."""
        if self.silenced_until(state.alert_key) is not None:
            return
        said = f"ConnectWise answered: {fix.answer}. " if fix.answer else ""
        self.events.append(
            AlertEvent(
                kind=EventKind.FIX_FAILED,
                alert_key=state.alert_key,
                label=state.label,
                severity=finding.severity,
                expected=finding.expected,
                actual=finding.actual,
                first_seen=state.opened_at,
                remediation=finding.remediation,
                note=(
                    f"{fix.fixed_by} tried to fix this automatically, but the re-read still "
                    f"shows {finding.actual!r}. {said}Automatic fixes of this rule are paused "
                    f"until it passes or a person runs: {fix.resume}"
                ),
            )
        )

    def _silence_ended(self, state: AlertState) -> bool:
        return state.silenced_until is not None and self.silenced_until(state.alert_key) is None

    def _reminder_due(self, state: AlertState) -> bool:
        every = self.policy.reminder
        last = state.last_notified_at
        return every is not None and last is not None and self.now - last >= every


def _who_changed(finding: Finding, who: Who, from_changes: Who) -> tuple[str | None, str | None]:
    """Who changed the finding's settings: the snapshot's ``_info`` first, this check's changes
    fill the gaps. Looked up per key: ``who`` covers every setting, a finding reads a few."""
    for key in finding.keys:
        by, at = who.get(key) or (None, None)
        if not (by or at):
            by, at = from_changes.get(key, (None, None))
        if by or at:
            return by, at
    return None, None
