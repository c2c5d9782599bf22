"""Bad config files end in clear lines and exit 2, never a traceback, through the real CLI.

Each case of ``bad_configs.CASES`` runs through the console entry point (``main()``): a
representative subset as ``python -m monitor`` in a subprocess, the rest in this process.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bad_configs import CASES, MANY_FIELDS, MANY_PROBLEMS, BadConfig
from cli_env import Outcome, run_console, run_main

# One problem per line: "error: file:line: field: problem (fix: ...)".
PROBLEM_LINE = re.compile(
    r"^error: (?P<file>.+?):(?P<line>\d+): (?P<field>[\w\[\].]+): .+ \(fix: .+\)$"
)

IN_SUBPROCESS = {"alias-bomb", "python-tag", "not-utf-8", "overflowing-duration", "empty-file"}


def write(tmp_path: Path, case: BadConfig) -> Path:
    path = tmp_path / f"{case.name}.yaml"
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content, encoding="utf-8")
    return path


def assert_one_clear_line(outcome: Outcome, path: Path, case: BadConfig) -> None:
    everything = outcome.stdout + outcome.stderr
    assert outcome.code == 2, everything
    assert "Traceback" not in everything and 'File "' not in everything, everything
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, everything
    match = PROBLEM_LINE.match(lines[0])
    assert match, lines[0]
    assert (match["file"], int(match["line"]), match["field"]) == (str(path), case.line, case.field)
    assert case.words in lines[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_config_validate_names_file_line_and_field_once(tmp_path: Path, case: BadConfig) -> None:
    path = write(tmp_path, case)
    args = ("--config", str(path), "config", "validate")
    if case.name in IN_SUBPROCESS:
        outcome = run_console(*args, cwd=str(tmp_path))
    else:
        outcome = run_main(*args)
    assert_one_clear_line(outcome, path, case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_check_rejects_the_same_files_before_contacting_anyone(
    tmp_path: Path, case: BadConfig
) -> None:
    path = write(tmp_path, case)
    outcome = run_main("--config", str(path), "check")
    assert_one_clear_line(outcome, path, case)
    assert not (tmp_path / "cwdrift.db").exists()  # rejected before the database was opened


@pytest.mark.slow
@pytest.mark.parametrize("name", ["empty-tenant-list", "empty-file", "cron-field-value"])
def test_run_rejects_the_same_files_before_starting(tmp_path: Path, name: str) -> None:
    [case] = [c for c in CASES if c.name == name]
    path = write(tmp_path, case)
    outcome = run_console("--config", str(path), "run", cwd=str(tmp_path))
    assert_one_clear_line(outcome, path, case)


def test_every_problem_of_a_file_is_reported_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(MANY_PROBLEMS)
    outcome = run_main("--config", str(path), "config", "validate")
    assert outcome.code == 2
    lines = outcome.stderr.splitlines()
    matches = [PROBLEM_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert sorted(m["field"] for m in matches if m) == sorted(MANY_FIELDS)
    numbers = [int(m["line"]) for m in matches if m]
    assert numbers == sorted(numbers)  # in file order
    assert "Traceback" not in outcome.stdout + outcome.stderr


def test_a_duplicate_tenant_id_names_both_lines(tmp_path: Path) -> None:
    from bad_configs import config, tenant

    path = tmp_path / "cwdrift.yaml"
    path.write_text(config(tenants=tenant("acme") + tenant("globex") + tenant("acme")))
    outcome = run_main("--config", str(path), "config", "validate")
    assert outcome.code == 2
    assert f"{path}:19: tenants[2].id: tenant id 'acme' is used twice (also at line 3)" in (
        outcome.stderr
    )


def test_a_literal_secret_is_not_echoed_in_errors(tmp_path: Path) -> None:
    from bad_configs import config, tenant

    path = tmp_path / "cwdrift.yaml"
    leaky = tenant().replace(
        "${CWDRIFT_TEST_UNSET_KEY:-not-a-real-key}", "s3cr3t-private-key-value"
    )
    slack = "notify:\n  slack:\n    - {name: ops, webhook_url: 'http://hooks.example/s3cr3t'}\n"
    path.write_text(config(slack, leaky))
    outcome = run_main("--config", str(path), "config", "validate")
    assert outcome.code == 2
    assert "s3cr3t" not in outcome.stdout + outcome.stderr


BASELINE_RULE = """\
  - id: {id}
    kind: accounting_setting
    field: includeSalesTaxFlag
    expected: true
    label: Include Sales Tax
    severity: {severity}
    rationale: '"ensure that Include Sales Tax is checked"'
    remediation: System > Setup Tables > Accounting Package
"""


def test_baseline_validate_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_text(
        "version: 1\nrules:\n"
        + BASELINE_RULE.format(id="include-sales-tax-is-on", severity="urgent")
        + BASELINE_RULE.format(id="Bad_Id", severity="high")
        + BASELINE_RULE.format(id="include-sales-tax-is-on", severity="high")
    )
    outcome = run_main("baseline", "validate", str(path))
    assert outcome.code == 2
    lines = outcome.stderr.splitlines()
    expected = [
        (8, "rule include-sales-tax-is-on: invalid 'severity'"),
        (11, "rule Bad_Id: invalid 'id'"),
        (19, "duplicate rule id 'include-sales-tax-is-on' (first defined at line 3)"),
    ]
    assert len(lines) == len(expected), lines
    for line, (number, problem) in zip(lines, expected, strict=True):
        assert line.startswith(f"error: {path}:{number}: {problem}"), line
        assert "(fix: " in line
    assert "Traceback" not in outcome.stdout + outcome.stderr
