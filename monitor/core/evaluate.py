"""Pure evaluation of a snapshot against a baseline, and the diff between two snapshots.

No I/O and no clock: ``now`` is passed in (it only decides whether a waiver has expired).

Conventions the rest of cwdrift relies on:

* ``evaluate`` returns one :class:`Finding` per *applicable* rule, in baseline order. A rule whose
  ``applies_if`` tenant option is false is not applicable and yields **no finding**, so a report's
  score is passing findings / findings (minus unknowns, at the report's choice).
* A rule over a section the collector could not read is ``unknown`` with the reason in ``note``;
  never pass or fail. A setting missing from a section that *was* read is "not set".
* A failing finding becomes ``waived`` only while a waiver for that rule pins exactly the actual
  value and has not expired; otherwise it stays ``fail`` and the note says why the waiver no
  longer covers it.
* ``diff`` reports a section or a single setting that became unreadable (or readable again) as
  one :class:`Change` whose ``key`` is the bare section name (e.g. ``customize``) or the
  setting's key, and whose values are :data:`SECTION_READ` / :data:`SECTION_UNKNOWN`; a setting
  is compared only when it (and its section) was read in both snapshots, so a failed or
  unexpected read never looks like a removal or a new value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from monitor.core.baseline import Baseline, Rule
from monitor.core.findings import Change, Finding, Status
from monitor.core.options import TenantOptions, Waiver
from monitor.core.rules import Context
from monitor.core.rules.base import AdminVerdict
from monitor.core.snapshot import Setting, Snapshot, Value, section_of

SECTION_READ = "read"
SECTION_UNKNOWN = "unknown"

Summary = Literal["compliant", "drift"]


def evaluate(
    baseline: Baseline,
    snapshot: Snapshot,
    options: TenantOptions,
    waivers: Sequence[Waiver],
    now: datetime,
) -> list[Finding]:
    """One finding per applicable rule of ``baseline`` for ``snapshot``, in baseline order."""
    ctx = Context(
        snapshot=snapshot,
        options=options,
        admin=AdminVerdict.of(snapshot),
        requirements=[rule.requirement for rule in baseline.rules],
    )
    findings = []
    for rule in baseline.rules:
        if not rule.applies_to(options):
            continue
        findings.append(_apply_waivers(_finding(rule, ctx), waivers, now))
    return findings


def summarize(findings: Sequence[Finding]) -> Summary:
    """A tenant drifts iff any finding is drift (a failing non-warning rule)."""
    return "drift" if any(f.is_drift for f in findings) else "compliant"


def _finding(rule: Rule, ctx: Context) -> Finding:
    outcome = rule.requirement.evaluate(ctx)
    return Finding(
        rule_id=rule.id,
        label=rule.label,
        severity=outcome.severity or rule.severity,
        status=outcome.status,
        expected=outcome.expected,
        actual=outcome.actual,
        keys=outcome.keys,
        remediation=rule.remediation,
        note=outcome.note,
    )


def _apply_waivers(finding: Finding, waivers: Sequence[Waiver], now: datetime) -> Finding:
    if finding.status is not Status.FAIL:
        return finding
    mine = [w for w in waivers if w.rule == finding.rule_id]
    for waiver in mine:
        if waiver.covers(finding.rule_id, finding.actual, now):
            note = (
                f"waived until {waiver.expires:%Y-%m-%d} by {waiver.accepted_by}: {waiver.reason}"
            )
            return _with(finding, Status.WAIVED, note)
    if not mine:
        return finding
    # Say why the accepted deviation no longer applies; the latest-expiring waiver is the one
    # people remember agreeing to.
    waiver = max(mine, key=lambda w: w.expires)
    if now >= waiver.expires:
        why = f"the waiver by {waiver.accepted_by} expired on {waiver.expires:%Y-%m-%d}"
    else:
        why = (
            f"the waiver by {waiver.accepted_by} accepts {waiver.value!r} only, "
            f"but the value is now {finding.actual!r}"
        )
    return _with(finding, Status.FAIL, why)


def _with(finding: Finding, status: Status, note: str) -> Finding:
    joined = f"{finding.note}; {note}" if finding.note else note
    return Finding(
        rule_id=finding.rule_id,
        label=finding.label,
        severity=finding.severity,
        status=status,
        expected=finding.expected,
        actual=finding.actual,
        keys=finding.keys,
        remediation=finding.remediation,
        note=joined,
    )


def diff(previous: Snapshot | None, current: Snapshot) -> list[Change]:
    """Every setting that changed from ``previous`` to ``current``, sorted by key.

    The first observation (``previous is None``) is not a change.
    """
    if previous is None:
        return []
    changes = [*_unknown_changes(previous, current)]
    unreadable = set(previous.unknown) | set(current.unknown)
    for key in sorted(set(previous.settings) | set(current.settings)):
        if key in unreadable or section_of(key) in unreadable:
            continue
        old, new = previous.get(key), current.get(key)
        if _same(_value(old), _value(new)):
            continue
        source = new if new is not None else old
        assert source is not None  # the key came from one of the two snapshots
        changes.append(
            Change(
                key=key,
                label=source.label,
                old=_value(old),
                new=_value(new),
                updated_by=source.updated_by,
                last_updated=source.last_updated,
            )
        )
    return sorted(changes, key=lambda c: c.key)


def _unknown_changes(previous: Snapshot, current: Snapshot) -> list[Change]:
    """A section or setting that became unreadable, or readable again."""
    changes = []
    for key in sorted(set(previous.unknown) ^ set(current.unknown)):
        known = current.get(key) or previous.get(key)
        what = known.label if known is not None else key if "." in key else f"{key} section"
        if key in current.unknown:
            label = f"{what} could not be read: {current.unknown[key]}"
            changes.append(Change(key, label, SECTION_READ, SECTION_UNKNOWN))
        else:
            label = f"{what} can be read again"
            changes.append(Change(key, label, SECTION_UNKNOWN, SECTION_READ))
    return changes


def _value(setting: Setting | None) -> Value:
    return None if setting is None else setting.value


def _same(old: Value, new: Value) -> bool:
    # True == 1 in Python; a flag turning into a number is still a change.
    return type(old) is type(new) and old == new
