"""Whatever a config file holds, loading it ends in a config or in ConfigErrors that each name
the file and a line: never another exception, never a line without its place.

The files come from outside (an operator's editor, a template, a half-copied secret), so the
inputs are generated: arbitrary bytes, and valid configs mutated the ways files go wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError
from monitor.settings import load_config

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

VALID: dict[str, Any] = {
    "database": "sqlite:///cwdrift.db",
    "daemon": {"schedule": {"every": "1h", "jitter": "5m"}, "dispatch_every": "30s"},
    "report": {"timezone": "Europe/London", "channels": ["ops"]},
    "notify": {
        "slack": [{"name": "ops", "webhook_url": "${SLACK_URL:-https://hooks.example/x}"}],
        "reminder": "24h",
    },
    "tenants": [
        {
            "id": "acme",
            "name": "Acme",
            "site": "na.myconnectwise.net",
            "company_id": "acme",
            "public_key": "pub",
            "private_key": "${KEY:-k}",
            "client_id": "c",
            "integration_member": "GozyntaAPI",
            "schedule": {"cron": "0 * * * 1-5"},
            "options": {"class_segments": [2]},
        }
    ],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["-5m", "99999999999d", "0 25 * * *", "http://x.example", "${UNSET_X}", ""]),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """VALID with a few values replaced, keys dropped or added, containers swapped."""
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(VALID))  # a deep copy
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)[1:]))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "drop", "add", "wrap"]))
        if action == "replace":
            parent[path[-1]] = draw(scalars)
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(scalars)
        else:
            parent[path[-1]] = [parent[path[-1]]]
    return data


def assert_loads_or_names_lines(path: Path) -> None:
    try:
        load_config(path, env={})
    except ConfigError as error:
        for problem in error.problems:
            line = str(problem)
            assert "\n" not in line
            assert re.match(rf"^{re.escape(str(path))}:\d+(: |$)", problem.location), line
            assert problem.fix, line


@SETTINGS
@given(data=mutated())
def test_a_mutated_config_loads_or_every_problem_names_its_line(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert_loads_or_names_lines(path)


@SETTINGS
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_another_exception(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_bytes(content)
    assert_loads_or_names_lines(path)


YAML_PIECES = st.sampled_from(
    [
        "a",
        ":",
        " ",
        "\n",
        "  ",
        "- ",
        "&x ",
        "*x",
        "!!",
        "!t ",
        "<<: ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "'",
        '"',
        "#",
        "? ",
        "|",
        ">",
        "%YAML 1.2\n",
        "---\n",
        "~",
        "1e999",
        "2026-13-45",
        "tenants",
        "database",
        "daemon",
        "schedule",
        "every",
    ]
)


@SETTINGS
@given(pieces=st.lists(YAML_PIECES, max_size=40))
def test_yaml_shaped_noise_never_escapes_as_another_exception(
    tmp_path: Path, pieces: list[str]
) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text("".join(pieces), encoding="utf-8")
    assert_loads_or_names_lines(path)
