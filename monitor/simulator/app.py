"""The simulator's ASGI app: ConnectWise's REST API under ``/{codebase}apis/3.0`` plus ``/_sim/``.

A request to the API goes through the same steps ConnectWise takes, in order: find the tenant
from the ``companyId+publicKey:privateKey`` Basic credentials (401), add the tenant's latency,
check the key pair and the ``clientId`` header (401), apply injected faults, route the path
(404, or 405 for a method not served there), check the caller's role (403), then either filter
(``conditions``, 400) and page the rows of a GET, or run a write (400 on a refused body).
Every write (POST/PUT/PATCH/DELETE) is counted (``SimulatorState.write_counts``) first.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from monitor.simulator import render
from monitor.simulator.access import Caller
from monitor.simulator.control import control_routes
from monitor.simulator.mangle import Mangle, mangle_body
from monitor.simulator.query import (
    QueryError,
    filter_rows,
    link_header,
    page_of,
    parse_conditions,
    parse_fields,
    project,
)
from monitor.simulator.responses import Problem, Refusal, error_response, invalid
from monitor.simulator.routes import (
    Routed,
    WriteEndpoint,
    endpoint_of,
    is_served,
    route,
    route_write,
)
from monitor.simulator.state import FaultState, RequestRecord, SimulatorState, TenantState
from monitor.simulator.writes import WriteRequest

Json = dict[str, Any]
ON_PREMISE_CODEBASE = "v4_6_release/"  # also served on cloud (Developer Guide, §1.1)
LOGGED_HEADERS = ("clientId", "Accept", "pagination-type")
READ_METHODS = ("GET", "HEAD")  # Starlette answers HEAD wherever GET is routed
# ``timeout_after_write`` with no ``seconds``: hold the answer until the client gives up, but
# never longer than this, so a client without a timeout cannot wedge the simulator.
TIMEOUT_FAULT_CAP = 60.0

_HTML_ERROR = (
    "<html><head><title>{status} Bad Gateway</title></head><body><center><h1>{status} "
    "Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def unauthenticated() -> JSONResponse:
    return error_response(401)


class SimulatedConnectionReset(Exception):
    """Raised mid-response so the server drops the connection (fault ``connection_reset``)."""


class _QuietResets(logging.Filter):
    """Drop uvicorn's traceback for an injected reset: it is the intended outcome, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedConnectionReset)


_QUIET_RESETS = _QuietResets()


