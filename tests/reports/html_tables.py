"""Read the report's HTML back as data: each ``<table id=...>`` as rows of cell texts."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.scripts = 0
        self._stack: list[str | None] = []  # table ids, None for nested anonymous tables
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            table_id = dict(attrs).get("id")
            self._stack.append(table_id)
            if table_id:
                self.tables[table_id] = []
        elif tag == "tr" and self._current() is not None and self._row is None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None and self._cell is None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            if len(self._stack) and self._stack[-1] is not None:
                self._row.append(" ".join("".join(self._cell).split()))
                self._cell = None
        elif tag == "tr" and self._row is not None and self._stack and self._stack[-1] is not None:
            table_id = self._current()
            assert table_id is not None
            self.tables[table_id].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _current(self) -> str | None:
        return self._stack[-1] if self._stack else None


def parse_tables(html: str) -> tuple[dict[str, list[list[str]]], int]:
    """(table id -> rows of cell texts, number of <script> tags)."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables, parser.scripts
