"""Build the weekly report (pure) from what the store read (:class:`ReportInputs`).

Everything is computed as of the period end from the *history* tables, so a report for a past
week says what was true then, not now:

* finding status at a moment = its last ``finding_transition`` before that moment; a failing
  streak starts at a transition into ``fail`` and survives ``unknown`` (an unreadable rule is
  not a fix), exactly as the store keeps ``first_failed_at``;
* *new* = a streak began this week and the rule never failed before; *regressed* = a streak
  began and the rule had been resolved earlier; *resolved* = a streak ended (pass, or waived:
  "accepted deviation"), with the time it took;
* warning-severity findings are advisory: never violations, never in the score.

The period is half-open, ``[since, until)``: a check at exactly ``until`` belongs to next week.
It never reaches past ``now`` (a period that would is cut there), so no age or duration counts
time that has not happened.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor.alerts.config import Silence
from monitor.clock import ensure_utc
from monitor.core.findings import Severity, Status
from monitor.core.options import FROM_CONFIG, FROM_DATABASE, Waiver
from monitor.reports.inputs import ReportInputs, Transition
from monitor.reports.model import (
    FindingEvent,
    FixerTally,
    Score,
    SettingChangeItem,
    SilenceItem,
    TenantScore,
    TrendPoint,
    UncheckedTenant,
    Violation,
    WaiverItem,
    WeeklyReport,
)
from monitor.reports.period import custom, week_ends, zone

TREND_WEEKS = 8
WARNING_DAYS = 14
_FAILING = Status.FAIL.value
_ENDS_STREAK = (Status.PASS.value, Status.WAIVED.value)
_COUNTED = (Status.PASS.value, Status.FAIL.value, Status.WAIVED.value)


class ReportTenant(Protocol):
    """What the report needs of a configured tenant (``monitor.settings.TenantConfig`` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def waivers(self) -> Sequence[Waiver]: ...


@dataclass(frozen=True, slots=True)
class _ErrorStreak:
    since: datetime
    count: int
    kind: str | None
    message: str | None


def build_weekly(
    inputs: ReportInputs,
    *,
    since: datetime,
    until: datetime,
    tenants: Sequence[ReportTenant],
    now: datetime,
    label: str | None = None,
    timezone: str = "UTC",
    config_silences: Sequence[Silence] = (),
    warning_days: int = WARNING_DAYS,
) -> WeeklyReport:
    """The report for ``[since, until)`` over ``tenants``.

    ``label`` names the period (default: its dates); ``timezone`` steps and labels the trend's
    ISO weeks. ``config_silences`` are the config file's ``notify.silences`` (the database's are
    in ``inputs``).
    """
    now = ensure_utc(now)
    span = custom(since, min(ensure_utc(until), now))
    since, until = span.since, span.until
    tz = zone(timezone)
    names = {t.id: t.name for t in tenants}
    ids = list(names)
    keys = inputs.finding_keys
    window = timedelta(days=warning_days)

    history = _History(inputs.transitions)
    trend = tuple(
        TrendPoint(week=week, until=end, score=history.fleet_score(ids, end))
        for week, end in week_ends(until, tz, TREND_WEEKS)
    )
    week_before = trend[-2].until
    violations = history.violations(names, keys, until)
    open_counts: dict[str, int] = defaultdict(int)
    for v in violations:
        open_counts[v.tenant_id] += 1
    unchecked = _unchecked(inputs, names, since, until)
    unreadable = {u.tenant_id for u in unchecked if u.state != "not_checked"}
    scores = []
    for tenant_id in ids:
        score = history.score(tenant_id, until)
        scores.append(
            TenantScore(
                tenant_id=tenant_id,
                name=names[tenant_id],
                score=score,
                previous=history.score(tenant_id, week_before),
                open_violations=open_counts[tenant_id],
                readable=tenant_id not in unreadable and score.percent is not None,
            )
        )
    new, resolved, regressed = history.events(names, keys, since, until, inputs.cwdrift_fixes)
    return WeeklyReport(
        label=label or span.label,
        since=since,
        until=until,
        generated_at=ensure_utc(now),
        fleet=sum((s.score for s in scores), Score(0, 0)),
        trend=trend,
        tenants=tuple(sorted(scores, key=_worst_first)),
        violations=tuple(violations),
        new=tuple(new),
        resolved=tuple(resolved),
        regressed=tuple(regressed),
        changes=tuple(_changes(inputs, names)),
        unchecked=tuple(unchecked),
        waivers=tuple(_waivers(inputs, tenants, until, window)),
        silences=tuple(_silences(inputs, config_silences, set(ids), until, window)),
        warning_days=warning_days,
        median_time_to_fix=_median_time_to_fix(resolved),
        fixed_by_cwdrift=_tally([e for e in resolved if e.fixed_by == "cwdrift"]),
        fixed_by_person=_tally([e for e in resolved if e.fixed_by == "person"]),
    )


def history_command(tenant_id: str, keys: Sequence[str]) -> str:
    """The command that digs into an item: the history of the first setting it read."""
    if not keys:
        return f"cwdrift show --tenant {tenant_id}"
    return f'cwdrift history --tenant {tenant_id} --setting "{keys[0].replace(chr(34), "")}"'


def _worst_first(score: TenantScore) -> tuple[bool, float, str]:
    """A tenant that cannot be read first (nothing about it is verified), then by score."""
    return (score.readable, score.score.percent or 0.0, score.tenant_id)


def _median_time_to_fix(resolved: Sequence[FindingEvent]) -> timedelta | None:
    fixes = [
        e.time_to_fix
        for e in resolved
        if e.to_status == Status.PASS.value and e.time_to_fix is not None
    ]
    if not fixes:
        return None
    return timedelta(seconds=statistics.median(f.total_seconds() for f in fixes))


def _tally(fixed: Sequence[FindingEvent]) -> FixerTally:
    return FixerTally(len(fixed), _median_time_to_fix(fixed))


class _History:
    """Replays each (tenant, rule)'s transitions; all questions are answered from memory."""

    def __init__(self, transitions: Iterable[Transition]) -> None:
        self.by_rule: dict[tuple[str, str], list[Transition]] = defaultdict(list)
        for t in transitions:  # ordered by tenant, rule, time
            self.by_rule[(t.tenant_id, t.rule_id)].append(t)
        self.by_tenant: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key in self.by_rule:
            self.by_tenant[key[0]].append(key)

    def state_at(self, key: tuple[str, str], moment: datetime) -> Transition | None:
        last = None
        for t in self.by_rule[key]:
            if t.at >= moment:
                break
            last = t
        return last

    def score(self, tenant_id: str, moment: datetime) -> Score:
        passing = applicable = 0
        for key in self.by_tenant.get(tenant_id, ()):
            state = self.state_at(key, moment)
            if state is None or state.severity == Severity.WARNING.value:
                continue
            if state.to_status in _COUNTED:
                applicable += 1
                passing += state.to_status != _FAILING
        return Score(passing, applicable)

    def fleet_score(self, tenant_ids: Iterable[str], moment: datetime) -> Score:
        return sum((self.score(t, moment) for t in tenant_ids), Score(0, 0))

    def streak_start(self, key: tuple[str, str], moment: datetime) -> datetime | None:
        """When the failing streak in force just before ``moment`` began (None: not failing)."""
        start: datetime | None = None
        for t in self.by_rule[key]:
            if t.at >= moment:
                break
            if t.to_status == _FAILING:
                start = start or t.at
            elif t.to_status in _ENDS_STREAK:
                start = None
        return start

    def violations(
        self,
        names: Mapping[str, str],
        keys: Mapping[tuple[str, str], tuple[str, ...]],
        until: datetime,
    ) -> list[Violation]:
        found = []
        for tenant_id in names:
            for key in self.by_tenant.get(tenant_id, ()):
                state = self.state_at(key, until)
                if state is None or state.to_status != _FAILING:
                    continue
                if state.severity == Severity.WARNING.value:
                    continue
                started = self.streak_start(key, until) or state.at
                found.append(
                    Violation(
                        tenant_id=tenant_id,
                        tenant_name=names[tenant_id],
                        rule_id=state.rule_id,
                        label=state.label,
                        severity=state.severity,
                        expected=state.expected,
                        actual=state.actual,
                        first_failed_at=started,
                        age=until - started,
                        command=history_command(tenant_id, keys.get(key, ())),
                    )
                )
        # Critical on top, then by severity; newest failure first within a severity.
        found.sort(key=lambda v: (v.first_failed_at, v.tenant_id, v.rule_id), reverse=True)
        found.sort(key=lambda v: -Severity(v.severity).rank)
        return found

    def events(
        self,
        names: Mapping[str, str],
        keys: Mapping[tuple[str, str], tuple[str, ...]],
        since: datetime,
        until: datetime,
        cwdrift_fixes: Mapping[tuple[str, str, int], str],
    ) -> tuple[list[FindingEvent], list[FindingEvent], list[FindingEvent]]:
        new: list[FindingEvent] = []
        resolved: list[FindingEvent] = []
        regressed: list[FindingEvent] = []
        for tenant_id in names:
            for key in self.by_tenant.get(tenant_id, ()):
                command = history_command(tenant_id, keys.get(key, ()))
                start: datetime | None = None
                last_resolved: datetime | None = None
                for t in self.by_rule[key]:
                    if t.at >= until:
                        break
                    in_week = t.at >= since and t.severity != Severity.WARNING.value
                    if t.to_status == _FAILING and start is None:
                        start = t.at
                        if in_week:
                            event = _event(t, names, command, "new")
                            if last_resolved is None:
                                new.append(event)
                            else:
                                regressed.append(
                                    _event(
                                        t, names, command, "regressed", last_resolved=last_resolved
                                    )
                                )
                    elif t.to_status in _ENDS_STREAK and start is not None:
                        if in_week:
                            operator = (
                                cwdrift_fixes.get((t.tenant_id, t.rule_id, t.run_id))
                                if t.run_id is not None
                                else None
                            )
                            resolved.append(
                                _event(
                                    t,
                                    names,
                                    command,
                                    "resolved",
                                    time_to_fix=t.at - start,
                                    cwdrift_operator=operator,
                                )
                            )
                        start, last_resolved = None, t.at
        for events in (new, resolved, regressed):
            events.sort(key=lambda e: (e.at, e.tenant_id, e.rule_id))
        return new, resolved, regressed


def _event(
    t: Transition,
    names: Mapping[str, str],
    command: str,
    kind: str,
    *,
    time_to_fix: timedelta | None = None,
    last_resolved: datetime | None = None,
    cwdrift_operator: str | None = None,
) -> FindingEvent:
    return FindingEvent(
        kind=kind,
        tenant_id=t.tenant_id,
        tenant_name=names[t.tenant_id],
        rule_id=t.rule_id,
        label=t.label,
        severity=t.severity,
        at=t.at,
        to_status=t.to_status,
        expected=t.expected,
        actual=t.actual,
        time_to_fix=time_to_fix,
        last_resolved_at=last_resolved,
        cwdrift_operator=cwdrift_operator,
        command=command,
    )


# -- from the inputs ----------------------------------------------------------------------


def _changes(inputs: ReportInputs, names: Mapping[str, str]) -> list[SettingChangeItem]:
    return [
        SettingChangeItem(
            tenant_id=c.tenant_id,
            tenant_name=names[c.tenant_id],
            observed_at=c.observed_at,
            key=c.key,
            label=c.label,
            old=c.old,
            new=c.new,
            changed_by=c.changed_by,
            changed_at=c.changed_at,
            command=history_command(c.tenant_id, (c.key,)),
        )
        for c in inputs.changes
        if c.tenant_id in names
    ]


def _unchecked(
    inputs: ReportInputs, names: Mapping[str, str], since: datetime, until: datetime
) -> list[UncheckedTenant]:
    """Tenants not verified in ``[since, until)``: the newest run before ``until`` failed (with
    the streak), no run fell in the period, or none was ever made."""
    streaks: dict[str, _ErrorStreak] = {}
    for run in inputs.failed_runs:
        previous = streaks.get(run.tenant_id)
        streaks[run.tenant_id] = _ErrorStreak(
            since=previous.since if previous else run.started_at,
            count=(previous.count if previous else 0) + 1,
            kind=run.error_kind,
            message=run.error_message,
        )
    found = []
    for tenant_id, name in names.items():
        streak = streaks.get(tenant_id)
        last = inputs.last_checked.get(tenant_id)
        in_period = last is not None and last >= since
        if streak is None and in_period:
            continue
        found.append(
            UncheckedTenant(
                tenant_id=tenant_id,
                name=name,
                since=streak.since if streak else None,
                consecutive_errors=streak.count if streak else 0,
                error_kind=streak.kind if streak else None,
                error_message=streak.message if streak else None,
                command=f"cwdrift check --tenant {tenant_id}",
                last_checked_at=last,
                first_checked_at=inputs.first_checked.get(tenant_id),
                checked_in_period=in_period,
            )
        )
    # Longest-broken first, then the longest unchecked; never-checked tenants last.
    order = {"failing": 0, "not_checked": 1, "never": 2}
    found.sort(key=lambda u: (order[u.state], u.since or u.last_checked_at or until, u.tenant_id))
    return found


def _waivers(
    inputs: ReportInputs, tenants: Sequence[ReportTenant], until: datetime, window: timedelta
) -> list[WaiverItem]:
    names = {t.id: t.name for t in tenants}
    entries: list[tuple[str, Waiver, str]] = [
        (t.id, w, FROM_CONFIG) for t in tenants for w in t.waivers
    ]
    entries += [
        (s.tenant_id, s.waiver, s.source)
        for s in inputs.database_waivers
        if s.tenant_id in names and (s.created_at is None or s.created_at < until)
    ]
    items = [
        WaiverItem(
            tenant_id=tenant_id,
            tenant_name=names[tenant_id],
            rule=w.rule,
            value=w.value,
            reason=w.reason,
            accepted_by=w.accepted_by,
            expires=w.expires,
            source=source,
            expiring_soon=w.expires <= until + window,
            command=f"cwdrift waivers --tenant {tenant_id}",
        )
        for tenant_id, w, source in entries
        if w.expires > until
    ]
    items.sort(key=lambda w: (w.expires, w.tenant_id, w.rule))
    return items


def _silences(
    inputs: ReportInputs,
    config_silences: Sequence[Silence],
    tenant_ids: set[str],
    until: datetime,
    window: timedelta,
) -> list[SilenceItem]:
    entries: list[tuple[Silence, str]] = [(s, FROM_CONFIG) for s in config_silences]
    entries += [
        (s.silence, FROM_DATABASE) for s in inputs.database_silences if s.created_at < until
    ]
    items = [
        SilenceItem(
            tenant=s.tenant,
            rule=s.rule,
            reason=s.reason,
            author=s.author,
            expires=s.expires,
            source=source,
        )
        for s, source in entries
        if until < s.expires <= until + window and (s.tenant is None or s.tenant in tenant_ids)
    ]
    items.sort(key=lambda s: (s.expires, s.tenant or "", s.rule or ""))
    return items
