"""The bundled baseline covers the vendor page; broken baselines name file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_snapshots import VENDOR_CUSTOMIZE, VENDOR_PERMISSIONS, bundled

from monitor.core.baseline import load_baseline, parse_baseline
from monitor.core.findings import Severity
from monitor.core.rules.customize import CustomizeRequirement
from monitor.core.rules.permission import PermissionRequirement
from monitor.core.snapshot import customize_key, permission_key
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_bundled_baseline_is_the_repository_config_file() -> None:
    assert bundled().source == REPO / "config" / "baseline.yaml"
    assert bundled().version == 1
    assert bundled().ids == load_baseline(REPO / "config" / "baseline.yaml").ids


def test_bundled_baseline_has_one_all_rule_per_vendor_permission_row() -> None:
    permissions = [
        r.requirement for r in bundled() if isinstance(r.requirement, PermissionRequirement)
    ]
    by_key = {check.key: check.level for check in permissions}

    assert sorted(by_key) == sorted(permission_key(*row) for row in VENDOR_PERMISSIONS)
    assert set(by_key.values()) == {"All"}
    assert len(permissions) == len(VENDOR_PERMISSIONS)  # one rule per (function, operation)


def test_bundled_baseline_has_the_vendor_customize_rows() -> None:
    keys = {r.requirement.key for r in bundled() if isinstance(r.requirement, CustomizeRequirement)}

    assert keys == {customize_key(*row) for row in VENDOR_CUSTOMIZE}


def test_bundled_rules_carry_metadata() -> None:
    for rule in bundled():
        assert rule.label and rule.rationale and rule.remediation, rule.id
        assert '"' in rule.rationale, f"{rule.id}: the rationale should quote the vendor page"
    assert bundled().rule("transfer-expenses-as-bill-is-off").severity is Severity.CRITICAL
    assert "uncheck" in bundled().rule("transfer-expenses-as-bill-is-off").remediation


def test_lookup_by_id() -> None:
    assert "include-sales-tax-is-on" in bundled()
    assert bundled().rule("include-sales-tax-is-on").line > 0
    with pytest.raises(KeyError, match="no-such-rule"):
        bundled().rule("no-such-rule")


GOOD_RULE = """\
  - id: include-sales-tax-is-on
    kind: accounting_setting
    field: includeSalesTaxFlag
    expected: true
    label: Include Sales Tax
    severity: high
    rationale: '"ensure that Include Sales Tax is checked"'
    remediation: System > Setup Tables > Accounting Package
"""

PERMISSION_RULE = """\
  - id: role-grants-time-entry-inquire-all
    kind: permission
    module: Time & Expense
    function: Time Entry
    op: inquire
    level: All
    label: "Time & Expense > Time Entry: Inquire - All"
    severity: medium
    rationale: the page
    remediation: System > Security Roles
"""


def _doc(*rules: str) -> str:
    return "version: 1\nrules:\n" + "".join(rules)


@pytest.mark.parametrize(
    ("text", "line", "message", "fix"),
    [
        (_doc(GOOD_RULE, GOOD_RULE), 11, "duplicate rule id 'include-sales-tax-is-on'", "unique"),
        (
            _doc(GOOD_RULE.replace("accounting_setting", "accounting_flag")),
            4,
            "invalid 'kind': 'accounting_flag'",
            "unknown rule kind 'accounting_flag'; known kinds: account_segments",
        ),
        (
            _doc(PERMISSION_RULE.replace("level: All", "level: Mine")),
            8,
            "invalid 'level': 'Mine'",
            "'None', 'My' or 'All'",
        ),
        (
            _doc(PERMISSION_RULE.replace("op: inquire", "op: view")),
            7,
            "invalid 'op': 'view'",
            "'add', 'edit', 'delete' or 'inquire'",
        ),
        (
            _doc(PERMISSION_RULE.replace("function: Time Entry", "function: ''")),
            6,
            "invalid 'function'",
            "at least 1 character",
        ),
        (
            _doc(GOOD_RULE.replace("severity: high", "severity: urgent")),
            8,
            "invalid 'severity': 'urgent'",
            "'critical'",
        ),
        (
            _doc(GOOD_RULE.replace("id: include", "id: Include_Sales")),
            3,
            "invalid 'id'",
            "lowercase words joined by hyphens",
        ),
        (
            _doc(GOOD_RULE.replace("id: include-sales-tax-is-on", "id: tax")),
            3,
            "invalid 'id': 'tax'",
            "read as an assertion",
        ),
        (
            _doc(
                GOOD_RULE.replace(
                    "    remediation: System > Setup Tables > Accounting Package\n", ""
                )
            ),
            3,
            "missing required field 'remediation'",
            "add 'remediation:'",
        ),
        (
            _doc(GOOD_RULE.replace("Package\n", "Package\n    colour: red\n")),
            11,
            "'colour'",
            "field",
        ),
        (
            _doc(GOOD_RULE.replace("remediation: System", "remediation: ''\n    x: System")),
            10,
            "invalid 'remediation': ''",
            "at least 1",
        ),
        (
            _doc(GOOD_RULE + "    applies_if: on_tuesdays\n"),
            11,
            "'on_tuesdays'",
            "use one of: transfers_costing",
        ),
        (_doc(GOOD_RULE.replace("label: Include", "label: [Include")), 8, "invalid YAML", "syntax"),
        (
            _doc(GOOD_RULE.replace("    label:", "    kind: permission\n    label:")),
            7,
            "duplicate key",
            "",
        ),
        ("version: 1\nrules: []\n", 2, "non-empty list", ""),
        ("rules:\n" + GOOD_RULE, 1, "'version'", "version: 1"),
        ("- just\n- a list\n", 0, "must be a mapping", ""),
        (_doc("  - just a string\n"), 3, "must be a mapping", ""),
    ],
)
def test_broken_baseline_names_file_line_and_fix(
    text: str, line: int, message: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_baseline(text, Path("custom/baseline.yaml"))

    error = raised.value
    where = f"custom/baseline.yaml:{line}" if line else "custom/baseline.yaml"
    assert error.location == where or error.location.startswith(f"{where}: rules[")
    assert message in error.message
    assert fix in error.fix
    assert error.fix


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_baseline(tmp_path / "nope.yaml")

    assert str(tmp_path / "nope.yaml") in str(raised.value)


def test_a_valid_custom_file_loads_with_its_source(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_text(_doc(GOOD_RULE, PERMISSION_RULE))

    baseline = load_baseline(path)

    assert baseline.source == path
    assert baseline.ids == ("include-sales-tax-is-on", "role-grants-time-entry-inquire-all")
    assert [r.line for r in baseline] == [3, 11]
