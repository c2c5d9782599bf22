"""YAML files whose errors can name a line: load data and remember where each value stood.

Config and baseline errors must say ``file:line`` (a user fixing a 300-line config should not hunt),
so we compose the YAML node tree ourselves and record the line of every mapping key and list item,
keyed by its path (``("tenants", 0, "site")``).

Building the data ourselves is also where a hostile or broken file is stopped, each with one
:class:`~monitor.errors.ConfigError` naming the line, never a traceback:

* a file larger than :data:`MAX_BYTES`, or not UTF-8 text;
* an alias bomb ("billion laughs": aliases of aliases expanding to more than
  :data:`MAX_ALIAS_VALUES` values), an alias that contains itself, nesting deeper than
  :data:`MAX_DEPTH`;
* any tag beyond plain YAML's (``!!python/object``, ``!custom``, ``!!binary``, ``!!set``) and
  merge keys (``<<``), which would read differently elsewhere;
* duplicate keys (PyYAML would keep the last silently), keys that are not plain scalars, and
  scalars YAML types but cannot build (``2026-13-45``).

Problems that leave the rest readable (duplicates, tags, bad scalars) are all reported together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from monitor.errors import ConfigError, config_errors

PathKey = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it (its nodes carry line marks too): a 5,000-tenant
# config composed in 6 s with the pure-Python one.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 32 * 1024 * 1024  # a 5,000-tenant config is about 2 MB
MAX_ALIAS_VALUES = 200_000  # values built again through aliases; legitimate reuse stays far below
MAX_DEPTH = 64  # our configs nest 6 levels deep

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + name for name in ("str", "int", "float", "bool", "null"))
_TIMESTAMP = _YAML + "timestamp"
_MERGE = _YAML + "merge"


@dataclass
class LocatedYaml:
    """Plain data from a YAML file plus the 1-based line of each path in it."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of ``loc`` or of its nearest ancestor that has one (the document's start)."""
        key = tuple(loc)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

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
    """Read and parse ``path``; any problem raises ConfigError naming the file and line."""
    return parse_located(read_text(path), path)


