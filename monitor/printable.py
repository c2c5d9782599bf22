"""Untrusted text made safe to print: control characters shown as escapes, never obeyed.

ConnectWise strings (GL captions, role names, ``updatedBy``) are typed by people and can hold
anything. Printed as they are, an ESC starts a terminal escape sequence (colours, cursor moves,
OSC 8 hyperlinks, a retitled window), a carriage return overwrites the line before it, and the
Unicode direction overrides reorder what the reader sees ("Trojan Source", CVE-2021-42574).
``printable`` replaces each such character with a visible escape (``\\x1b``, ``\\u202e``), so
the text reads literally and nothing in it reaches the terminal as a command.

Used by the command line (every string it prints) and by the text templates (the text report,
alert emails); JSON output escapes these characters by itself.
"""

from __future__ import annotations

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))  # embeddings, overrides, isolates
_SEPARATORS = (0x2028, 0x2029)  # Unicode line and paragraph separators end lines in some viewers
_CONTROLS = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))  # C0, DEL, C1 (0x9b is a lone CSI)


def _escape(codepoint: int) -> str:
    return f"\\x{codepoint:02x}" if codepoint < 0x100 else f"\\u{codepoint:04x}"


_ESCAPED = {cp: _escape(cp) for cp in (*_CONTROLS, *_BIDI, *_SEPARATORS)}
_ESCAPED_KEEP_LINES = {cp: text for cp, text in _ESCAPED.items() if cp not in (0x0A, 0x09)}


def printable(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character escaped; ``keep_lines`` keeps newlines and tabs.

    Values (one setting, one name) are escaped whole, so a newline in a caption cannot start a
    line that looks like ours; whole messages of our own keep their line breaks.
    """
    return text.translate(_ESCAPED_KEEP_LINES if keep_lines else _ESCAPED)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, saying how long the whole was (for table cells)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


__all__ = ["clip", "printable"]
