"""YAML files whose errors can name a line: load data and remember where each value stood.

Config and baseline errors must say ``file:line`` (a user fixing a 300-line config should not hunt),
so we build the data ourselves from the parser's events and record the line of every mapping key
and list item, keyed by its path (``("tenants", 0, "site")``).

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

import gc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

import yaml

from monitor.errors import ConfigError, config_errors

PathKey = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it (its events carry line marks too): a 5,000-tenant
# config composed in 6 s with the pure-Python one.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
    located = LocatedYaml(path=path, data=None)
    # The cyclic collector would walk the growing data again and again while it is built (the
    # values are new, so it finds nothing): paused, a 10,000-tenant config builds in half the time.
    with paused_gc():
        try:
            builder = _Builder(located, _Events(text))
            located.data = builder.document()
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
                f"invalid YAML: {type(exc).__name__}",
                location=str(path),
                fix="fix the YAML syntax",
            ) from None
    if builder.errors:
        raise config_errors(builder.errors)
    return located


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a block that builds much long-lived data (and
    back on after it, unless it was off already). Reference counting still frees as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_COLLECTION_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _Events:
    """The parser's events one at a time, and again for an alias: each anchored value's events
    are kept (a few, in a real file) so an alias can be built anew from them.

    Streaming the events, instead of composing the whole node tree first as ``yaml.compose``
    does, keeps a large file's memory to the data itself (the tree of a 10,000-tenant config
    holds 170,000 nodes, about 60 MB, for a moment; and that moment is the daemon's peak).
    Anchors follow YAML's composer: a duplicate or an undefined one is an error.
    """

    def __init__(self, text: str) -> None:
        self._source = yaml.parse(text, Loader=_PARSER)
        self._replays: list[Iterator[yaml.Event]] = []
        self._anchors: dict[str, list[yaml.Event]] = {}
        self._recording: list[tuple[str, list[yaml.Event], list[int]]] = []  # name, events, depth
        self.replayed = False  # whether the event last returned came from an alias

    def next(self) -> yaml.Event:
        while self._replays:
            event = next(self._replays[-1], None)
            if event is not None:
                self.replayed = True
                return event
            self._replays.pop()
        self.replayed = False
        event = next(self._source)
        if self._recording or getattr(event, "anchor", None) is not None:
            self._record(event)
        return event

    def open(self, name: str) -> bool:
        """Whether the anchor ``name`` names a value still being read (an alias to it loops)."""
        return any(recording[0] == name for recording in self._recording)

    def anchored(self, alias: yaml.AliasEvent) -> list[yaml.Event]:
        """The events of the value an alias names."""
        events = self._anchors.get(str(alias.anchor))
        if events is None:
            raise yaml.composer.ComposerError(
                None, None, f"undefined alias *{str(alias.anchor)[:40]}", _mark(alias)
            )
        return events

    def replay(self, events: list[yaml.Event]) -> None:
        """Return ``events`` next (the value an alias names)."""
        self._replays.append(iter(events))

    def _record(self, event: yaml.Event) -> None:
        for recording in self._recording:
            recording[1].append(event)
            if isinstance(event, _COLLECTION_STARTS):
                recording[2][0] += 1
            elif isinstance(event, _COLLECTION_ENDS):
                recording[2][0] -= 1
        while self._recording and self._recording[-1][2][0] == 0:
            name, events, _ = self._recording.pop()
            self._anchors[name] = events
        if isinstance(event, yaml.AliasEvent) or not isinstance(event, yaml.NodeEvent):
            return
        if event.anchor is None:
            return
        name = event.anchor
        if name in self._anchors or self.open(name):
            first = (self._anchors.get(name) or self._first_of(name))[0]
            raise yaml.composer.ComposerError(
                None,
                None,
                f"duplicate anchor &{name[:40]} (first at line {_line(first)})",
                _mark(event),
            )
        if isinstance(event, _COLLECTION_STARTS):
            self._recording.append((name, [event], [1]))
        else:
            self._anchors[name] = [event]

    def _first_of(self, name: str) -> list[yaml.Event]:
        return next(events for anchor, events, _ in self._recording if anchor == name)


class _Builder:
    """Builds plain data from the parser's events, recording lines and collecting what is
    wrong."""

    def __init__(self, located: LocatedYaml, events: _Events) -> None:
        self.located = located
        self.errors: list[ConfigError] = []
        self._events = events
        # One constructor and resolver per file (a loader per scalar cost more than parsing).
        self._safe = yaml.constructor.SafeConstructor()
        self._resolver = yaml.resolver.Resolver()
        self._plain_tags: dict[str, str] = {}
        self._alias_values = 0
        self._alias_at: PathKey | None = None  # where the outermost alias being built is used

    def document(self) -> Any:
        """The one document's data (None for an empty stream)."""
        events = self._events
        events.next()  # the stream's start
        if isinstance(events.next(), yaml.StreamEndEvent):
            return None
        first = events.next()  # the document's start was the event before
        data = self.build(first, ())
        events.next()  # the document's end
        after = events.next()
        if not isinstance(after, yaml.StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                _mark(first),
                "but found another document",
                _mark(after),
            )
        return data

    def build(self, event: yaml.Event, loc: PathKey) -> Any:
        """The value that starts with ``event``, at ``loc``."""
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, loc)
        self.located.lines.setdefault(loc, _line(event))
        if self._events.replayed:
            self._alias_values += 1
            if self._alias_values > MAX_ALIAS_VALUES:
                self._fatal(
                    self._alias_at or loc,
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values (an alias bomb?)",
                    "write the values out, or use fewer nested aliases",
                )
        if len(loc) > MAX_DEPTH:
            self._fatal(
                loc,
                f"nested deeper than {MAX_DEPTH} levels",
                "flatten the file; cwdrift settings nest a few levels only",
            )
        if isinstance(event, yaml.MappingStartEvent):
            if _collection_tag(event, _YAML + "map") != _YAML + "map":
                return self._bad_collection(event, loc)
            return self._mapping(loc)
        if isinstance(event, yaml.SequenceStartEvent):
            if _collection_tag(event, _YAML + "seq") != _YAML + "seq":
                return self._bad_collection(event, loc)
            return self._sequence(loc)
        return self._scalar(event, loc)

    def _alias(self, alias: yaml.AliasEvent, loc: PathKey) -> Any:
        """The value an alias names, built again (its lines are the anchored value's)."""
        if self._events.open(str(alias.anchor)):
            self._fatal(loc, "an alias refers to a value that contains it", "remove the alias")
        self._events.replay(self._events.anchored(alias))
        outermost = self._alias_at is None
        if outermost:
            self._alias_at = loc
        try:
            return self.build(self._events.next(), loc)
        finally:
            if outermost:
                self._alias_at = None

    def _sequence(self, loc: PathKey) -> list[Any]:
        items: list[Any] = []
        while not isinstance(event := self._events.next(), yaml.SequenceEndEvent):
            items.append(self.build(event, (*loc, len(items))))
        return items

    def _mapping(self, loc: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not isinstance(key_event := self._events.next(), yaml.MappingEndEvent):
            line = _line(key_event)
            key_scalar = self._key_scalar(key_event)
            if key_scalar is None:
                self._error(line, loc, "a key must be a plain name", "use a plain name as the key")
                self._skip(self._events.next())
                continue
            key_tag = self._scalar_tag(key_scalar)
            if key_tag == _MERGE:
                self._error(
                    line,
                    loc,
                    "merge keys (<<) are not supported",
                    "write the fields out (anchors and aliases of whole values work)",
                )
                self._skip(self._events.next())
                continue
            key = self._scalar(key_scalar, loc, key_tag)
            if key is None and key_tag != _YAML + "null":
                self._skip(self._events.next())  # _scalar recorded why
                continue
            key = sys.intern(str(key))  # one string per setting name, not one per tenant
            child = (*loc, key)
            if key in result:
                self._error(line, child, f"duplicate key {key!r}", "remove one of the two entries")
                self._skip(self._events.next())
                continue
            self.located.lines[child] = line
            result[key] = self.build(self._events.next(), child)
        return result

    def _key_scalar(self, event: yaml.Event) -> yaml.ScalarEvent | None:
        """The scalar a key is (directly or through an alias), or None after skipping a key
        that is a list or a mapping."""
        if isinstance(event, yaml.ScalarEvent):
            return event
        if isinstance(event, yaml.AliasEvent) and not self._events.open(str(event.anchor)):
            anchored = self._events.anchored(event)
            if isinstance(anchored[0], yaml.ScalarEvent):
                return anchored[0]
            return None
        if not isinstance(event, yaml.AliasEvent):
            self._skip(event)
        return None

    def _skip(self, event: yaml.Event) -> None:
        """Read past the value that starts with ``event`` without building it."""
        depth = 1 if isinstance(event, _COLLECTION_STARTS) else 0
        while depth:
            event = self._events.next()
            if isinstance(event, _COLLECTION_STARTS):
                depth += 1
            elif isinstance(event, _COLLECTION_ENDS):
                depth -= 1

    def _scalar_tag(self, event: yaml.ScalarEvent) -> str:
        """The scalar's tag: as written, or as YAML's rules read a plain value (int, bool...)."""
        tag = event.tag
        if tag is not None and tag != "!":
            return str(tag)
        if not event.implicit[0]:  # quoted (or "! x"): text, whatever it looks like
            return _YAML + "str"
        # Plain: by YAML's rules, and remembered (setting names repeat in every tenant).
        found = self._plain_tags.get(event.value)
        if found is None:
            resolved = self._resolver.resolve(  # type: ignore[no-untyped-call] # stubs lack it
                yaml.ScalarNode, event.value, event.implicit
            )
            found = self._plain_tags[event.value] = str(resolved)
        return found

    def _scalar(self, event: yaml.Event, loc: PathKey, tag: str | None = None) -> Any:
        """Construct a scalar with YAML's safe rules (str, int, float, bool, null, timestamps)."""
        if not isinstance(event, yaml.ScalarEvent):
            return None  # pragma: no cover - the parser sends no other events here
        if tag is None:
            tag = self._scalar_tag(event)
        if tag == _YAML + "str":
            return event.value  # what the safe constructor returns for text, without its work
        if tag not in _SCALAR_TAGS and tag != _TIMESTAMP:
            return self._bad_tag(tag, event, loc)
        node = yaml.ScalarNode(tag, event.value, _mark(event), None, event.style)
        try:
            return self._safe.yaml_constructors[tag](self._safe, node)
        except (ValueError, OverflowError, yaml.YAMLError):
            kind = tag.removeprefix(_YAML)
            self._error(
                _line(event),
                loc,
                f"{str(event.value)[:40]!r} is not a valid {kind}",
                "correct the value, or quote it to make it text",
            )
            return None

    def _bad_collection(self, event: yaml.CollectionStartEvent, loc: PathKey) -> None:
        self._bad_tag(str(event.tag), event, loc)
        self._skip(event)

    def _bad_tag(self, tag: str, event: yaml.Event, loc: PathKey) -> None:
        shown = tag.replace(_YAML, "!!")
        self._error(
            _line(event),
            loc,
            f"unsupported YAML tag {shown[:60]!r}",
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


def _mark(event: yaml.Event) -> yaml.error.Mark | None:
    """Where an event starts (libyaml's marks are its own class, with the same fields)."""
    return cast("yaml.error.Mark | None", event.start_mark)


def _line(event: yaml.Event) -> int:
    """The 1-based line an event starts on."""
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


def _collection_tag(event: yaml.CollectionStartEvent, default: str) -> str:
    """A list's or a mapping's tag: as written, else YAML's default for its kind."""
    tag = event.tag
    return default if tag is None or tag == "!" else str(tag)
