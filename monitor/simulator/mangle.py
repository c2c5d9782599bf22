"""Rewrite a JSON answer the way a real ConnectWise might differ from its spec (fault ``mangle``).

A :class:`Mangle` names one change to a body: leave a field out, send it as ``null`` or as
another JSON value (``"true"`` for ``true``), empty or truncate a list, duplicate its rows, or
add a field a newer ConnectWise might send. It applies to every row of a list answer (or to the
one object of a single-record answer), or only to the rows matching ``where``. Tests use it to
prove that an unexpected answer is never read as drift (see monitor/connectwise/records.py).

``field`` may name a field inside a reference with a dot: ``securityRole.id``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MangleOp = Literal["drop", "null", "set", "extra", "empty", "duplicate", "truncate"]
_NEEDS_FIELD = ("drop", "null", "set", "extra")


class Mangle(BaseModel):
    """One change to a JSON body. ``value`` is the JSON value ``set`` and ``extra`` write."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: MangleOp
    field: str | None = None
    value: Any = None
    where: dict[str, Any] = Field(default_factory=dict)  # only rows whose fields equal these
    keep: int = Field(default=0, ge=0)  # truncate: how many rows are left

    @model_validator(mode="after")
    def _field_when_needed(self) -> Mangle:
        if self.op in _NEEDS_FIELD and not self.field:
            raise ValueError(f"mangle op {self.op!r} needs a field")
        return self


def mangle_body(payload: Any, mangle: Mangle) -> Any:
    """``payload`` with ``mangle`` applied (a copy: the simulator's records are untouched)."""
    body = copy.deepcopy(payload)
    rows = body if isinstance(body, list) else [body]
    chosen = [row for row in rows if isinstance(row, dict) and _matches(row, mangle.where)]
    if mangle.op == "empty":
        return [] if isinstance(body, list) else {}
    if mangle.op == "truncate":
        return body[: mangle.keep] if isinstance(body, list) else body
    if mangle.op == "duplicate":
        if not isinstance(body, list):
            return body
        return [copy.deepcopy(r) for row in body for r in ([row, row] if row in chosen else [row])]
    assert mangle.field is not None  # checked by the model
    for row in chosen:
        _apply(row, mangle.field.split("."), mangle)
    return body


def _matches(row: dict[str, Any], where: dict[str, Any]) -> bool:
    return all(row.get(key) == value for key, value in where.items())


def _apply(record: dict[str, Any], path: list[str], mangle: Mangle) -> None:
    *parents, name = path
    for part in parents:
        inner = record.get(part)
        if not isinstance(inner, dict):
            return  # nothing to change inside a reference that is not there
        record = inner
    if mangle.op == "drop":
        record.pop(name, None)
    elif mangle.op == "null":
        record[name] = None
    elif mangle.op == "set" or mangle.op == "extra":
        record[name] = copy.deepcopy(mangle.value)