class _ResetResponse(Response):
    """Start a 200 response, send part of the body, then abort the connection."""

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'[{"id": 1, "na', "more_body": True})
        raise SimulatedConnectionReset("simulated connection reset (fault injection)")


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _credentials(request: Request) -> tuple[str, str, str] | None:
    """``Basic base64(companyId+publicKey:privateKey)`` -> the three parts, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, private_key = decoded.partition(":")
    company_id, plus, public_key = user.partition("+")
    if not (colon and plus and company_id and public_key and private_key):
        return None
    return company_id, public_key, private_key


class SimulatorApp:
    """Holds the state; Starlette routes call its endpoints."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def _log(self, request: Request, company_id: str | None, path: str, response: Response) -> None:
        self.state.record_request(
            RequestRecord(
                company_id=company_id,
                method=request.method,
                path=path,
                query=dict(request.query_params),
                status=_status_of(response),
                headers={h: request.headers[h] for h in LOGGED_HEADERS if h in request.headers},
                response_bytes=len(getattr(response, "body", b"") or b""),
            )
        )

    async def company_info(self, request: Request) -> Response:
        company_id = request.path_params["company_id"]
        path = f"/login/companyinfo/{company_id}"
        tenant = self.state.find_tenant(company_id)
        if tenant is None:
            response: Response = error_response(404, f"Company {company_id!r} not found.")
        else:
            await asyncio.sleep(tenant.latency)
            response = await self._with_faults(
                tenant, path, {}, lambda _: JSONResponse(render.company_info(tenant))
            )
        self._log(request, tenant.company_id if tenant else None, path, response)
        return response

    async def api(self, request: Request) -> Response:
        path = "/" + request.path_params["rest"]
        credentials = _credentials(request)
        tenant = self.state.find_tenant(credentials[0]) if credentials else None
        if request.method not in READ_METHODS:
            # Counted whatever happens next: a refused or unauthenticated write is still a write
            # the client attempted ("0 writes in a dry run" must see it).
            company_id = tenant.company_id if tenant else None
            self.state.count_write(company_id, endpoint_of(path), request.method)
        if credentials is None or tenant is None:
            refused = unauthenticated()
            self._log(request, None, path, refused)
            return refused
        await asyncio.sleep(tenant.latency)
        response = await self._authenticated(request, tenant, credentials, path)
        if tenant.api_version is not None:
            # ConnectWise names its release on every answer (§1.3); an upgrade changes it.
            response.headers["api-current-version"] = tenant.api_version
        self._log(request, tenant.company_id, path, response)
        return response

    async def _authenticated(
        self, request: Request, tenant: TenantState, credentials: tuple[str, str, str], path: str
    ) -> Response:
        member = self.state.authenticate(*credentials)
        if member is None:
            return unauthenticated()
        if tenant.require_client_id and not request.headers.get("clientid"):
            # ConnectWise requires clientId on every call (Developer Guide, "clientId").
            return unauthenticated()
        codebase = request.path_params["codebase"] + "/"
        if codebase not in (tenant.codebase, ON_PREMISE_CODEBASE):
            return error_response(404, f"Codebase {codebase!r} not found.")
        api_base = f"{str(request.base_url).rstrip('/')}/{codebase}apis/3.0"
        with self.state.locked():
            caller = Caller(tenant, member, tenant.roles[member.role_id], api_base)
        if request.method not in READ_METHODS:
            return await self._write(request, caller, path)
        params = dict(request.query_params)
        routed = route(path)
        return await self._with_faults(
            tenant,
            path,
            params,
            lambda force_next: self._answer(request, caller, routed, path, params, force_next),
            routed,
        )

    async def _with_faults(
        self,
        tenant: TenantState,
        path: str,
        params: dict[str, str],
        answer: Callable[[bool], Response],
        routed: Routed | None = None,
    ) -> Response:
        """Apply the tenant's matching faults around the normal ``answer``.

        The first fault that replaces the answer wins; ``mangle`` faults all apply, in the order
        they were added, to the body of the answer.
        """
        force_next = False
        chosen: FaultState | None = None
        mangles: list[Mangle] = []
        is_list = routed is not None and routed.shape == "list"
        page = params.get("page", "1")
        for fault_state in self.state.matching_faults(tenant.company_id, path):
            kind = fault_state.fault.kind
            if kind == "latency":
                if self.state.consume_fault(tenant.company_id, fault_state):
                    await asyncio.sleep(fault_state.fault.seconds)
                continue
            if kind == "broken_paging":
                if not is_list:
                    continue
                if page.isdigit() and int(page) >= 2:
                    if self.state.consume_fault(tenant.company_id, fault_state):
                        return error_response(fault_state.fault.effective_status())
                    continue
                force_next = True  # page 1 always promises a page 2 that will fail
                continue
            if kind == "mangle" and fault_state.fault.mangle is not None:
                if self.state.consume_fault(tenant.company_id, fault_state):
                    mangles.append(fault_state.fault.mangle)
                continue
            if self.state.consume_fault(tenant.company_id, fault_state):
                chosen = fault_state
                break
        if chosen is not None:
            return _fault_response(chosen, lambda: answer(False))
        return _mangled(answer(force_next), mangles) if mangles else answer(force_next)

    def _answer(
        self,
        request: Request,
        caller: Caller,
        routed: Routed | None,
        path: str,
        params: dict[str, str],
        force_next: bool = False,
    ) -> Response:
        if routed is None:
            if path == "/system/info":  # a single object, readable by any authenticated member
                return JSONResponse(render.system_info(caller.tenant))
            return error_response(404)
        collection = routed.collection
        if not caller.may_any(collection.permissions):
            return error_response(
                403, f"You do not have permission to access this resource ({collection.path})."
            )
        with self.state.locked():
            rows = collection.rows(caller, routed.params)
        if rows is None:
            return error_response(
                404, f"{collection.parent} {routed.params.get('parentId')} not found."
            )
        try:
            fields = parse_fields(params.get("fields"))
        except QueryError as exc:
            return error_response(400, str(exc))
        if routed.shape == "item":
            wanted = int(routed.params["id"])
            for row in rows:
                if row.get("id") == wanted:
                    return JSONResponse(row if fields is None else project(row, fields))
            return error_response(404, f"Record {wanted} not found at {path}.")
        try:
            rows = filter_rows(rows, parse_conditions(params.get("conditions")))
            if routed.shape == "count":
                return JSONResponse({"count": len(rows)})
            page = page_of(params, len(rows))
        except QueryError as exc:
            return error_response(
                400,
                "conditions is invalid" if "condition" in str(exc) else str(exc),
                errors=[
                    {"code": "InvalidCondition", "message": str(exc), "resource": path, "field": ""}
                ],
            )
        shown = page.slice(rows)
        if fields is not None:  # after the conditions: they may name fields not shown
            shown = [project(row, fields) for row in shown]
        response = JSONResponse(shown)
        url = str(request.url).split("?", 1)[0]
        response.headers["Link"] = link_header(url, params, page, force_next=force_next)
        return response

    # -- writes -----------------------------------------------------------------------------

    async def _write(self, request: Request, caller: Caller, path: str) -> Response:
        """A POST/PUT/PATCH/DELETE: faults first (as for reads), then 404/405, 403, the write."""
        found = route_write(request.method, path)
        raw = await request.body()

        def answer(persist: bool) -> Response:
            if found is None:
                return error_response(405 if is_served(path) else 404)
            endpoint, params = found
            return self._run_write(caller, endpoint, params, raw, persist=persist)

        tenant = caller.tenant
        chosen: FaultState | None = None
        for fault_state in self.state.matching_faults(tenant.company_id, path, request.method):
            if fault_state.fault.kind == "latency":
                if self.state.consume_fault(tenant.company_id, fault_state):
                    await asyncio.sleep(fault_state.fault.seconds)
                continue
            if fault_state.fault.kind == "broken_paging":
                continue  # a write has no pages
            if self.state.consume_fault(tenant.company_id, fault_state):
                chosen = fault_state
                break
        if chosen is None:
            return answer(True)
        fault = chosen.fault
        if fault.kind == "not_persisted":
            return answer(False)  # answered as if written; the old record stays
        if fault.kind == "validation_error":
            resource = found[0].resource if found else "record"
            return invalid(resource, Problem("InvalidValue", fault.field, fault.message)).response()
        if fault.kind == "error_after_write":
            written = answer(True)
            if written.status_code >= 300:
                return written  # the write itself was refused: nothing landed to hide
            return error_response(fault.effective_status())
        if fault.kind == "timeout_after_write":
            written = answer(True)
            await _until_disconnected(request, fault.seconds or TIMEOUT_FAULT_CAP)
            return written
        return _fault_response(chosen, lambda: answer(True))

    def _run_write(
        self,
        caller: Caller,
        endpoint: WriteEndpoint,
        params: dict[str, str],
        raw: bytes,
        *,
        persist: bool,
    ) -> Response:
        if not caller.may(endpoint.permission):
            return error_response(
                403, f"You do not have permission to change this resource ({endpoint.path})."
            )
        try:
            body = json.loads(raw) if raw.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response(400, "The request body is not valid JSON.")
        request = WriteRequest(caller, params, body, self.state.now_iso())
        try:
            with self.state.writing(caller.tenant, persist=persist):
                status, payload = endpoint.handle(request)
        except Refusal as refusal:
            return refusal.response()
        return JSONResponse(payload, status)


