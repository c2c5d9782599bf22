"""``conditions`` built so that a value can never change the query.

The simulator's condition parser (a model of ConnectWise's documented grammar) is the reader:
whatever ``equals`` accepts must read back as exactly one clause with exactly that value.
"""

from __future__ import annotations

import pytest

from monitor.connectwise.conditions import MAX_LITERAL, UnsafeCondition, all_of, equals, quoted
from monitor.simulator.query import parse_conditions

ACCEPTED = [
    "GozyntaAPI",
    "cwdrift:acme:apimember-311:securityRole",
    "a&b+c%d e'f",  # URL-special: the client encodes them, the grammar does not care
    "?[x](y)/z",
    "AND x=1 OR y",  # grammar words inside quotes are text
    "Ünïcödé ✓ 漢字",
    " spaced ",
    "x" * MAX_LITERAL,
]

REFUSED = [
    ("", "empty"),
    ('say "hi"', "'\"'"),
    ("back\\slash", "'\\\\'"),
    ("wild*card", "'*'"),
    ("tab\there", "non-printable"),
    ("new\nline", "non-printable"),
    ("esc\x1b[31m", "non-printable"),
    ("nul\x00", "non-printable"),
    ("c1\x85", "non-printable"),
    ("rtl\u202eoverride", "non-printable"),
    ("line\u2028separator", "non-printable"),
    ("x" * (MAX_LITERAL + 1), "longer than"),
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_an_accepted_value_reads_back_as_exactly_itself(value: str) -> None:
    (clause,) = parse_conditions(equals("externalXRef", value))
    assert (clause.path, clause.op, clause.value) == (("externalXRef",), "=", value)


@pytest.mark.parametrize(("value", "said"), REFUSED)
def test_a_value_that_would_change_the_query_is_refused(value: str, said: str) -> None:
    with pytest.raises(UnsafeCondition, match=said.replace("\\", "\\\\").replace("*", "\\*")):
        quoted(value)


def test_every_code_point_below_0x3000_is_either_refused_or_reads_back() -> None:
    for code in range(0x3000):
        value = f"a{chr(code)}b"
        try:
            condition = equals("externalXRef", value)
        except UnsafeCondition:
            assert chr(code) in '"\\*' or not chr(code).isprintable()
            continue
        (clause,) = parse_conditions(condition)
        assert clause.value == value


@pytest.mark.parametrize(
    ("field", "value", "condition"),
    [
        ("identifier", "GozyntaAPI", 'identifier="GozyntaAPI"'),
        ("securityRole/id", 12, "securityRole/id=12"),
        ("inactiveFlag", False, "inactiveFlag=False"),
        ("closedStatus", True, "closedStatus=True"),
    ],
)
def test_equals_writes_each_literal_as_connectwise_reads_it(
    field: str, value: str | int | bool, condition: str
) -> None:
    assert equals(field, value) == condition


@pytest.mark.parametrize("field", ["", "a b", "x=1 OR y", "1abc", "a//b", 'a"'])
def test_a_field_name_that_is_not_one_is_refused(field: str) -> None:
    with pytest.raises(UnsafeCondition, match="not a ConnectWise field name"):
        equals(field, "x")


def test_clauses_join_with_and() -> None:
    joined = all_of(equals("board/id", 12), equals("externalXRef", "k"))
    assert joined == 'board/id=12 AND externalXRef="k"'
    assert len(parse_conditions(joined)) == 2
    with pytest.raises(UnsafeCondition):
        all_of()
