"""Plan the fix of a tenant's failing rules (pure): per rule, the write or the person's steps.

``plan_fixes`` turns one check's findings into :class:`RulePlan` items, in baseline order:

* only failing rules are planned (``fail``, not ``waived``: an accepted deviation is never
  touched; not ``unknown``: a value that could not be read is never "fixed");
* advisory (``warning``) findings only when the caller names the rule;
* a rule whose kind ConnectWise lets us write gets its :class:`~monitor.core.remedy.Write`
  from the requirement's ``remedy``; every rule also gets numbered UI steps from its
  ``remediation`` text, which is all a person-only rule has.

``modes_for`` gives each rule's mode for one tenant: the tenant's override, else the baseline's;
``fixing_modes`` only the rules it fixes (approve or auto).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.core.baseline import Baseline
from monitor.core.findings import Finding, Severity, Status
from monitor.core.remedy import FixMode, PersonNeeded, Remedy, RemedyContext, Write, ui_steps


@dataclass(frozen=True)
class RulePlan:
    """What fixing one failing rule takes for one tenant, as read now."""

    rule_id: str
    label: str
    severity: Severity
    expected: str
    actual: str | None
    remedy: Remedy
    steps: tuple[str, ...]  # the person's steps in the ConnectWise UI (also shown for a write)
    mode: FixMode = FixMode.REPORT

    @property
    def write(self) -> Write | None:
        return self.remedy if isinstance(self.remedy, Write) else None

    @property
    def person_reason(self) -> str:
        return self.remedy.reason if isinstance(self.remedy, PersonNeeded) else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "label": self.label,
            "severity": self.severity.value,
            "expected": self.expected,
            "actual": self.actual,
            "mode": self.mode.value,
            "action": "patch" if self.write is not None else "person",
            "write": self.write.to_json() if self.write is not None else None,
            "reason": self.person_reason or None,
            "steps": list(self.steps),
        }


def modes_for(baseline: Baseline, overrides: Mapping[str, FixMode]) -> dict[str, FixMode]:
    """Rule id -> the mode in force for one tenant (its override, else the baseline's)."""
    return {rule.id: overrides.get(rule.id, rule.fix_mode) for rule in baseline}


def fixing_modes(baseline: Baseline, overrides: Mapping[str, FixMode]) -> dict[str, FixMode]:
    """The rules one tenant has in ``approve`` or ``auto`` mode (none: a check only reports)."""
    return {
        rule: mode
        for rule, mode in modes_for(baseline, overrides).items()
        if mode is not FixMode.REPORT
    }


def plan_fixes(
    baseline: Baseline,
    findings: Sequence[Finding],
    ctx: RemedyContext,
    *,
    rules: Collection[str] | None = None,
    modes: Mapping[str, FixMode] | None = None,
) -> list[RulePlan]:
    """One plan per failing rule of ``findings`` (only ``rules`` when given), in baseline order."""
    by_id = {finding.rule_id: finding for finding in findings}
    plans = []
    for rule in baseline:
        finding = by_id.get(rule.id)
        if finding is None or finding.status is not Status.FAIL:
            continue
        if rules is not None:
            if rule.id not in rules:
                continue
        elif not finding.is_drift:
            continue  # advisory: planned only when asked for by name
        plans.append(
            RulePlan(
                rule_id=rule.id,
                label=rule.label,
                severity=finding.severity,
                expected=finding.expected,
                actual=finding.actual,
                remedy=rule.requirement.remedy(ctx),
                steps=ui_steps(rule.remediation, ctx.snapshot),
                mode=(modes or {}).get(rule.id, rule.fix_mode),
            )
        )
    return plans


def plan_moved(planned: Write, current: Write) -> str | None:
    """Why a write planned earlier no longer fits what is read now (None: it still does).

    ``current`` is the write planned from a fresh read. The approved plan is applied only when
    the fresh one is the same request from the same values: a setting that moved since (a
    person fixed it, or changed it to something else) is never overwritten on an old approval.
    """
    if planned.path != current.path:
        return f"the record to change is now {current.path}, not {planned.path}"
    now = {change.key: change for change in current.changes}
    for change in planned.changes:
        fresh = now.get(change.key)
        if fresh is None:
            return f"{change.label} no longer needs changing"
        if _json(fresh.before) != _json(change.before):
            return (
                f"{change.label} is now {_json(fresh.before)}, no longer the plan's "
                f"from value {_json(change.before)}"
            )
    if _json(planned.body()) != _json(current.body()):
        return "the baseline or the tenant's options now ask for a different value"
    return None


def _json(value: Any) -> str:
    # JSON, not ==: true == 1 in Python, but a flag that became a number is not the same value.
    return json.dumps(value, sort_keys=True)
