"""The required baseline as validated data (bundled default: ``config/baseline.yaml``).

Each rule has common metadata (id, label, severity, rationale, remediation, optional
``applies_if``, and how drift may be fixed: ``fix_mode`` and ``safe_to_automate``) and
kind-specific parameters validated by the kind's model from
:data:`monitor.core.rules.KINDS`. Validation covers shape and meaning; any problem raises
:class:`~monitor.errors.ConfigError` naming the file, the line and the fix, and every problem
of a file is reported at once. The YAML is read by :mod:`monitor.yamlfile`, as the config is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.core.findings import Severity
from monitor.core.options import TenantOptions
from monitor.core.remedy import FixMode
from monitor.core.rules import KINDS, Requirement
from monitor.data import bundled_file
from monitor.errors import ConfigError, config_errors
from monitor.yamlfile import LocatedYaml, parse_located, read_text

# An id reads as an assertion: lowercase words joined by hyphens, at least two of them.
RULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")

# TenantOptions switches a rule may depend on (``applies_if``): the boolean ones.
OPTION_SWITCHES = tuple(
    name for name, info in TenantOptions.model_fields.items() if info.annotation is bool
)

_COMMON = (
    "id",
    "kind",
    "label",
    "severity",
    "rationale",
    "remediation",
    "applies_if",
    "fix_mode",
    "safe_to_automate",
)


@dataclass(frozen=True)
class Rule:
    """One baseline rule: its metadata, and the ``requirement`` (the kind's parameters) it tests."""

    id: str
    kind: str
    label: str
    severity: Severity
    rationale: str
    remediation: str
    requirement: Requirement
    applies_if: str | None = None  # a boolean TenantOptions field; the rule is skipped when False
    line: int = 0  # where the rule starts in its file, for messages
    fix_mode: FixMode = FixMode.REPORT  # what the daemon does when it fails (tenants override)
    safe_to_automate: bool = False  # whether ``auto`` is allowed at all

    def applies_to(self, options: TenantOptions) -> bool:
        return self.applies_if is None or bool(getattr(options, self.applies_if))

    def mode_refusal(self, mode: FixMode) -> str | None:
        """Why this rule may not be put in ``mode`` (None: it may)."""
        if mode is FixMode.REPORT:
            return None
        if not self.requirement.writable:
            return (
                f"rule {self.id} ({self.kind}) can only be fixed by a person: "
                f"{self.requirement.person_reason}; use 'report'"
            )
        if mode is FixMode.AUTO and not self.safe_to_automate:
            risk = self.requirement.automation_risk()
            why = risk or "the baseline does not mark it safe_to_automate"
            return f"rule {self.id} may not be fixed automatically: {why}; use 'approve'"
        return None


@dataclass(frozen=True)
class Baseline:
    version: int
    source: Path
    rules: tuple[Rule, ...]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, rule_id: object) -> bool:
        return any(rule.id == rule_id for rule in self.rules)

    def rule(self, rule_id: str) -> Rule:
        """The rule with ``rule_id``; KeyError names the id when there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)


class _RuleMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    kind: str
    label: str = Field(min_length=1)
    severity: Severity
    rationale: str = Field(min_length=1)
    remediation: str = Field(min_length=1)
    applies_if: str | None = None
    fix_mode: FixMode = FixMode.REPORT
    safe_to_automate: bool = False

    @field_validator("id")
    @classmethod
    def _reads_as_assertion(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError(
                "must be lowercase words joined by hyphens that read as an assertion, "
                "e.g. 'transfer-expenses-as-bill-is-off'"
            )
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(
                f"unknown rule kind {value!r}; known kinds: {', '.join(sorted(KINDS))}"
            )
        return value

    @field_validator("applies_if")
    @classmethod
    def _known_switch(cls, value: str | None) -> str | None:
        if value is not None and value not in OPTION_SWITCHES:
            raise ValueError(
                f"unknown tenant option {value!r}; use one of: {', '.join(OPTION_SWITCHES)}"
            )
        return value


def load_baseline(path: Path | None = None) -> Baseline:
    """Load and validate a baseline file; ``None`` loads the bundled Mobius baseline."""
    if path is None:
        path = bundled_file("baseline.yaml")
    text = read_text(path, fix="check the path, or omit it to use the bundled baseline")
    return parse_baseline(text, path)


def parse_baseline(text: str, source: Path) -> Baseline:
    """Validate baseline YAML ``text``; ``source`` names it in errors and on the result.

    Every problem of the file is reported (one ConfigError, one line per problem).
    """
    located = parse_located(text, source)  # YAML-level problems: syntax, tags, duplicates
    data = located.data
    if not isinstance(data, dict):
        raise ConfigError(
            "the baseline must be a mapping with 'version' and 'rules'",
            location=str(source),
            fix="start the file with 'version: 1' and a 'rules:' list",
        )
    problems: list[ConfigError] = []
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(
            ConfigError(
                f"'version' must be a positive integer, got {version!r}",
                location=_at(source, located.line_of(("version",))),
                fix="set 'version: 1'",
            )
        )
    for unknown in sorted(set(data) - {"version", "rules", "document"}):
        problems.append(
            ConfigError(
                f"unknown top-level field {unknown!r}",
                location=_at(source, located.line_of((unknown,))),
                fix="top-level fields are 'version', 'document' and 'rules'",
            )
        )
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append(
            ConfigError(
                "'rules' must be a non-empty list of rules",
                location=_at(source, located.line_of(("rules",))),
                fix="add rules as a YAML list under 'rules:'",
            )
        )
        raw_rules = []
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, index, located, problems)
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rule_id, str):  # a duplicate is one even beside an invalid rule
            line = located.line_of(("rules", index)) or 0
            if rule_id in seen:
                problems.append(
                    ConfigError(
                        f"duplicate rule id {rule_id!r} (first defined at line {seen[rule_id]})",
                        location=_at(source, line),
                        fix="give each rule a unique id",
                    )
                )
                continue
            seen[rule_id] = line
        if rule is not None:
            rules.append(rule)
    if problems:
        raise config_errors(problems)
    assert isinstance(version, int)  # checked above
    return Baseline(version=version, source=source, rules=tuple(rules))


def _parse_rule(
    raw: object, index: int, located: LocatedYaml, problems: list[ConfigError]
) -> Rule | None:
    """The rule at ``rules[index]``, or None with its problems (all of them) added."""
    loc = ("rules", index)
    line = located.line_of(loc) or 0
    if not isinstance(raw, dict):
        problems.append(
            ConfigError(
                f"rule #{index + 1} must be a mapping of fields",
                location=_at(located.path, line),
                fix="write each rule as '- id: ...' with kind, label, severity, rationale, "
                "remediation",
            )
        )
        return None
    name = raw.get("id") or f"#{index + 1}"
    common = {k: v for k, v in raw.items() if k in _COMMON}
    params = {k: v for k, v in raw.items() if k not in _COMMON}
    found = len(problems)
    meta = requirement = None
    try:
        meta = _RuleMeta.model_validate(common)
    except ValidationError as exc:
        problems += _rule_problems(exc, name, loc, located)
    kind = raw.get("kind")
    if isinstance(kind, str) and kind in KINDS:  # the parameters are checked even if the
        try:  # metadata is not, so one run shows every problem of the rule
            requirement = KINDS[kind].model_validate(params)
        except ValidationError as exc:
            problems += _rule_problems(exc, name, loc, located, kind=kind)
    if meta is None or requirement is None or len(problems) > found:
        return None
    rule = Rule(
        id=meta.id,
        kind=meta.kind,
        label=meta.label,
        severity=meta.severity,
        rationale=meta.rationale,
        remediation=meta.remediation,
        requirement=requirement,
        applies_if=meta.applies_if,
        line=line,
        fix_mode=meta.fix_mode,
        safe_to_automate=meta.safe_to_automate,
    )
    problems += _fix_problems(rule, loc, located)
    return None if len(problems) > found else rule


def _fix_problems(rule: Rule, loc: tuple[str, int], located: LocatedYaml) -> list[ConfigError]:
    """A rule marked safe to automate that is not, or a fix_mode the rule cannot have."""
    found = []
    requirement = rule.requirement
    if rule.safe_to_automate:
        risk = (
            requirement.automation_risk()
            if requirement.writable
            else f"it can only be fixed by a person: {requirement.person_reason}"
        )
        if risk is not None:
            found.append(
                ConfigError(
                    f"rule {rule.id}: safe_to_automate is refused: {risk}",
                    location=_at(located.path, located.line_of((*loc, "safe_to_automate"))),
                    fix="remove safe_to_automate (fix_mode 'approve' lets a person approve each "
                    "fix)",
                )
            )
    refusal = rule.mode_refusal(rule.fix_mode)
    if refusal is not None:
        found.append(
            ConfigError(
                refusal,
                location=_at(located.path, located.line_of((*loc, "fix_mode"))),
                fix="change fix_mode",
            )
        )
    return found


def _rule_problems(
    exc: ValidationError,
    rule_name: object,
    loc: tuple[str, int],
    located: LocatedYaml,
    kind: str | None = None,
) -> list[ConfigError]:
    """Each validation problem of one rule, located at its field's line."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "missing":
            problem = f"rule {rule_name}: missing required field {field!r}"
            fix = f"add '{field}:' to the rule"
        elif error["type"] == "extra_forbidden":
            allowed = sorted(set(_COMMON) | set(KINDS[kind].model_fields if kind else ()))
            problem = f"rule {rule_name}: unknown field {field!r}"
            fix = f"remove it; fields for kind {kind!r} are: {', '.join(allowed)}"
        else:
            problem = f"rule {rule_name}: invalid {field!r}: {error['input']!r}"
            fix = str(error["msg"]).removeprefix("Value error, ")
        line = located.line_of((*loc, field)) if field else located.line_of(loc)
        problems.append(ConfigError(problem, location=_at(located.path, line or 0), fix=fix))
    return problems


def _at(source: Path, line: int | None) -> str:
    return f"{source}:{line}" if line else str(source)
