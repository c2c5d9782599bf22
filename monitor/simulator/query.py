"""The list query parameters ConnectWise documents: ``conditions``, ``fields``, ``page`` and
``pageSize``, and the RFC 5988 ``Link`` header (Developer Guide, "PSA Pagination";
../shared/connectwise-api.md §4).

Supported ``conditions``: ``field op value`` clauses joined by ``AND`` (case-insensitive), where
``op`` is ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``; values are ``"quoted strings"`` (``*`` is a
wildcard; compared case-insensitively, as SQL Server does), integers, ``True``/``False`` or
``null``; reference fields use ``/`` (``securityRole/id=12``). ``OR``, ``contains``, ``like``,
``in`` and brackets are not simulated: they are rejected with 400 like any unparseable condition.
``fields`` is a partial response: a comma-separated list of field names, a reference's fields as
``securityRole/id`` (the reference keeps only those); a name the record does not have is left
out, as is a field absent from the row. ``orderBy`` and ``childConditions`` are ignored (rows
ordered by id).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
        \s*(?P<op>!=|<=|>=|=|<|>)
        \s*(?P<value>"(?:[^"\\]|\\.)*"|-?\d+|[Tt]rue|[Ff]alse|null)\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


class QueryError(ValueError):
    """A query parameter ConnectWise would reject with 400."""


@dataclass(frozen=True)
class Clause:
    path: tuple[str, ...]
    op: str
    value: str | int | bool | None

    def matches(self, row: dict[str, Any]) -> bool:
        actual: Any = row
        for part in self.path:
            actual = actual.get(part) if isinstance(actual, dict) else None
        if self.op in ("=", "!="):
            equal = _equal(actual, self.value)
            return equal if self.op == "=" else not equal
        return _ordered(actual, self.value, self.op)


def _equal(actual: Any, expected: str | int | bool | None) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int):
        return isinstance(actual, int) and actual == expected
    if actual is None:
        return False
    return _wildcard(expected).fullmatch(str(actual)) is not None


def _wildcard(expected: str) -> re.Pattern[str]:
    """Only ``*`` is a wildcard; ``?`` and ``[`` are literal (an ``externalXRef`` may hold them)."""
    pattern = ".*".join(re.escape(part) for part in expected.split("*"))
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _ordered(actual: Any, expected: str | int | bool | None, op: str) -> bool:
    if isinstance(expected, int) and not isinstance(expected, bool):
        return isinstance(actual, int) and _ORDER[op](actual, expected)
    if isinstance(expected, str) and isinstance(actual, str):
        return _ORDER[op](actual.casefold(), expected.casefold())
    return False


def _literal(text: str) -> str | int | bool | None:
    if text.startswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text == "null":
        return None
    return int(text)


def parse_conditions(text: str | None) -> list[Clause]:
    """Parse a ``conditions`` string; raise QueryError naming the part that is not understood."""
    if text is None or not text.strip():
        return []
    clauses = []
    for part in _AND.split(text.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise QueryError(f"Unable to parse condition: {part.strip()!r}")
        clauses.append(
            Clause(
                path=tuple(match.group("field").split("/")),
                op=match.group("op"),
                value=_literal(match.group("value")),
            )
        )
    return clauses


Fields = tuple[tuple[str, ...], ...]


def parse_fields(text: str | None) -> Fields | None:
    """``fields`` as paths (``securityRole/id`` -> ("securityRole", "id")); None: every field."""
    if text is None or not text.strip():
        return None
    paths = []
    for part in text.split(","):
        path = tuple(name.strip() for name in part.split("/"))
        if not all(path):
            raise QueryError(f"fields is invalid: {part.strip()!r}")
        paths.append(path)
    return tuple(paths)


def project(row: dict[str, Any], fields: Fields) -> dict[str, Any]:
    """The row with only ``fields`` (in the row's own order, as a partial response keeps it)."""
    wanted: dict[str, Any] = {}
    for path in fields:
        node = wanted
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = None  # a leaf: the whole value
    return _take(row, wanted)


def _take(row: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    taken: dict[str, Any] = {}
    for name, value in row.items():
        if name not in wanted:
            continue
        inner = wanted[name]
        if inner is None or not isinstance(value, dict):
            taken[name] = value
        else:
            taken[name] = _take(value, inner)
    return taken


def filter_rows(rows: list[dict[str, Any]], clauses: list[Clause]) -> list[dict[str, Any]]:
    return [row for row in rows if all(clause.matches(row) for clause in clauses)]


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def last(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    def slice(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        start = (self.number - 1) * self.size
        return rows[start : start + self.size]


def page_of(params: dict[str, str], total: int) -> Page:
    """``page`` is 1-based; ``pageSize`` defaults to 25 and is clamped to 1..1000."""
    size = min(max(_int_param(params, "pageSize", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    number = max(_int_param(params, "page", 1), 1)
    return Page(number=number, size=size, total=total)


def link_header(
    url_without_query: str, params: dict[str, str], page: Page, *, force_next: bool = False
) -> str:
    """RFC 5988 links with absolute URLs; ``page`` goes last, as ConnectWise's own examples show
    (and as clients that parse ``page=(\\d+)>; rel=`` rely on)."""
    kept = {k: v for k, v in params.items() if k not in ("page", "pageSize")}

    def url(number: int) -> str:
        query = urlencode({**kept, "pageSize": page.size, "page": number})
        return f"{url_without_query}?{query}"

    links = [f'<{url(1)}>; rel="first"']
    if page.number > 1:
        links.append(f'<{url(min(page.number - 1, page.last))}>; rel="prev"')
    if page.number < page.last or force_next:
        links.append(f'<{url(page.number + 1)}>; rel="next"')
    links.append(
        f'<{url(max(page.last, page.number + 1) if force_next else page.last)}>; rel="last"'
    )
    return ", ".join(links)
