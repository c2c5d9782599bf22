"""RFC 8288 (formerly RFC 5988) ``Link`` header parsing, for ConnectWise paging.

ConnectWise pages with ``Link: <url>; rel="next", <url>; rel="last"`` (Developer Guide,
"Pagination"; ../shared/connectwise-api.md §4). Splitting on commas is wrong (a URL or a quoted
parameter may contain one), so this is a small scanner over the grammar:

    Link       = #link-value
    link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
    link-param = token BWS [ "=" BWS ( token / quoted-string ) ]

``rel`` may hold several space-separated relation types and is case-insensitive.
"""

from __future__ import annotations

_TOKEN_END = frozenset(' \t;,="')


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Read a quoted-string starting at the opening quote; return (value, index after it)."""
    out: list[str] = []
    i += 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    return "".join(out), i  # unterminated: tolerate, the value runs to the end


def _read_token(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] not in _TOKEN_END:
        i += 1
    return text[start:i], i


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """All link-values in order, as (target, params) with lowercase parameter names."""
    links: list[tuple[str, dict[str, str]]] = []
    i = 0
    n = len(value)
    while i < n:
        i = _skip_space(value, i)
        if i >= n:
            break
        if value[i] == ",":
            i += 1
            continue
        if value[i] != "<":
            # Garbage between values: skip to the next comma outside quotes.
            while i < n and value[i] != ",":
                i = _read_quoted(value, i)[1] if value[i] == '"' else i + 1
            continue
        end = value.find(">", i + 1)
        if end < 0:
            break
        target = value[i + 1 : end].strip()
        i = end + 1
        params: dict[str, str] = {}
        while True:
            i = _skip_space(value, i)
            if i >= n or value[i] != ";":
                break
            i = _skip_space(value, i + 1)
            name, i = _read_token(value, i)
            i = _skip_space(value, i)
            param_value = ""
            if i < n and value[i] == "=":
                i = _skip_space(value, i + 1)
                if i < n and value[i] == '"':
                    param_value, i = _read_quoted(value, i)
                else:
                    param_value, i = _read_token(value, i)
            if name and name.lower() not in params:  # RFC 8288: later duplicates are ignored
                params[name.lower()] = param_value
        links.append((target, params))
        # Anything up to the next separating comma is not part of this grammar: skip it.
        while i < n and value[i] != ",":
            i = _read_quoted(value, i)[1] if value[i] == '"' else i + 1
    return links


def link_for(value: str | None, rel: str) -> str | None:
    """The first target whose ``rel`` includes ``rel`` (case-insensitive), or None."""
    if not value:
        return None
    wanted = rel.lower()
    for target, params in parse_link_header(value):
        if wanted in params.get("rel", "").lower().split():
            return target
    return None
