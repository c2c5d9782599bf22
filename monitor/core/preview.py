"""What a baseline change would do, before it is made (pure): rule differences and flips.

``diff_baselines(old, new)`` says which rules were added, removed or changed (field by field).
``flips(tenant, before, after, ...)`` compares one tenant's findings under the old and the new
baseline, both evaluated on the *same* stored snapshot, so every difference is the baseline's
doing, never ConnectWise's. A :class:`BaselinePreview` gathers them for all tenants.

Kinds of flip (the status words are :class:`~monitor.core.findings.Status`):

    fails      drift under the new baseline and not under the old (pass -> fail; also a failing
               warning that the new severity makes drift)
    passes     drift under the old baseline and not under the new (fail -> pass or waived)
    unknown    newly unknown: the new rule reads something the snapshot could not read
    added      a rule only the new baseline has (with the status it would get)
    removed    a rule only the old baseline has (with the status it had)
    changed    any other change of status (e.g. the rule no longer applies to this tenant)

A *new failure* is a ``fails`` flip, or an ``added`` rule that would fail as drift: what a
person must know before tightening a baseline (``baseline preview`` exits 1 on any).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.core.baseline import Baseline, Rule
from monitor.core.findings import Finding, Status


class FlipKind(StrEnum):
    FAILS = "fails"
    PASSES = "passes"
    UNKNOWN = "unknown"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"

    @property
    def heading(self) -> str:
        """``pass -> fail`` and so on: how the CLI and the summary name the kind."""
        return _HEADINGS[self]


_HEADINGS = {
    FlipKind.FAILS: "pass -> fail",
    FlipKind.PASSES: "fail -> pass",
    FlipKind.UNKNOWN: "new unknown",
    FlipKind.ADDED: "rule added",
    FlipKind.REMOVED: "rule removed",
    FlipKind.CHANGED: "other change",
}


# -- rule-level differences -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any  # None: the field was absent
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class RuleDiff:
    rule_id: str
    change: str  # "added" | "removed" | "changed"
    fields: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "change": self.change,
            "fields": [f.to_dict() for f in self.fields],
        }


def rule_fields(rule: Rule) -> dict[str, Any]:
    """A rule as the fields its YAML has (metadata and the kind's parameters), in plain data."""
    fields: dict[str, Any] = {
        "kind": rule.kind,
        "label": rule.label,
        "severity": rule.severity.value,
        "rationale": rule.rationale,
        "remediation": rule.remediation,
        "applies_if": rule.applies_if,
    }
    fields.update(rule.requirement.model_dump(mode="json"))
    return fields


def diff_baselines(old: Baseline, new: Baseline) -> list[RuleDiff]:
    """Rules added, changed (new baseline's order), then removed (old baseline's order)."""
    before = {rule.id: rule for rule in old.rules}
    after = {rule.id: rule for rule in new.rules}
    diffs = []
    for rule in new.rules:
        if rule.id not in before:
            diffs.append(RuleDiff(rule.id, "added"))
            continue
        old_fields, new_fields = rule_fields(before[rule.id]), rule_fields(rule)
        changed = tuple(
            FieldChange(name, old_fields.get(name), new_fields.get(name))
            for name in _union(old_fields, new_fields)
            if old_fields.get(name) != new_fields.get(name)
        )
        if changed:
            diffs.append(RuleDiff(rule.id, "changed", changed))
    diffs += [RuleDiff(rule.id, "removed") for rule in old.rules if rule.id not in after]
    return diffs


def _union(*mappings: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


# -- finding-level flips ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flip:
    """One tenant x rule whose result the new baseline changes."""

    tenant_id: str
    rule_id: str
    kind: FlipKind
    before: Finding | None  # None: no finding (rule absent, or not applicable to the tenant)
    after: Finding | None

    @property
    def new_failure(self) -> bool:
        if self.kind is FlipKind.FAILS:
            return True
        return self.kind is FlipKind.ADDED and self.after is not None and self.after.is_drift

    @property
    def label(self) -> str:
        finding = self.after or self.before
        assert finding is not None  # a flip has a finding on at least one side
        return finding.label

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "rule": self.rule_id,
            "kind": self.kind.value,
            "new_failure": self.new_failure,
            "label": self.label,
            "before": _side(self.before),
            "after": _side(self.after),
        }


def _side(finding: Finding | None) -> dict[str, Any] | None:
    if finding is None:
        return None
    return {
        "status": finding.status.value,
        "severity": finding.severity.value,
        "expected": finding.expected,
        "actual": finding.actual,
    }


def flips(
    tenant_id: str,
    before: Sequence[Finding],
    after: Sequence[Finding],
    *,
    added: Iterable[str] = (),
    removed: Iterable[str] = (),
) -> list[Flip]:
    """The tenant's findings that differ between the old (``before``) and new (``after``)
    baseline's evaluation of one snapshot; ``added``/``removed`` are the rules only one has."""
    added, removed = set(added), set(removed)
    old = {f.rule_id: f for f in before}
    new = {f.rule_id: f for f in after}
    found = []
    for rule_id in _union(new, old):
        b, a = old.get(rule_id), new.get(rule_id)
        if rule_id in added:
            kind: FlipKind | None = FlipKind.ADDED
        elif rule_id in removed:
            kind = FlipKind.REMOVED
        else:
            kind = _kind(b, a)
        if kind is not None:
            found.append(Flip(tenant_id, rule_id, kind, b, a))
    return found


def _kind(before: Finding | None, after: Finding | None) -> FlipKind | None:
    drift_before = before is not None and before.is_drift
    drift_after = after is not None and after.is_drift
    if drift_after and not drift_before:
        return FlipKind.FAILS
    if drift_before and not drift_after:
        if after is not None and after.status is Status.UNKNOWN:
            return FlipKind.UNKNOWN
        return FlipKind.PASSES
    status_before = None if before is None else before.status
    status_after = None if after is None else after.status
    if status_after is Status.UNKNOWN and status_before is not Status.UNKNOWN:
        return FlipKind.UNKNOWN
    if status_before != status_after:
        return FlipKind.CHANGED
    return None


# -- the whole preview ------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselinePreview:
    """Every flip the ``proposed`` baseline would cause on the stored snapshots."""

    current: str  # where the baseline in force comes from (a path, or "builtin")
    proposed: str
    at: datetime | None  # the snapshots in force at this time; None: each tenant's latest
    rules: tuple[RuleDiff, ...]
    flips: tuple[Flip, ...]
    tenants: tuple[str, ...]  # previewed: those with a stored snapshot
    without_snapshot: tuple[str, ...]  # never read successfully (by ``at``): nothing to preview

    @property
    def new_failures(self) -> tuple[Flip, ...]:
        return tuple(f for f in self.flips if f.new_failure)

    @property
    def newly_failing_tenants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.tenant_id for f in self.new_failures))

    def counts(self) -> dict[str, int]:
        counted = Counter(f.kind for f in self.flips)
        return {kind.value: counted[kind] for kind in FlipKind}

    @property
    def summary(self) -> str:
        """One line for people and logs, e.g. before a daemon reload takes a new baseline."""
        counts = self.counts()
        changed = Counter(r.change for r in self.rules)
        failing = self.newly_failing_tenants
        if failing:
            shown = ", ".join(failing[:5]) + (
                f" and {len(failing) - 5} more" if failing[5:] else ""
            )
            head = f"{len(failing)} of {len(self.tenants)} tenants would newly fail ({shown})"
        else:
            head = f"no tenant would newly fail ({len(self.tenants)} previewed)"
        flips = ", ".join(
            f"{counts[k.value]} {k.heading}"
            for k in FlipKind
            if k is not FlipKind.CHANGED or counts[k.value]
        )
        rules = (
            f"{changed['changed']} rules changed, {changed['added']} added, "
            f"{changed['removed']} removed"
        )
        line = f"baseline preview {self.proposed}: {head}; {flips}; {rules}"
        if self.without_snapshot:
            line += f"; {len(self.without_snapshot)} tenants never read, not previewed"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "proposed": self.proposed,
            "at": None if self.at is None else self.at.isoformat(),
            "rules": [r.to_dict() for r in self.rules],
            "counts": self.counts(),
            "new_failures": len(self.new_failures),
            "newly_failing_tenants": list(self.newly_failing_tenants),
            "tenants_previewed": list(self.tenants),
            "tenants_without_snapshot": list(self.without_snapshot),
            "flips": [f.to_dict() for f in self.flips],
            "summary": self.summary,
        }