def read_text(path: Path, *, fix: str = "check the path, or pass --config") -> str:
    """The UTF-8 text of ``path`` (a BOM is allowed), at most :data:`MAX_BYTES`.

    ``fix`` is the advice when the file does not exist.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("file not found", location=str(path), fix=fix) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read file: {exc.strerror or type(exc).__name__}",
            location=str(path),
            fix="check the path and its permissions",
        ) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB",
            location=str(path),
            fix="check that this is the right file; split a huge tenant list across configs",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        dotted = _field_on_line(raw.decode("utf-8", "replace"), path, line)
        raise ConfigError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)",
            location=f"{path}:{line}" + (f": {dotted}" if dotted else ""),
            fix="save the file as UTF-8",
        ) from None


def _field_on_line(text: str, path: Path, line: int) -> str:
    """The most specific field written on ``line`` of ``text``, or '' (for error messages)."""
    try:
        located = parse_located(text, path)
    except ConfigError:
        return ""
    on_line = [loc for loc, at in located.lines.items() if at == line and loc]
    return format_loc(max(on_line, key=len)) if on_line else ""


def parse_located(text: str, path: Path) -> LocatedYaml:
    """Parse YAML ``text``; ``path`` names it in errors and on the result."""
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at_line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}",
            location=f"{path}{at_line}",
            fix="fix the YAML syntax at that line (indentation, quotes, a missing ':')",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text[: max(exc.position, 0)].count("\n") + 1
        raise ConfigError(
            f"invalid YAML: control character {exc.character!r} is not allowed",
            location=f"{path}:{line}",
            fix="remove the character (a file copied from a terminal or a binary file?)",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"invalid YAML: {type(exc).__name__}", location=str(path), fix="fix the YAML syntax"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"invalid YAML: nested deeper than {MAX_DEPTH} levels",
            location=str(path),
            fix="flatten the file; cwdrift settings nest a few levels only",
        ) from None
    located = LocatedYaml(path=path, data=None)
    if node is not None:
        builder = _Builder(located)
        located.data = builder.build(node, ())
        if builder.errors:
            raise config_errors(builder.errors)
    return located


class _Builder:
    """Builds plain data from a node tree, recording lines and collecting what is wrong."""

    def __init__(self, located: LocatedYaml) -> None:
        self.located = located
        self.errors: list[ConfigError] = []
        # One constructor per file (a loader per scalar cost more than parsing a large config).
        self._safe = yaml.constructor.SafeConstructor()
        self._seen: set[int] = set()  # nodes built once already: building again is an alias
        self._active: set[int] = set()  # nodes being built (an alias to one is a cycle)
        self._alias_values = 0
        self._alias_at: PathKey | None = None  # where the outermost alias being built is used

    def build(self, node: yaml.Node, loc: PathKey) -> Any:
        self.located.lines.setdefault(loc, node.start_mark.line + 1)
        key = id(node)
        if key in self._active:
            self._fatal(loc, "an alias refers to a value that contains it", "remove the alias")
        alias = key in self._seen  # built before: this is an alias to it
        if alias:
            self._alias_values += 1
            if self._alias_at is None:
                self._alias_at = loc
            if self._alias_values > MAX_ALIAS_VALUES:
                self._fatal(
                    self._alias_at,
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values (an alias bomb?)",
                    "write the values out, or use fewer nested aliases",
                )
        self._seen.add(key)
        if len(loc) > MAX_DEPTH:
            self._fatal(
                loc,
                f"nested deeper than {MAX_DEPTH} levels",
                "flatten the file; cwdrift settings nest a few levels only",
            )
        self._active.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _YAML + "seq":
                    return self._bad_tag(node, loc)
                return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]
            return self._scalar(node, loc)
        finally:
            self._active.discard(key)
            if alias and self._alias_at == loc:
                self._alias_at = None

    def _mapping(self, node: yaml.MappingNode, loc: PathKey) -> Any:
        if node.tag != _YAML + "map":
            return self._bad_tag(node, loc)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                self._error(
                    line,
                    loc,
                    "merge keys (<<) are not supported",
                    "write the fields out (anchors and aliases of whole values work)",
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(line, loc, "a key must be a plain name", "use a plain name as the key")
                continue
            key = self._scalar(key_node, loc)
            if key is None and key_node.tag != _YAML + "null":
                continue  # _scalar recorded why
            key = str(key)
            child = (*loc, key)
            if key in result:
                self._error(line, child, f"duplicate key {key!r}", "remove one of the two entries")
                continue
            self.located.lines[child] = line
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node, loc: PathKey) -> Any:
        """Construct a scalar with YAML's safe rules (str, int, float, bool, null, timestamps)."""
        if node.tag not in _SCALAR_TAGS and node.tag != _TIMESTAMP:
            return self._bad_tag(node, loc)
        try:
            return self._safe.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError):
            kind = node.tag.removeprefix(_YAML)
            self._error(
                node.start_mark.line + 1,
                loc,
                f"{str(node.value)[:40]!r} is not a valid {kind}",
                "correct the value, or quote it to make it text",
            )
            return None

    def _bad_tag(self, node: yaml.Node, loc: PathKey) -> None:
        tag = node.tag.replace(_YAML, "!!")
        self._error(
            node.start_mark.line + 1,
            loc,
            f"unsupported YAML tag {tag[:60]!r}",
            "remove the tag: cwdrift reads plain YAML values only",
        )

    def _error(self, line: int, loc: PathKey, problem: str, fix: str) -> None:
        dotted = format_loc(loc)
        where = f"{self.located.path}:{line}" + (f": {dotted}" if dotted else "")
        self.errors.append(ConfigError(problem, location=where, fix=fix))

    def _fatal(self, loc: PathKey, problem: str, fix: str) -> NoReturn:
        """Stop building; report ``problem`` at ``loc`` (its list or key), and all found so far."""
        while loc and isinstance(loc[-1], int):
            loc = loc[:-1]  # an item's own line may be its anchor's, far from where it is used
        self._error(self.located.line_of(loc) or 1, loc, problem, fix)
        raise config_errors(self.errors)
