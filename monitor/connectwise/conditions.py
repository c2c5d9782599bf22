"""``conditions`` query strings for ConnectWise lists, built so a value can never change the query.

ConnectWise's grammar (Developer Guide, "Conditions"; ../shared/connectwise-api.md §4): strings in
double quotes with ``*`` as a wildcard, integers bare, booleans ``True``/``False``, clauses
joined by ``AND``/``OR``, reference fields with ``/`` (``securityRole/id=12``). How a ``"`` or a
backslash inside a string is escaped is not documented, so rather than guess an escape, a string
that holds one is refused, as is ``*`` (an exact lookup such as ``externalXRef="..."`` must not
turn into a wildcard match on other records) and any control character. URL encoding of what
is left (``&``, ``%``, ``+``, spaces) is the client's job when it builds the query string.

Use: ``client.get_list("/service/tickets", {"conditions": equals("externalXRef", key)})``.
"""

from __future__ import annotations

import re

# ConnectWise keeps URLs under about 2,000 characters (§4): a literal this long leaves room for the
# rest of the URL; longer lookups belong in ``POST .../search``.
MAX_LITERAL = 1000

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_REFUSED = frozenset('"\\*')


class UnsafeCondition(ValueError):
    """A value that cannot be put into ``conditions`` without changing what it asks."""


def quoted(value: str) -> str:
    """``value`` as a ConnectWise string literal, ``"value"``; refuses what would change the query.

    Surrounding whitespace is kept: callers that want it gone strip it first.
    """
    if not value:
        raise UnsafeCondition("an empty string matches nothing useful")
    if len(value) > MAX_LITERAL:
        raise UnsafeCondition(f"longer than {MAX_LITERAL} characters ({len(value)})")
    refused = sorted({ch for ch in value if ch in _REFUSED})
    if refused:
        raise UnsafeCondition(
            "contains " + " and ".join(repr(ch) for ch in refused) + ", which ConnectWise reads "
            "as query syntax (a quote or backslash ends or escapes the string, * is a wildcard)"
        )
    if not value.isprintable():
        raise UnsafeCondition("contains a control or other non-printable character")
    return f'"{value}"'


def equals(field: str, value: str | int | bool) -> str:
    """One ``field=value`` clause: a string quoted by :func:`quoted`, an int bare, a bool as
    ``True``/``False``."""
    if _FIELD.fullmatch(field) is None:
        raise UnsafeCondition(f"{field!r} is not a ConnectWise field name")
    if isinstance(value, bool):  # before int: a bool is an int in Python
        literal = "True" if value else "False"
    elif isinstance(value, int):
        literal = str(value)
    else:
        literal = quoted(value)
    return f"{field}={literal}"


def all_of(*clauses: str) -> str:
    """Clauses joined with ``AND`` (each already built by :func:`equals`)."""
    if not clauses:
        raise UnsafeCondition("no clause to join")
    return " AND ".join(clauses)
