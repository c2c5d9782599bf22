"""The ``/_sim/`` control API: change a running simulator as a person in the UI would.

No ConnectWise authentication (it is a test and demo tool bound to loopback). Bodies are JSON;
``by`` (default "admin1") becomes ``_info.updatedBy`` on the changed record.

    GET    /_sim/tenants                              summary of every tenant (no keys)
    GET    /_sim/requests        DELETE /_sim/requests  the request log / clear it
    GET    /_sim/writes[?company_id=]                 {"total", "writes": [{"company_id",
                                                   "endpoint", "method", "count"}]}: every
                                                   POST/PUT/PATCH/DELETE, whatever its outcome
    DELETE /_sim/writes                               reset the write counts
    POST   /_sim/reset                                back to the scenario as loaded
    POST   /_sim/tenants/{companyId}/accounting       {"field", "value", "by"}  ("package" allowed)
    POST   /_sim/tenants/{companyId}/package          {"identifier", "by"}
    POST   /_sim/tenants/{companyId}/permission       {"role", "module", "function",
                                                   "add"?, "edit"?, "delete"?, "inquire"?, "by"}
    POST   /_sim/tenants/{companyId}/customize        {"role", "item", "allowed", "by"}
                                                   (item as "Invoicing / Tax Code")
    POST   /_sim/tenants/{companyId}/member-role      {"member", "role", "by"}
    POST   /_sim/tenants/{companyId}/member-inactive  {"member", "inactive": true, "by"}
    POST   /_sim/tenants/{companyId}/segment          {"n", "caption"?, "type"?, "by"}
    GET    /_sim/tenants/{companyId}/tickets          its tickets and their notes, including what
                                                   the API never returns (processNotifications,
                                                   initialDescription...)
    POST   /_sim/tenants/{companyId}/ticket-status    {"ticket", "status" (name or id), "by"}: a
                                                   technician moves (e.g. closes) a ticket
    POST   /_sim/tenants/{companyId}/faults           a Fault: {"kind", "endpoint", "times", ...};
                                                   kind "mangle" rewrites the answer's body:
                                                   {"kind": "mangle", "endpoint": "/finance/*",
                                                    "mangle": {"op": "set", "field":
                                                    "includeSalesTaxFlag", "value": "true"}}
    DELETE /_sim/tenants/{companyId}/faults           clear that tenant's faults
    DELETE /_sim/faults                               clear every tenant's faults
    POST   /_sim/tenants/{companyId}/latency          {"seconds"}
    POST   /_sim/latency                              {"seconds"} for every tenant

Answers: 200 ``{"ok": true}``; 400 ``{"error": ...}`` for a bad body, saying what is wrong
(not JSON, at which line and column; which field is missing or of the wrong type, and the
fields expected); 404 for an unknown tenant.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.simulator.scenario import Fault, Level
from monitor.simulator.state import SimulatorState, SimulatorStateError


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = "admin1"


class AccountingChange(_Body):
    field: str
    value: bool | str


class PackageChange(_Body):
    identifier: str


class PermissionChange(_Body):
    role: str
    module: str
    function: str
    add: Level | None = None
    edit: Level | None = None
    delete: Level | None = None
    inquire: Level | None = None


class CustomizeChange(_Body):
    role: str
    item: str
    allowed: bool


class MemberRoleChange(_Body):
    member: str
    role: str


class MemberInactiveChange(_Body):
    member: str
    inactive: bool = True


class SegmentChange(_Body):
    n: int
    caption: str | None = None
    type: str | None = None


class TicketStatusChange(_Body):
    ticket: int
    status: str | int


class LatencyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0)


def _ok() -> JSONResponse:
    return JSONResponse({"ok": True})


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)


Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


async def _parse_body(request: Request, model: type[M]) -> M | str:
    """The body as ``model``, or one line saying what is wrong with it and what is expected."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except UnicodeDecodeError:
        return "body is not UTF-8 text: send a JSON object"
    except json.JSONDecodeError as exc:
        return f"body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(the body)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        fields = ", ".join(
            name if info.is_required() else f"{name}?" for name, info in model.model_fields.items()
        )
        return f"bad body: {problems} (a JSON object with {fields})"


