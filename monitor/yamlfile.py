"""YAML files whose errors can name a line: load data and remember where each value stood.

Config and baseline errors must say ``file:line`` (a user fixing a 300-line config should not hunt),
so we compose the YAML node tree ourselves and record the line of every mapping key and list item,
keyed by its path (``("tenants", 0, "site")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError

PathKey = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it (its nodes carry line marks too): a 5,000-tenant
# config composed in 6 s with the pure-Python one.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LocatedYaml:
    """Plain data from a YAML file plus the 1-based line of each path in it."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of ``loc`` or of its nearest ancestor that has one."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line: dotted.field`` for an error message."""
        dotted = format_loc(loc)
        line = self.line_of(loc)
        prefix = f"{self.path}:{line}" if line else str(self.path)
        return f"{prefix}: {dotted}" if dotted else prefix


def format_loc(loc: Sequence[str | int]) -> str:
    """``("tenants", 0, "site")`` -> ``tenants[0].site``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def load_located(path: Path) -> LocatedYaml:
    """Read ``path``; a missing file or broken YAML raises ConfigError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found", location=str(path), fix="check the path, or pass --config"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read file: {exc.strerror}", location=str(path), fix="check permissions"
        ) from None
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"invalid YAML: {exc.problem}",
            location=f"{path}{line}",
            fix="fix the YAML syntax (indentation, quotes, colons)",
        ) from None
    located = LocatedYaml(path=path, data=None)
    # One constructor per file (a loader per scalar cost more than parsing a large config).
    safe = yaml.constructor.SafeConstructor()
    located.data = _construct(node, (), located, safe) if node is not None else None
    return located


def _construct(
    node: yaml.Node, loc: PathKey, located: LocatedYaml, safe: yaml.constructor.SafeConstructor
) -> Any:
    lines, path = located.lines, located.path
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, safe)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    location=f"{path}:{key_node.start_mark.line + 1}",
                    fix="remove one of the two entries",
                )
            child = (*loc, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, child, located, safe)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*loc, index), located, safe) for index, item in enumerate(node.value)
        ]
    return _scalar(node, safe)


def _scalar(node: yaml.Node, safe: yaml.constructor.SafeConstructor) -> Any:
    """Construct a scalar with YAML's safe rules (ints, bools, timestamps, strings)."""
    return safe.construct_object(node, deep=True)
