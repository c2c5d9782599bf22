"""The required baseline as validated data (bundled default: ``config/baseline.yaml``).

Each rule has common metadata (id, label, severity, rationale, remediation, optional
``applies_if``, and how drift may be fixed: ``fix_mode`` and ``safe_to_automate``) and
kind-specific parameters validated by the kind's model from :data:`monitor.core.rules.KINDS`.
Validation covers shape and meaning; any problem raises :class:`~monitor.errors.ConfigError`
naming the file, the line and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.core.findings import Severity
from monitor.core.options import TenantOptions
from monitor.core.remedy import FixMode
from monitor.core.rules import KINDS, Requirement
from monitor.data import bundled_file
from monitor.errors import ConfigError

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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the baseline file: {exc.strerror}",
            location=str(path),
            fix="check the path, or omit it to use the bundled baseline",
        ) from exc
    return parse_baseline(text, path)


def parse_baseline(text: str, source: Path) -> Baseline:
    """Validate baseline YAML ``text``; ``source`` names it in errors and on the result."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(
            f"invalid YAML: {exc.problem or exc}",
            location=_at(source, line),
            fix="fix the YAML syntax at that line (indentation, quoting, a missing ':')",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"invalid YAML: {exc}", location=str(source), fix="fix the YAML syntax"
        ) from exc
    if not isinstance(data, _LineDict):
        raise ConfigError(
            "the baseline must be a mapping with 'version' and 'rules'",
            location=str(source),
            fix="start the file with 'version: 1' and a 'rules:' list",
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(
            f"'version' must be a positive integer, got {version!r}",
            location=_at(source, data.line_of("version")),
            fix="set 'version: 1'",
        )
    unknown_top = sorted(set(data) - {"version", "rules", "document"})
    if unknown_top:
        raise ConfigError(
            f"unknown top-level field {unknown_top[0]!r}",
            location=_at(source, data.line_of(unknown_top[0])),
            fix="top-level fields are 'version', 'document' and 'rules'",
        )
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError(
            "'rules' must be a non-empty list of rules",
            location=_at(source, data.line_of("rules")),
            fix="add rules as a YAML list under 'rules:'",
        )
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, index, source, data.line_of("rules"))
        if rule.id in seen:
            raise ConfigError(
                f"duplicate rule id {rule.id!r} (first defined at line {seen[rule.id]})",
                location=_at(source, rule.line),
                fix="give each rule a unique id",
            )
        seen[rule.id] = rule.line
        rules.append(rule)
    return Baseline(version=version, source=source, rules=tuple(rules))


def _parse_rule(raw: object, index: int, source: Path, list_line: int) -> Rule:
    if not isinstance(raw, _LineDict):
        raise ConfigError(
            f"rule #{index + 1} must be a mapping of fields",
            location=_at(source, list_line),
            fix="write each rule as '- id: ...' with kind, label, severity, rationale, remediation",
        )
    common = {k: v for k, v in raw.items() if k in _COMMON}
    params = {k: v for k, v in raw.items() if k not in _COMMON}
    try:
        meta = _RuleMeta.model_validate(common)
    except ValidationError as exc:
        raise _config_error(exc, raw, source, index) from exc
    try:
        requirement = KINDS[meta.kind].model_validate(params)
    except ValidationError as exc:
        raise _config_error(exc, raw, source, index, kind=meta.kind) from exc
    rule = Rule(
        id=meta.id,
        kind=meta.kind,
        label=meta.label,
        severity=meta.severity,
        rationale=meta.rationale,
        remediation=meta.remediation,
        requirement=requirement,
        applies_if=meta.applies_if,
        line=raw.line,
        fix_mode=meta.fix_mode,
        safe_to_automate=meta.safe_to_automate,
    )
    if rule.safe_to_automate:
        risk = (
            requirement.automation_risk()
            if requirement.writable
            else f"it can only be fixed by a person: {requirement.person_reason}"
        )
        if risk is not None:
            raise ConfigError(
                f"rule {rule.id}: safe_to_automate is refused: {risk}",
                location=_at(source, raw.line_of("safe_to_automate")),
                fix="remove safe_to_automate (fix_mode 'approve' lets a person approve each fix)",
            )
    refusal = rule.mode_refusal(rule.fix_mode)
    if refusal is not None:
        raise ConfigError(
            refusal, location=_at(source, raw.line_of("fix_mode")), fix="change fix_mode"
        )
    return rule


def _config_error(
    exc: ValidationError, raw: _LineDict, source: Path, index: int, kind: str | None = None
) -> ConfigError:
    """The first validation problem, located at its field's line."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    rule_name = raw.get("id") or f"#{index + 1}"
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
    return ConfigError(problem, location=_at(source, raw.line_of(field)), fix=fix)


def _at(source: Path, line: int) -> str:
    return f"{source}:{line}" if line else str(source)


class _LineDict(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys start (1-based lines)."""

    line: int
    key_lines: Mapping[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader keeping line numbers and rejecting duplicate keys (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = _LineDict()
        mapping.line = node.start_mark.line + 1
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"mapping keys must be strings, got {key!r}", key_node.start_mark
                )
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            mapping[key] = self.construct_object(value_node, deep=True)
            key_lines[key] = key_node.start_mark.line + 1
        mapping.key_lines = key_lines
        return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _LineLoader.construct_mapping,
)
