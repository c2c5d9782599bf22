"""PATCH on the setup records remediation may fix (../shared/connectwise-api.md §7):
``/finance/accountingPackageSetup/{id}``, ``/system/apiMembers/{id}``, ``/finance/glCaptions/{id}``.

Each handler gets a ``WriteRequest`` (the caller, the path's ids, the parsed JSON body and the
simulator clock), checks every operation (see ``patch.py`` for the body's form), refuses with
every problem at once (400 ``InvalidObject``, see ``responses.py``) or applies them in order,
stamps ``_info`` with the writing member's identifier and the clock, and answers 200 with the
full record, as a GET would now show it. Permissions (403) are checked before a handler runs.

Object-valued fields are replaced whole, and the simulator's choices where ConnectWise is silent
(§7, §10 question 11) are:

* ``accountingPackage``: ``{"identifier": "Other"}`` or ``{"id": 6}`` (resolved against
  ``/finance/accountingPackages``; identifiers are the spec's case-sensitive enum); with both, they
  must name the same package; ``name`` is ignored. A bare string is refused (InvalidType).
* ``securityRole``: ``{"id": N}`` or ``{"id": N, "name": ...}``; the id must be a role of the
  tenant (NotFound otherwise) and a name, when given, must be that role's (case-insensitive).
  A name alone is refused (Required: ``id``), since role names are not unique keys.
* ``remove`` clears a nullable field (a flag or format of the accounting setup, a GL caption or
  type); cleared fields are omitted from the record, as ConnectWise omits nulls. Removing a
  required field (``accountingPackage``, ``securityRole``, a member's ``name``) is refused.
* An operation whose value equals the current one is still a write: ``_info`` is stamped.
* PUT is not simulated (405), though ConnectWise documents it here; cwdrift never PUTs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.simulator import render
from monitor.simulator.access import Caller
from monitor.simulator.catalog import ACCOUNTING_PACKAGES
from monitor.simulator.patch import Fields, parse_patch
from monitor.simulator.responses import FieldProblem, Problems, not_found
from monitor.simulator.scenario import (
    COMPLIANT_ACCOUNTING,
    GL_FIELDS,
    FieldValueError,
    check_accounting_value,
    check_gl_value,
)
from monitor.simulator.state import RoleState

Json = dict[str, Any]
API_MEMBER_NAME_MAX = 30  # spec: "Max length: 30; Required On Updates;"


@dataclass(frozen=True)
class WriteRequest:
    """One authenticated write: who, on which ids of the path, with what body, and when."""

    caller: Caller
    params: dict[str, str]
    body: Any
    now: str  # ISO "...Z", the simulator's clock

    @property
    def by(self) -> str:
        return self.caller.member.identifier

    def stamp(self) -> dict[str, str]:
        return {"lastUpdated": self.now, "updatedBy": self.by}

    def record_id(self, name: str = "id") -> int:
        return int(self.params[name])


Handler = Callable[[WriteRequest], tuple[int, Json]]


# -- value checks shared by every write ---------------------------------------------------------


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text(field: str, value: object, max_length: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise FieldProblem("Required", field, f"{field} is required.")
        return None
    if not isinstance(value, str):
        raise FieldProblem("InvalidType", field, f"{field} must be a string.")
    if required and not value.strip():
        raise FieldProblem("Required", field, f"{field} is required.")
    if len(value) > max_length:
        raise FieldProblem(
            "InvalidValue", field, f"{field} is at most {max_length} characters, got {len(value)}."
        )
    return value


def flag(field: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise FieldProblem("InvalidType", field, f"{field} must be true or false.")
    return value


def reference(field: str, value: object, example: str) -> dict[str, Any]:
    """A reference object, replaced whole: anything else is refused with an example."""
    if not isinstance(value, dict):
        raise FieldProblem(
            "InvalidType", field, f"{field} is an object, replaced whole, e.g. {example}."
        )
    return value


def _checked(check: Callable[..., None], field: str, value: object, **options: bool) -> None:
    """Run one of scenario.py's value checks, as a field problem of this write."""
    try:
        check(field, value, **options)
    except FieldValueError as exc:
        raise FieldProblem(exc.code, field, str(exc)) from None


# -- /finance/accountingPackageSetup/{id} -------------------------------------------------------

ACCOUNTING_FIELDS = Fields(
    "accountingPackageSetup", frozenset({"accountingPackage", *COMPLIANT_ACCOUNTING})
)


def _package(value: object) -> str:
    ref = reference("accountingPackage", value, '{"identifier": "Other"} or {"id": 6}')
    package_id, identifier = ref.get("id"), ref.get("identifier")
    by_id = {pid: ident for pid, ident, _ in ACCOUNTING_PACKAGES}
    field = "accountingPackage"
    if package_id is None and identifier is None:
        raise FieldProblem("Required", field, f"{field} needs an identifier or an id.")
    if package_id is not None:
        if not is_int(package_id):
            raise FieldProblem("InvalidType", field, f"{field}.id must be an integer.")
        if package_id not in by_id:
            raise FieldProblem(
                "NotFound", field, f"Accounting package {package_id} does not exist."
            )
    if identifier is not None:
        if identifier not in by_id.values():
            raise FieldProblem(
                "InvalidValue",
                field,
                f"{field}.identifier must be one of {', '.join(by_id.values())}, "
                f"got {identifier!r}.",
            )
        if package_id is not None and by_id[package_id] != identifier:
            raise FieldProblem(
                "InvalidValue",
                field,
                f"{field} id {package_id} is {by_id[package_id]!r}, not {identifier!r}.",
            )
        return str(identifier)
    assert package_id is not None  # neither given was refused above
    return by_id[package_id]


