"""The typed records at the seam: any JSON in, a record or a MalformedResponse out, nothing coerced.

Property tests (Hypothesis; profiles in tests/conftest.py) over arbitrary JSON and over valid
rows with one field replaced by arbitrary JSON.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from monitor.connectwise.records import (
    ACCOUNTING_SETUP,
    MY_SECURITY,
    AccountingPackageSetup,
    ApiMember,
    CustomizeItem,
    GLCaption,
    MySecurity,
    Record,
    SecurityRole,
    SecurityRoleSetting,
    SetupScreen,
    parse_one,
    parse_rows,
)
from monitor.connectwise.site import parse_company_info
from monitor.errors import MalformedResponse

MODELS: list[type[Record]] = [
    AccountingPackageSetup,
    ApiMember,
    CustomizeItem,
    GLCaption,
    MySecurity,
    SecurityRole,
    SecurityRoleSetting,
    SetupScreen,
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["true", "false", "True", "False", "None", "My", "All", "Other", "1", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

FLAG_FIELDS = [
    name
    for name, info in AccountingPackageSetup.model_fields.items()
    if name.endswith("Flag") and info.annotation == bool | None
]
ACCOUNTING = {
    "id": 1,
    "accountingPackage": {"identifier": "Other"},
    **dict.fromkeys(FLAG_FIELDS, True),
}
SETTING_ROW = {
    "id": 9,
    "moduleName": "Finance",
    "moduleFunctionName": "Invoicing",
    "addLevel": "All",
    "editLevel": "All",
    "deleteLevel": "All",
    "inquireLevel": "All",
    "member": {"identifier": "GozyntaAPI"},
}


@given(model=st.sampled_from(MODELS), payload=json_values)
def test_any_json_is_a_record_or_a_malformed_response(model: type[Record], payload: Any) -> None:
    for parse in (parse_one, parse_rows):
        try:
            parse(payload, model, endpoint="/x")
        except MalformedResponse as exc:
            assert exc.endpoint == "/x"


@given(
    model=st.sampled_from(MODELS),
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "identifier",
                    "name",
                    "category",
                    "moduleName",
                    "moduleFunctionName",
                    "customizeIdentifier",
                    "itemIdentifier",
                    "addLevel",
                    "inactiveFlag",
                    "securityRole",
                    "accountingPackage",
                    "segment1",
                    "segment1type",
                    "_info",
                    "member",
                    "unknownNewField",
                ]
            ),
            json_values,
            max_size=8,
        ),
        max_size=3,
    ),
)
def test_rows_with_any_fields_parse_or_are_malformed(model: type[Record], rows: Any) -> None:
    try:
        records = parse_rows(rows, model, endpoint="/x")
    except MalformedResponse:
        return
    for record in records:
        for field in type(record).model_fields:
            problem = record.problem(field)
            assert problem is None or "/x" in problem.reason


@given(field=st.sampled_from(FLAG_FIELDS), value=json_values)
def test_a_flag_is_read_only_when_it_is_a_json_boolean(field: str, value: Any) -> None:
    record = AccountingPackageSetup.parse({**ACCOUNTING, field: value}, endpoint=ACCOUNTING_SETUP)
    problem = record.problem(field)
    if isinstance(value, bool):
        assert (problem, getattr(record, field)) == (None, value)
    else:
        assert problem is not None  # "true", "False", 0, 1, null...: never a boolean
        assert field in problem.reason and ACCOUNTING_SETUP in problem.reason
    # Only that field: every other flag was still read.
    assert [f for f in FLAG_FIELDS if f != field and record.problem(f)] == []


@given(
    field=st.sampled_from(["addLevel", "editLevel", "deleteLevel", "inquireLevel"]),
    value=json_values,
)
def test_a_level_is_read_only_when_it_is_exactly_none_my_or_all(field: str, value: Any) -> None:
    record = MySecurity.parse({**SETTING_ROW, field: value}, endpoint=MY_SECURITY)
    if value in ("None", "My", "All") and isinstance(value, str):
        assert getattr(record, field) == value
    else:
        assert record.problem(field) is not None


@given(
    payload=json_values | st.fixed_dictionaries({"Codebase": json_values, "IsCloud": json_values})
)
def test_the_companyinfo_answer_is_parsed_or_malformed(payload: Any) -> None:
    try:
        info = parse_company_info(payload, endpoint="/login/companyinfo/acme")
    except MalformedResponse:
        return
    assert info.codebase.endswith("/") and isinstance(info.is_cloud, bool)


def test_unknown_fields_of_a_newer_connectwise_are_ignored() -> None:
    plain = AccountingPackageSetup.parse(ACCOUNTING, endpoint=ACCOUNTING_SETUP)
    newer = AccountingPackageSetup.parse(
        {**ACCOUNTING, "newShinyFlag": "yes", "accountingPackage": {"identifier": "Other", "x": 1}},
        endpoint=ACCOUNTING_SETUP,
    )
    assert newer == plain


def test_a_reference_of_the_wrong_type_is_unread_and_the_rest_of_the_row_is_read() -> None:
    member = ApiMember.parse(
        {"identifier": "GozyntaAPI", "inactiveFlag": False, "securityRole": [27]},
        endpoint="/system/apiMembers",
    )
    problem = member.problem("securityRole")
    assert problem is not None and problem.kind == "wrong"
    assert problem.reason == (
        "ConnectWise sent securityRole as a list, not an object, on /system/apiMembers"
    )
    assert member.inactiveFlag is False
