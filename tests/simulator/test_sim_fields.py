"""The simulator answers ``fields=`` with a partial response, as ConnectWise documents (§4)."""

from __future__ import annotations

import pytest

from monitor.simulator.query import QueryError, parse_fields, project

ROW = {
    "id": 311,
    "identifier": "GozyntaAPI",
    "securityRole": {"id": 27, "name": "Gozynta API", "_info": {"href": "x"}},
    "_info": {"updatedBy": "admin1"},
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("id,identifier", {"id": 311, "identifier": "GozyntaAPI"}),
        ("securityRole/id", {"securityRole": {"id": 27}}),
        ("securityRole", {"securityRole": ROW["securityRole"]}),
        ("securityRole/id,securityRole/name", {"securityRole": {"id": 27, "name": "Gozynta API"}}),
        ("_info,nosuchfield", {"_info": {"updatedBy": "admin1"}}),
        ("identifier/id", {"identifier": "GozyntaAPI"}),  # not an object: the value as it is
    ],
)
def test_fields_keep_only_what_was_asked(fields: str, expected: dict[str, object]) -> None:
    parsed = parse_fields(fields)
    assert parsed is not None
    assert project(ROW, parsed) == expected


def test_no_fields_means_every_field_and_a_blank_name_is_refused() -> None:
    assert parse_fields(None) is None
    assert parse_fields(" ") is None
    with pytest.raises(QueryError):
        parse_fields("id,,name")
    with pytest.raises(QueryError):
        parse_fields("securityRole/")