def patch_accounting_setup(request: WriteRequest) -> tuple[int, Json]:
    tenant = request.caller.tenant
    if request.record_id() != 1:  # one setup record per tenant, id 1
        raise not_found(f"AccountingPackageSetup {request.record_id()}")
    problems = Problems(ACCOUNTING_FIELDS.resource)
    changes: list[tuple[str, Any]] = []
    for op in parse_patch(request.body, ACCOUNTING_FIELDS.resource):
        with problems.catch():
            if not ACCOUNTING_FIELDS.applies(op):
                continue
            if op.field == "accountingPackage":
                if op.removes:
                    raise FieldProblem("Required", op.field, "accountingPackage is required.")
                changes.append((op.field, _package(op.value)))
            else:
                _checked(check_accounting_value, op.field, op.value, nullable=True)
                changes.append((op.field, op.value))
    problems.raise_if_any()
    for field, value in changes:
        if field == "accountingPackage":
            tenant.package = value
        else:
            tenant.accounting[field] = value
    if changes:
        tenant.accounting_info = request.stamp()
    return 200, render.accounting_setup(tenant, request.caller.api_base)


# -- /finance/glCaptions/{id} -------------------------------------------------------------------

GL_CAPTION_FIELDS = Fields("glCaption", frozenset(GL_FIELDS))


def patch_gl_captions(request: WriteRequest) -> tuple[int, Json]:
    tenant = request.caller.tenant
    if request.record_id() != 1:
        raise not_found(f"GLCaption {request.record_id()}")
    problems = Problems(GL_CAPTION_FIELDS.resource)
    changes: list[tuple[str, Any]] = []
    for op in parse_patch(request.body, GL_CAPTION_FIELDS.resource):
        with problems.catch():
            if GL_CAPTION_FIELDS.applies(op):
                _checked(check_gl_value, op.field, op.value)
                changes.append((op.field, op.value))
    problems.raise_if_any()
    for field, value in changes:
        tenant.gl[field] = value
    if changes:
        tenant.gl_info = request.stamp()
    return 200, render.gl_captions(tenant)


# -- /system/apiMembers/{id} --------------------------------------------------------------------

API_MEMBER_FIELDS = Fields(
    "apiMember",
    writable=frozenset({"securityRole", "name", "inactiveFlag"}),
    read_only=frozenset({"id", "_info", "inactiveDate"}),
    not_simulated=frozenset(
        {
            "identifier",
            "emailAddress",
            "timeZone",
            "structureLevel",
            "securityLocation",
            "defaultLocation",
            "defaultDepartment",
            "salesDefaultLocation",
            "serviceDefaultBoard",
            "notes",
            "excludedServiceBoardIds",
            "blockPriceFlag",
            "blockCostFlag",
        }
    ),
)


def _security_role(request: WriteRequest, value: object) -> RoleState:
    ref = reference("securityRole", value, '{"id": 27}')
    role_id, name = ref.get("id"), ref.get("name")
    if role_id is None:
        raise FieldProblem("Required", "securityRole", "securityRole.id is required.")
    if not is_int(role_id):
        raise FieldProblem("InvalidType", "securityRole", "securityRole.id must be an integer.")
    role = request.caller.tenant.roles.get(role_id)
    if role is None:
        raise FieldProblem("NotFound", "securityRole", f"Security role {role_id} does not exist.")
    if name is not None and (not isinstance(name, str) or name.casefold() != role.name.casefold()):
        raise FieldProblem(
            "InvalidValue",
            "securityRole",
            f"securityRole name {name!r} is not the name of role {role_id} ({role.name!r}).",
        )
    return role


def patch_api_member(request: WriteRequest) -> tuple[int, Json]:
    tenant = request.caller.tenant
    member = tenant.member_by_id(request.record_id())
    if member is None:
        raise not_found(f"API member {request.record_id()}")
    problems = Problems(API_MEMBER_FIELDS.resource)
    changes: list[tuple[str, Any]] = []
    for op in parse_patch(request.body, API_MEMBER_FIELDS.resource):
        with problems.catch():
            if not API_MEMBER_FIELDS.applies(op):
                continue
            if op.field == "securityRole":
                if op.removes:
                    raise FieldProblem("Required", op.field, "securityRole is required.")
                changes.append((op.field, _security_role(request, op.value).id))
            elif op.field == "name":
                name = text(op.field, op.value, API_MEMBER_NAME_MAX, required=True)
                changes.append((op.field, name))
            else:  # inactiveFlag; removing it clears it (active)
                changes.append((op.field, bool(flag(op.field, op.value))))
    problems.raise_if_any()
    if changes:
        stamp = request.stamp()
        for field, value in changes:
            if field == "securityRole":
                member.role_id = value
            elif field == "name":
                member.name = value
            else:
                member.set_inactive(value, stamp)
        member.info = stamp
    return 200, render.api_member(member, tenant, request.caller.api_base)