def _tenant_action(
    state: SimulatorState, model: type[M], apply: Callable[[str, M], None]
) -> Handler:
    """Parse the body as ``model`` and apply it to the tenant in the path, mapping errors to 4xx."""

    async def endpoint(request: Request) -> Response:
        company_id = request.path_params["company_id"]
        if state.find_tenant(company_id) is None:
            return _bad(f"no tenant {company_id!r}", 404)
        body = await _parse_body(request, model)
        if isinstance(body, str):
            return _bad(body)
        try:
            apply(company_id, body)
        except SimulatorStateError as exc:
            return _bad(str(exc))
        return _ok()

    return endpoint


def control_routes(state: SimulatorState) -> list[Route]:
    async def tenants(_: Request) -> Response:
        return JSONResponse(state.summary())

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_requests()
            return _ok()
        return JSONResponse([dataclasses.asdict(r) for r in state.requests])

    async def writes(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_writes()
            return _ok()
        wanted = request.query_params.get("company_id")
        rows = [
            row
            for row in state.write_counts()
            if wanted is None or (row["company_id"] or "").casefold() == wanted.casefold()
        ]
        return JSONResponse({"total": sum(r["count"] for r in rows), "writes": rows})

    async def tickets(request: Request) -> Response:
        company_id = request.path_params["company_id"]
        if state.find_tenant(company_id) is None:
            return _bad(f"no tenant {company_id!r}", 404)
        return JSONResponse(state.tickets(company_id))

    async def reset(_: Request) -> Response:
        state.reset()
        return _ok()

    async def clear_all_faults(_: Request) -> Response:
        state.clear_faults()
        return _ok()

    async def clear_tenant_faults(request: Request) -> Response:
        company_id = request.path_params["company_id"]
        if state.find_tenant(company_id) is None:
            return _bad(f"no tenant {company_id!r}", 404)
        state.clear_faults(company_id)
        return _ok()

    async def all_latency(request: Request) -> Response:
        body = await _parse_body(request, LatencyChange)
        if isinstance(body, str):
            return _bad(body)
        state.set_latency(None, body.seconds)
        return _ok()

    def permission(cid: str, b: PermissionChange) -> None:
        state.set_permission(
            cid, b.role, b.module, b.function,
            add=b.add, edit=b.edit, delete=b.delete, inquire=b.inquire, by=b.by,
        )  # fmt: skip

    actions: dict[str, Handler] = {
        "accounting": _tenant_action(
            state,
            AccountingChange,
            lambda cid, b: state.set_accounting(cid, b.field, b.value, by=b.by),
        ),
        "package": _tenant_action(
            state, PackageChange, lambda cid, b: state.set_package(cid, b.identifier, by=b.by)
        ),
        "permission": _tenant_action(state, PermissionChange, permission),
        "customize": _tenant_action(
            state,
            CustomizeChange,
            lambda cid, b: state.set_customize(cid, b.role, b.item, b.allowed, by=b.by),
        ),
        "member-role": _tenant_action(
            state,
            MemberRoleChange,
            lambda cid, b: state.set_member_role(cid, b.member, b.role, by=b.by),
        ),
        "member-inactive": _tenant_action(
            state,
            MemberInactiveChange,
            lambda cid, b: state.set_member_inactive(cid, b.member, b.inactive, by=b.by),
        ),
        "segment": _tenant_action(
            state,
            SegmentChange,
            lambda cid, b: state.set_segment(cid, b.n, caption=b.caption, type=b.type, by=b.by),
        ),
        "latency": _tenant_action(
            state, LatencyChange, lambda cid, b: state.set_latency(cid, b.seconds)
        ),
        "ticket-status": _tenant_action(
            state,
            TicketStatusChange,
            lambda cid, b: state.set_ticket_status(cid, b.ticket, b.status, by=b.by),
        ),
    }
    routes = [
        Route("/_sim/tenants", tenants, methods=["GET"]),
        Route("/_sim/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sim/writes", writes, methods=["GET", "DELETE"]),
        Route("/_sim/tenants/{company_id}/tickets", tickets, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/faults", clear_all_faults, methods=["DELETE"]),
        Route("/_sim/latency", all_latency, methods=["POST"]),
        Route(
            "/_sim/tenants/{company_id}/faults",
            _tenant_action(state, Fault, state.add_fault),
            methods=["POST"],
        ),
        Route("/_sim/tenants/{company_id}/faults", clear_tenant_faults, methods=["DELETE"]),
    ]
    routes += [
        Route(f"/_sim/tenants/{{company_id}}/{name}", handler, methods=["POST"])
        for name, handler in actions.items()
    ]
    return routes
