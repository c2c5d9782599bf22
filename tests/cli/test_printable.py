"""Property tests: whatever text ConnectWise sends, printing it never emits a control character
and never interprets it as markup."""

from __future__ import annotations

import io
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cli import render
from monitor.data import template_environment
from monitor.printable import printable

# A fixed seed and no deadline: deterministic in CI, and a busy machine is not a failure.
PROPERTY = settings(max_examples=300, derandomize=True, deadline=None)
MARKUP_ALPHABET = st.sampled_from("[]/:=abcXYZ 0#@!<>&\\")


def controls(text: str) -> list[str]:
    """Control (Cc) and format-bidi characters that can steer a terminal or reorder text."""
    bidi = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)}
    return [c for c in text if unicodedata.category(c) == "Cc" or c in bidi]


def printed(*items: object) -> str:
    console = render.SafeConsole(
        file=io.StringIO(), width=100_000, markup=False, emoji=False, highlight=False
    )
    console.print(*items)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


@PROPERTY
@given(st.text())
def test_printable_leaves_no_control_character(text: str) -> None:
    assert controls(printable(text)) == []
    assert [c for c in controls(printable(text, keep_lines=True)) if c not in "\n\t"] == []


@PROPERTY
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp"))))
def test_printable_changes_nothing_else(text: str) -> None:
    assert printable(text) == text


@PROPERTY
@given(st.text())
def test_cells_and_lines_print_no_control_character(text: str) -> None:
    table = render.table("t", ("value",))
    table.add_row(render.cell(text))
    output = printed(table, render.line("x: ", text), text)
    assert [c for c in controls(output) if c != "\n"] == []


@PROPERTY
@given(st.text(alphabet=MARKUP_ALPHABET, min_size=1).map(str.strip).filter(bool))
def test_markup_and_emoji_codes_are_printed_as_typed(text: str) -> None:
    assert printed(render.line(text)).rstrip("\n") == text
    assert printed(text).rstrip("\n") == text


@PROPERTY
@given(st.text())
def test_text_templates_escape_every_value(text: str) -> None:
    rendered = template_environment().from_string("[{{ value }}]").render(value=text)
    assert controls(rendered) == []