async def _until_disconnected(request: Request, seconds: float) -> None:
    """Wait until the client closes the connection (it timed out), or ``seconds`` pass."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), seconds)


def _status_of(response: Response) -> int:
    return 0 if isinstance(response, _ResetResponse) else response.status_code


def _mangled(normal: Response, mangles: list[Mangle]) -> Response:
    """The answer with its body rewritten by each mangle; an error answer is left alone."""
    if normal.status_code != 200:
        return normal
    body = json.loads(bytes(normal.body))
    for mangle in mangles:
        body = mangle_body(body, mangle)
    mangled = Response(_json_bytes(body), 200, media_type="application/json")
    if "link" in normal.headers:
        mangled.headers["Link"] = normal.headers["link"]
    return mangled


def _fault_response(fault_state: FaultState, answer: Callable[[], Response]) -> Response:
    fault = fault_state.fault
    if fault.kind == "status":
        return error_response(fault.effective_status())
    if fault.kind == "rate_limit":
        # The documented 429 body has "error", not "code" (Developer Guide, "Rate Limiting").
        return JSONResponse(
            {
                "error": "ConnectWiseAPI",
                "message": f"Too many requests. Please try again in {fault.retry_after} seconds.",
            },
            429,
            headers={"Retry-After": str(fault.retry_after)},
        )
    if fault.kind == "html_error":
        status = fault.effective_status()
        return Response(_HTML_ERROR.format(status=status), status, media_type="text/html")
    if fault.kind == "connection_reset":
        return _ResetResponse()
    normal = answer()
    body = bytes(normal.body)
    if fault.kind == "malformed_json":
        return Response(body[: max(1, len(body) // 2)], 200, media_type="application/json")
    # wrong_shape: an object where a list is expected (and a list where an object is)
    payload = json.loads(body)
    wrong = {"items": payload, "count": len(payload)} if isinstance(payload, list) else [payload]
    return Response(_json_bytes(wrong), 200, media_type="application/json")


def create_app(state: SimulatorState) -> Starlette:
    """The simulator ASGI app; serve it with ``serve_asgi``, or use ``httpx.ASGITransport``."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _QUIET_RESETS not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_QUIET_RESETS)
    sim = SimulatorApp(state)
    routes = [
        Route("/login/companyinfo/{company_id}", sim.company_info, methods=["GET"]),
        Route(
            "/{codebase}/apis/3.0/{rest:path}",
            sim.api,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
        *control_routes(state),
    ]
    return Starlette(routes=routes)
