"""What the simulated API serves: the documented list endpoints (GET, with ``/count`` and
``/{id}`` derived) and the writes, each with the permission ConnectWise checks for it.

Paths are case-sensitive, as documented. Any other method on a served path answers 405: role
settings (``/system/securityRoles/{id}/settings``) and the customize list are read-only in the
API, and PUT is not simulated anywhere.

Permissions (the role row and operation; 403 without it). Where ConnectWise does not say which
row guards an endpoint, the choice is marked [INF]:

==========================================  ================================================
reads of roles / members / setup screens    System > Security Roles / Member Maintenance /
                                            Table Setup: Inquire
reads of the accounting setup, packages     Finance > Accounting Interface *or* System >
and GL captions                             Table Setup: Inquire
PATCH accountingPackageSetup, glCaptions    Finance > Accounting Interface: Edit
PATCH apiMembers                            System > Member Maintenance: Edit
companies                                   Companies > Company Maintenance: Inquire
tickets, notes (GET)                        Service Desk > Service Tickets: Inquire
POST tickets / PATCH tickets                Service Desk > Service Tickets: Add / Edit
POST notes                                  Service Desk > Service Tickets: Edit [INF]
boards, statuses, types, priorities         Service Desk > Service Tickets *or* System >
                                            Table Setup: Inquire [INF: the ticket-inquiry
                                            route that /service/info/boards uses, or the
                                            "Service / Service Board" setup table]
==========================================  ================================================

Moving a ticket to a closed status does not check Service Desk > Close Service Tickets (a real
tenant may; unverified).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from monitor.simulator import render, tickets, writes
from monitor.simulator.access import Caller, Permission

Json = dict[str, Any]
Rows = Callable[[Caller, dict[str, str]], list[Json] | None]  # None: parent not found


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", path))


@dataclass(frozen=True)
class Collection:
    """A documented list endpoint; ``/count`` and ``/{id}`` are derived unless not ``items``."""

    path: str  # as documented, e.g. "/system/securityRoles/{parentId}/settings"
    rows: Rows
    permissions: tuple[Permission, ...]  # any one of these; none: every member may read
    items: bool = True
    parent: str = "Record"  # what ``{parentId}`` names, for the 404

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return _pattern(self.path)


@dataclass(frozen=True)
class WriteEndpoint:
    method: str
    path: str  # "/service/tickets/{parentId}/notes"
    resource: str  # as ConnectWise names it in "<resource> object is invalid"
    permission: Permission
    handle: writes.Handler

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return _pattern(self.path)


_SECURITY = (Permission("System", "Security Roles"),)
_MEMBERS = (Permission("System", "Member Maintenance"),)
_ACCOUNTING = (Permission("Finance", "Accounting Interface"), Permission("System", "Table Setup"))
_TABLES = (Permission("System", "Table Setup"),)
_COMPANIES = (Permission("Companies", "Company Maintenance"),)
_TICKETS = (Permission("Service Desk", "Service Tickets"),)
_BOARDS = (Permission("Service Desk", "Service Tickets"), Permission("System", "Table Setup"))


def _roles(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.role(r) for r in sorted(caller.tenant.roles.values(), key=lambda r: r.id)]


def _role_settings(caller: Caller, params: dict[str, str]) -> list[Json] | None:
    owner = caller.tenant.roles.get(int(params["parentId"]))
    if owner is None:
        return None
    return [render.setting(s, owner) for s in owner.settings.values()]


def _my_security(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [
        render.my_security(s, caller.role, caller.member, caller.api_base)
        for s in caller.role.settings.values()
    ]


def _my_customize(caller: Caller, _: dict[str, str]) -> list[Json]:
    return render.customize_items(caller.role, caller.tenant.item_format, caller.tenant.screens)


def _setup_screens(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.setup_screen(s) for s in caller.tenant.screens]


def _api_members(caller: Caller, _: dict[str, str]) -> list[Json]:
    members = sorted(caller.tenant.members.values(), key=lambda m: m.id)
    return [render.api_member(m, caller.tenant, caller.api_base) for m in members]


def _members(caller: Caller, _: dict[str, str]) -> list[Json]:
    members = sorted(caller.tenant.members.values(), key=lambda m: m.id)
    return [render.member(m, caller.tenant, caller.api_base) for m in members]


def _accounting_setup(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.accounting_setup(caller.tenant, caller.api_base)]


def _accounting_packages(caller: Caller, _: dict[str, str]) -> list[Json]:
    return render.accounting_packages()


def _gl_captions(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.gl_captions(caller.tenant)]


def _companies(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.company(c) for c in sorted(caller.tenant.desk.companies, key=lambda c: c.id)]


def _boards(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.board(b) for b in sorted(caller.tenant.desk.boards, key=lambda b: b.id)]


def _board_statuses(caller: Caller, params: dict[str, str]) -> list[Json] | None:
    board = next((b for b in caller.tenant.desk.boards if b.id == int(params["parentId"])), None)
    if board is None:
        return None
    statuses = sorted(board.statuses, key=lambda s: s.id)
    return [render.board_status(s, board, caller.api_base) for s in statuses]


def _board_types(caller: Caller, params: dict[str, str]) -> list[Json] | None:
    board = next((b for b in caller.tenant.desk.boards if b.id == int(params["parentId"])), None)
    if board is None:
        return None
    types = sorted(board.types, key=lambda t: t.id)
    return [render.service_type(t, board, caller.api_base) for t in types]


def _priorities(caller: Caller, _: dict[str, str]) -> list[Json]:
    return [render.priority(p) for p in sorted(caller.tenant.desk.priorities, key=lambda p: p.id)]


def _tickets(caller: Caller, _: dict[str, str]) -> list[Json]:
    desk = caller.tenant.desk
    return [render.ticket(desk.tickets[i], desk, caller.api_base) for i in sorted(desk.tickets)]


def _ticket_notes(caller: Caller, params: dict[str, str]) -> list[Json] | None:
    ticket = caller.tenant.desk.tickets.get(int(params["parentId"]))
    if ticket is None:
        return None
    return [render.note(n, caller.api_base) for n in ticket.notes]


COLLECTIONS: tuple[Collection, ...] = (
    Collection("/system/securityroles", _roles, _SECURITY),
    Collection(
        "/system/securityRoles/{parentId}/settings",
        _role_settings,
        _SECURITY,
        parent="Security role",
    ),
    Collection("/system/mySecurity/customizeItems/", _my_customize, (), items=False),
    Collection("/system/mySecurity", _my_security, (), items=False),
    Collection("/system/setupScreens", _setup_screens, _TABLES),
    Collection("/system/apiMembers", _api_members, _MEMBERS),
    Collection("/system/members", _members, _MEMBERS),
    Collection("/finance/accountingPackageSetup", _accounting_setup, _ACCOUNTING),
    Collection("/finance/accountingPackages", _accounting_packages, _ACCOUNTING),
    Collection("/finance/glCaptions", _gl_captions, _ACCOUNTING),
    Collection("/company/companies", _companies, _COMPANIES),
    Collection("/service/boards", _boards, _BOARDS),
    Collection("/service/boards/{parentId}/statuses", _board_statuses, _BOARDS, parent="Board"),
    Collection("/service/boards/{parentId}/types", _board_types, _BOARDS, parent="Board"),
    Collection("/service/priorities", _priorities, _BOARDS),
    Collection("/service/tickets", _tickets, _TICKETS),
    Collection("/service/tickets/{parentId}/notes", _ticket_notes, _TICKETS, parent="Ticket"),
)

_EDIT_ACCOUNTING = Permission("Finance", "Accounting Interface", "edit")
WRITES: tuple[WriteEndpoint, ...] = (
    WriteEndpoint(
        "PATCH", "/finance/accountingPackageSetup/{id}", writes.ACCOUNTING_FIELDS.resource,
        _EDIT_ACCOUNTING, writes.patch_accounting_setup,
    ),
    WriteEndpoint(
        "PATCH", "/finance/glCaptions/{id}", writes.GL_CAPTION_FIELDS.resource, _EDIT_ACCOUNTING,
        writes.patch_gl_captions,
    ),
    WriteEndpoint(
        "PATCH", "/system/apiMembers/{id}", writes.API_MEMBER_FIELDS.resource,
        Permission("System", "Member Maintenance", "edit"), writes.patch_api_member,
    ),
    WriteEndpoint(
        "POST", "/service/tickets", "ticket", Permission("Service Desk", "Service Tickets", "add"),
        tickets.create_ticket,
    ),
    WriteEndpoint(
        "PATCH", "/service/tickets/{id}", "ticket",
        Permission("Service Desk", "Service Tickets", "edit"), tickets.patch_ticket,
    ),
    WriteEndpoint(
        "POST", "/service/tickets/{parentId}/notes", "serviceNote",
        Permission("Service Desk", "Service Tickets", "edit"), tickets.create_note,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Routed:
    collection: Collection
    shape: str  # "list" | "count" | "item"
    params: dict[str, str]


def route(path: str) -> Routed | None:
    """Match a path after ``apis/3.0`` (case-sensitive, as documented) to a collection."""
    if path == "/system/mySecurity/customizeItems":  # documented with a trailing slash; accept both
        path += "/"
    for collection in COLLECTIONS:
        match = collection.pattern.match(path)
        if match is None:
            continue
        params = match.groupdict()
        rest = path[match.end() :]
        if rest == "":
            return Routed(collection, "list", params)
        if not collection.items:
            continue
        if rest == "/count":
            return Routed(collection, "count", params)
        item = re.fullmatch(r"/(\d+)", rest)
        if item is not None:
            return Routed(collection, "item", {**params, "id": item.group(1)})
    return None


def route_write(method: str, path: str) -> tuple[WriteEndpoint, dict[str, str]] | None:
    for endpoint in WRITES:
        match = endpoint.pattern.fullmatch(path)
        if match is not None and endpoint.method == method:
            return endpoint, match.groupdict()
    return None


def endpoint_of(path: str) -> str:
    """The documented form of a path (``/service/tickets/{id}``), for counting writes."""
    for endpoint in WRITES:
        if endpoint.pattern.fullmatch(path):
            return endpoint.path
    routed = route(path)
    if routed is None:
        return path
    suffix = {"list": "", "count": "/count", "item": "/{id}"}[routed.shape]
    return routed.collection.path + suffix


def is_served(path: str) -> bool:
    """Whether some method is served on ``path`` (another method then answers 405, not 404)."""
    return (
        path == "/system/info"
        or route(path) is not None
        or any(w.pattern.fullmatch(path) for w in WRITES)
    )
