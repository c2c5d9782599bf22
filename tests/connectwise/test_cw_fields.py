"""``fields=``: a check asks for just what its typed records read, and loses nothing by it.

Each list read whole by a record is read twice from the simulator (which answers ``fields=``
with a partial response, as ConnectWise documents, ../shared/connectwise-api.md §4): the
records parsed from the partial answer must equal those from the full one, field by field,
including which fields were sent at all; and the partial answer must be smaller.
"""

from __future__ import annotations

import pytest

from monitor.connectwise.collect import (
    ACCOUNTING_FIELDS,
    GL_FIELDS,
    MEMBER_FIELDS,
    PERMISSION_FIELDS,
    SCREEN_FIELDS,
    collect_tenant,
)
from monitor.connectwise.records import (
    ACCOUNTING_SETUP,
    API_MEMBERS,
    GL_CAPTIONS,
    MY_SECURITY,
    SETUP_SCREENS,
    AccountingPackageSetup,
    ApiMember,
    GLCaption,
    MySecurity,
    Record,
    SetupScreen,
    fields_of,
    parse_rows,
)
from monitor.simulator.server import RunningSimulator

from .conftest import ClientFactory

# (endpoint, record, other params, whether the record reads less than the whole row)
READ_WHOLE = [
    (MY_SECURITY, MySecurity, {}, True),  # every permission row, only the columns read
    (API_MEMBERS, ApiMember, {"conditions": 'identifier="GozyntaAPI"'}, True),
    (ACCOUNTING_SETUP, AccountingPackageSetup, {}, True),
    (GL_CAPTIONS, GLCaption, {}, False),  # every GLCaption field is read
    (SETUP_SCREENS, SetupScreen, {}, True),
]


def described(rows: tuple[Record, ...]) -> list[object]:
    return [(row.model_dump(), row.model_fields_set, row.provenance()) for row in rows]


@pytest.mark.parametrize(("endpoint", "model", "params", "smaller"), READ_WHOLE)
async def test_fields_ask_for_everything_the_records_read(
    sim: RunningSimulator,
    make_client: ClientFactory,
    endpoint: str,
    model: type[Record],
    params: dict[str, str],
    smaller: bool,
) -> None:
    async with make_client() as cw:
        sim.state.clear_requests()
        whole = await cw.get_list(endpoint, params)
        partial = await cw.get_list(endpoint, {**params, "fields": fields_of(model)})
    full_bytes, partial_bytes = (r.response_bytes for r in sim.state.requests)
    assert described(parse_rows(partial, model, endpoint=endpoint)) == described(
        parse_rows(whole, model, endpoint=endpoint)
    )
    assert partial_bytes < full_bytes if smaller else partial_bytes == full_bytes


def test_the_fields_asked_for_are_derived_from_the_records() -> None:
    assert (
        MEMBER_FIELDS == "_info,identifier,id,name,inactiveFlag,securityRole/id,securityRole/name"
    )
    for model, fields in [
        (AccountingPackageSetup, ACCOUNTING_FIELDS),
        (GLCaption, GL_FIELDS),
        (SetupScreen, SCREEN_FIELDS),
    ]:
        asked = set(fields.split(","))
        for name in model.model_fields:
            if name in ("updated_by", "last_updated"):
                assert "_info" in asked
            else:
                assert name in asked or any(a.startswith(f"{name}/") for a in asked)


async def test_a_check_asks_for_fields_but_never_filters_permission_rows(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    async with make_client() as cw:
        sim.state.clear_requests()
        await collect_tenant(cw, tenant_id="t1", integration_member="GozyntaAPI")
    asked = {r.path: r.query.get("fields") for r in sim.state.requests}
    assert asked[API_MEMBERS] == MEMBER_FIELDS
    assert asked[ACCOUNTING_SETUP] == ACCOUNTING_FIELDS
    assert asked[GL_CAPTIONS] == GL_FIELDS
    assert asked[SETUP_SCREENS] == SCREEN_FIELDS
    # Least privilege is judged on every row: its columns are trimmed, its rows never filtered.
    assert asked[MY_SECURITY] == PERMISSION_FIELDS
    assert all("conditions" not in r.query for r in sim.state.requests if r.path != API_MEMBERS)
