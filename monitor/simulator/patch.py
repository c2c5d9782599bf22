"""ConnectWise PATCH bodies: a JSON array of ``{"op", "path", "value"}`` (Developer Guide;
../shared/connectwise-api.md §7).

What the simulator accepts, where ConnectWise's documentation is silent:

* ``op`` is ``add``, ``replace`` or ``remove``, lower case (RFC 6902's ``move``/``copy``/``test``
  are not in ConnectWise's list and are refused). On a top-level field ``add`` is ``replace``, as
  in RFC 6902 for an existing member; ``remove`` clears the field (null) or is refused for a
  required one. ``value`` is required for add/replace.
* ``path`` is a case-sensitive top-level field name, written ``transferExpensesAsBillFlag`` (as
  ConnectWise's own examples do) or ``/transferExpensesAsBillFlag`` (as RFC 6902 does).
* A sub-path (``status/name``, ``/securityRole/id``) is the documented trap: ConnectWise "may
  answer a false 200". The simulator models it that way: an operation on a sub-path of a real
  field is answered 200 and **not persisted**, while the request's top-level operations are
  applied. A sub-path of an unknown field is refused like any unknown field.
* The operations of one request are checked together: one problem refuses the whole request, and
  nothing is persisted. They are then applied in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.simulator.responses import FieldProblem, Problem, invalid

OPS = ("add", "replace", "remove")


@dataclass(frozen=True)
class Operation:
    op: str
    field: str  # the top-level field name
    value: Any  # None for remove
    sub_path: bool  # "field/rest": answered 200 by ConnectWise but not persisted

    @property
    def removes(self) -> bool:
        return self.op == "remove"


def parse_patch(body: Any, resource: str) -> list[Operation]:
    """The operations of a PATCH body; a malformed body or operation refuses the request (400)."""
    if not isinstance(body, list):
        raise invalid(
            resource,
            Problem(
                "InvalidOperation",
                "",
                'A PATCH body is a JSON array of operations, e.g. [{"op": "replace", '
                '"path": "summary", "value": "..."}].',
            ),
        )
    operations: list[Operation] = []
    problems: list[Problem] = []
    for index, item in enumerate(body):
        where = f"operation {index}"
        if not isinstance(item, dict):
            problems.append(Problem("InvalidOperation", "", f"{where} is not an object."))
            continue
        op, path = item.get("op"), item.get("path")
        if op not in OPS:
            problems.append(
                Problem("InvalidOperation", "", f"{where}: op must be add, replace or remove.")
            )
            continue
        if not isinstance(path, str) or path.strip("/") == "":
            problems.append(Problem("InvalidPath", "", f"{where}: path must name a field."))
            continue
        if op != "remove" and "value" not in item:
            field = path.lstrip("/").split("/", 1)[0]
            problems.append(Problem("Required", field, f"{where}: {op} needs a value."))
            continue
        field, slash, _rest = path.removeprefix("/").partition("/")
        value = None if op == "remove" else item["value"]
        operations.append(Operation(op=op, field=field, value=value, sub_path=bool(slash)))
    if problems:
        raise invalid(resource, *problems)
    return operations


@dataclass(frozen=True)
class Fields:
    """The top-level fields of one record type, as a PATCH sees them."""

    resource: str  # as ConnectWise names it in errors: "ticket", "apiMember"
    writable: frozenset[str]
    read_only: frozenset[str] = frozenset({"id", "_info"})
    not_simulated: frozenset[str] = frozenset()  # real fields the simulator does not write

    def applies(self, operation: Operation) -> bool:
        """True when ``operation`` is to be applied; False for a sub-path of a real field (the
        false 200: answered, not persisted). Raises FieldProblem for anything else."""
        field = operation.field
        if field not in self.writable | self.read_only | self.not_simulated:
            raise FieldProblem(
                "UnknownField",
                field,
                f"{self.resource} has no field {field!r} (field names are case-sensitive).",
            )
        if operation.sub_path:
            return False
        if field in self.read_only:
            raise FieldProblem("ReadOnly", field, f"{field} is read-only.")
        if field in self.not_simulated:
            raise FieldProblem(
                "NotSupported", field, f"The simulator does not write {self.resource}.{field}."
            )
        return True
