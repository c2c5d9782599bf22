"""The YAML reader builds data from the parser's events (never the whole node tree): it must read
every file exactly as PyYAML's safe loader does, anchors and aliases included, and refuse what
YAML's composer refuses, each refusal naming its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError
from monitor.yamlfile import parse_located

SAME_AS_PYYAML = [
    "",
    "---\n",
    "a: 1\nb: [x, 2.5, true, null, ~, 2026-01-02]\nc: {d: '3', e: \"\"}\n",
    "defaults: &d {every: 1h, jitter: 5m}\ntenants:\n  - schedule: *d\n  - schedule: *d\n",
    "a: &x [1, &y {k: v}]\nb: *x\nc: *y\nd: [*x, *x]\n",
    "key: &k name\n*k : value\n",  # an alias as a key
    "s: &s text\nt: *s\n",
    "? plain\n: complex key syntax for a plain name\n",
    "list:\n- - nested\n  - 2\n- {}\n- []\n",
    "0x1F: hex key\n1: int key\nnull: null key\n",
    "! tagged: '! is the non-specific tag'\nv: ! 12\n",
]


@pytest.mark.parametrize("text", SAME_AS_PYYAML)
def test_data_equals_pyyaml_safe_load(text: str) -> None:
    expected = yaml.safe_load(text)
    if isinstance(expected, dict):
        expected = {str(key): value for key, value in expected.items()}
    assert parse_located(text, Path("c.yaml")).data == expected


def test_an_aliased_value_is_a_copy_with_the_anchor_lines() -> None:
    located = parse_located("a: &x\n  k: [1]\nb: *x\n", Path("c.yaml"))
    assert located.data == {"a": {"k": [1]}, "b": {"k": [1]}}
    assert located.data["a"] is not located.data["b"]  # a change to one never reaches the other
    assert located.lines[("b",)] == 3
    assert located.lines[("b", "k")] == 2  # where the value was written


REFUSED = [
    ("a: &x 1\nb: &x 2\n", 2, "duplicate anchor"),
    ("a: *nowhere\n", 1, "undefined alias"),
    ("a: 1\n---\nb: 2\n", 2, "another document"),
    ("a: [1\n", 2, "invalid YAML"),
    ("x: &l [1, [*l]]\n", 1, "alias refers to a value that contains it"),
    ("? [a, b]\n: v\nok: 1\n", 1, "a key must be a plain name"),
    ("base: &b {a: 1}\nm:\n  <<: *b\n", 3, "merge keys"),
    ("a: !!set {x}\nb: !!python/name:os.system x\n", 1, "unsupported YAML tag"),
]


@pytest.mark.parametrize(("text", "line", "words"), REFUSED)
def test_refusals_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_located(text, Path("c.yaml"))
    first = str(raised.value).splitlines()[0]
    assert words in first
    assert first.startswith(f"c.yaml:{line}")


def test_every_problem_of_a_readable_file_is_reported_together() -> None:
    text = "a: !!set {x}\nb: 1\nb: 2\nc: !custom [1]\nd: 2026-13-45\n"
    with pytest.raises(ConfigError) as raised:
        parse_located(text, Path("c.yaml"))
    lines = str(raised.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["1", "3", "4", "5"]


plain = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
documents = st.recursive(
    plain,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_any_dumped_data_reads_back_as_pyyaml_reads_it(data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    assert parse_located(text, Path("c.yaml")).data == yaml.safe_load(text)
