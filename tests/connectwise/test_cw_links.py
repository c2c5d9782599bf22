"""RFC 8288 Link header parsing (pure)."""

from __future__ import annotations

import pytest

from monitor.connectwise.links import link_for, parse_link_header

NEXT = "https://h/v1/apis/3.0/x?pageSize=50&page=2"


@pytest.mark.parametrize(
    ("header", "expected_next"),
    [
        (None, None),
        ("", None),
        (f'<{NEXT}>; rel="next"', NEXT),
        # The ConnectWise guide's example: next and last together.
        (f'<{NEXT}>; rel="next", <https://h/v1/apis/3.0/x?pageSize=50&page=4>; rel="last"', NEXT),
        # Order does not matter, nor does spacing or case.
        (f'<https://h/first>;rel="first" ,  <{NEXT}> ;REL=NEXT', NEXT),
        # Only first/last: the list is complete.
        ('<https://h/a?page=1>; rel="first", <https://h/a?page=1>; rel="last"', None),
        # A comma inside the URL must not split the value.
        ('<https://h/a?conditions=a,b&page=2>; rel="next"', "https://h/a?conditions=a,b&page=2"),
        # A comma inside a quoted parameter must not split either.
        (f'<https://h/p>; title="a, b"; rel="prev", <{NEXT}>; rel="next"', NEXT),
        # Several relation types in one rel.
        (f'<{NEXT}>; rel="next last"', NEXT),
        # "nextpage" is not "next".
        (f'<{NEXT}>; rel="nextpage"', None),
        # Other parameters before rel.
        (f'<{NEXT}>; type="application/json"; rel="next"', NEXT),
        # Relative targets are returned as given (the client resolves them).
        ('</v1/apis/3.0/x?page=2>; rel="next"', "/v1/apis/3.0/x?page=2"),
        # Garbage before a valid value is skipped.
        (f'junk, <{NEXT}>; rel="next"', NEXT),
        # An unterminated target yields nothing rather than a wrong URL.
        ('<https://h/x?page=2; rel="next"', None),
    ],
)
def test_next_link(header: str | None, expected_next: str | None) -> None:
    assert link_for(header, "next") == expected_next


def test_parse_keeps_all_values_and_first_duplicate_param() -> None:
    links = parse_link_header('<a>; rel="first"; rel="ignored", <b>; rel=last; x="q\\"uote"')
    assert links == [("a", {"rel": "first"}), ("b", {"rel": "last", "x": 'q"uote'})]
