"""The pure half of ``baseline preview``: rule differences and finding flips (table-driven)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.core.baseline import Baseline, parse_baseline
from monitor.core.findings import Finding, Severity, Status
from monitor.core.preview import (
    BaselinePreview,
    FieldChange,
    FlipKind,
    RuleDiff,
    diff_baselines,
    flips,
)

RULE = """
  - id: {id}
    kind: accounting_setting
    field: {field}
    expected: {expected}
    label: "{field} is {expected}"
    severity: {severity}
    rationale: "the vendor says so"
    remediation: "System > Setup Tables > Accounting Package"
"""


def baseline(*rules: tuple[str, str, str, str]) -> Baseline:
    text = "version: 1\nrules:\n" + "".join(
        RULE.format(id=rule_id, field=field, expected=expected, severity=severity)
        for rule_id, field, expected, severity in rules
    )
    return parse_baseline(text, Path("test.yaml"))


TAX = ("include-sales-tax-is-on", "includeSalesTaxFlag", "true", "high")
SOH = ("inventory-soh-option-is-on", "inventorySOHFlag", "true", "medium")
COGS = ("include-cogs-entries-is-on", "includeCogsEntriesFlag", "true", "medium")


def test_diff_lists_changed_fields_then_added_then_removed() -> None:
    old = baseline(TAX, SOH)
    new = baseline(("include-sales-tax-is-on", "includeSalesTaxFlag", "false", "critical"), COGS)
    assert diff_baselines(old, new) == [
        RuleDiff(
            "include-sales-tax-is-on",
            "changed",
            (
                FieldChange("label", "includeSalesTaxFlag is true", "includeSalesTaxFlag is false"),
                FieldChange("severity", "high", "critical"),
                FieldChange("expected", True, False),
            ),
        ),
        RuleDiff("include-cogs-entries-is-on", "added"),
        RuleDiff("inventory-soh-option-is-on", "removed"),
    ]
    assert diff_baselines(old, baseline(TAX, SOH)) == []  # same rules from another file


def finding(status: Status | None, severity: Severity = Severity.HIGH) -> list[Finding]:
    """The rule's finding, or none (the rule does not apply)."""
    if status is None:
        return []
    return [Finding("r-is-on", "R is on", severity, status, "on", "off")]


P, F, U, W = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.WAIVED
HIGH, WARN = Severity.HIGH, Severity.WARNING


@pytest.mark.parametrize(
    ("before", "after", "kind", "new_failure"),
    [
        ((P, HIGH), (F, HIGH), FlipKind.FAILS, True),
        ((F, HIGH), (P, HIGH), FlipKind.PASSES, False),
        ((F, HIGH), (W, HIGH), FlipKind.PASSES, False),  # the new value is waived
        ((P, HIGH), (U, HIGH), FlipKind.UNKNOWN, False),
        ((F, HIGH), (U, HIGH), FlipKind.UNKNOWN, False),  # unknown is never called a fix
        ((F, WARN), (F, HIGH), FlipKind.FAILS, True),  # an advisory failure becomes drift
        ((F, HIGH), (F, WARN), FlipKind.PASSES, False),  # ... and back: no longer drift
        ((P, HIGH), (None, HIGH), FlipKind.CHANGED, False),  # no longer applies (applies_if)
        ((U, HIGH), (P, HIGH), FlipKind.CHANGED, False),
        ((P, HIGH), (P, WARN), None, False),  # only the severity of a passing rule
        ((F, HIGH), (F, HIGH), None, False),
    ],
)
def test_flip_kinds(
    before: tuple[Status | None, Severity],
    after: tuple[Status | None, Severity],
    kind: FlipKind | None,
    new_failure: bool,
) -> None:
    found = flips("acme", finding(*before), finding(*after))
    assert [(f.kind, f.new_failure) for f in found] == (
        [] if kind is None else [(kind, new_failure)]
    )


def test_added_and_removed_rules_carry_their_status() -> None:
    passing = Finding("kept-is-on", "kept", HIGH, P, "on", "on")
    added = Finding("new-is-on", "new", HIGH, F, "on", "off")
    added_warning = Finding("advice-is-on", "advice", WARN, F, "on", "off")
    removed = Finding("old-is-on", "old", HIGH, F, "on", "off")
    found = flips(
        "acme",
        [passing, removed],
        [passing, added, added_warning],
        added={"new-is-on", "advice-is-on"},
        removed={"old-is-on"},
    )
    assert [(f.rule_id, f.kind, f.new_failure) for f in found] == [
        ("new-is-on", FlipKind.ADDED, True),
        ("advice-is-on", FlipKind.ADDED, False),  # a failing warning is advice, not drift
        ("old-is-on", FlipKind.REMOVED, False),
    ]


def test_summary_names_the_newly_failing_tenants() -> None:
    fails = flips("globex", finding(P), finding(F))
    fixed = flips("initech", finding(F), finding(P))
    preview = BaselinePreview(
        current="builtin",
        proposed="tight.yaml",
        at=None,
        rules=(RuleDiff("r-is-on", "changed", (FieldChange("expected", False, True),)),),
        flips=(*fails, *fixed),
        tenants=("acme", "globex", "initech"),
        without_snapshot=("umbrella",),
    )
    assert preview.summary == (
        "baseline preview tight.yaml: 1 of 3 tenants would newly fail (globex); 1 pass -> fail, "
        "1 fail -> pass, 0 new unknown, 0 rule added, 0 rule removed; 1 rules changed, 0 added, "
        "0 removed; 1 tenants never read, not previewed"
    )
    assert preview.to_dict()["counts"] == {
        "fails": 1,
        "passes": 1,
        "unknown": 0,
        "added": 0,
        "removed": 0,
        "changed": 0,
    }
