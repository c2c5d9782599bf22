"""What fixing one failing rule takes (pure data): a ConnectWise write, or a person in the UI.

A rule kind that ConnectWise lets us write (the accounting setup, the API member's role, the GL
segment types; ../shared/connectwise-api.md §7) answers :meth:`Requirement.remedy` with a
:class:`Write`: one ``PATCH`` of JSON Patch operations on one record, objects replaced whole,
never ``PUT``. Every other kind (role permission rows and the Table Setup customize list are
read-only in the API) needs a person, who gets numbered steps made from the rule's
``remediation`` text (:func:`ui_steps`).

Modes (:class:`FixMode`) say what the daemon does when a rule fails: ``report`` only (the
default of every rule), ``approve`` (plan it, a person approves), or ``auto`` (apply at once;
only for rules the baseline marks ``safe_to_automate``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from monitor import permissions
from monitor.core.options import TenantOptions
from monitor.core.snapshot import Snapshot

# The role permission each writable record needs (ConnectWise checks the row's Edit level), and
# the one that finds the expected role's id.
ACCOUNTING_EDIT = permissions.ACCOUNTING_EDIT
MEMBER_EDIT = permissions.MEMBERS_EDIT
ROLES_INQUIRE = permissions.ROLES_INQUIRE

ACCOUNTING_SETUP = "/finance/accountingPackageSetup/{id}"
GL_CAPTIONS = "/finance/glCaptions/{id}"
API_MEMBER = "/system/apiMembers/{id}"

ROLE_PLACEHOLDER = "(the API member's role)"  # as the baseline's remediation texts write it


class FixMode(StrEnum):
    """What the daemon does when a rule fails."""

    REPORT = "report"  # alert only (the default)
    APPROVE = "approve"  # record a pending plan; a person runs `cwdrift fix --approve ID`
    AUTO = "auto"  # apply at once, verify, and stop (alerting) if it did not hold


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One JSON Patch operation as ConnectWise takes it: a top-level, case-sensitive field."""

    op: str
    path: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "value": self.value}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One setting a write moves: from the value read now to the value the baseline wants."""

    key: str  # the snapshot key, e.g. accounting.transferExpensesAsBillFlag
    field: str  # the API field, e.g. transferExpensesAsBillFlag
    label: str
    before: Any  # the value as read (JSON); None: not set
    after: Any  # the value to write (JSON), as it will read back

    def to_json(self) -> dict[str, Any]:
        return {
            "setting": self.key,
            "field": self.field,
            "label": self.label,
            "from": self.before,
            "to": self.after,
        }


@dataclass(frozen=True, slots=True)
class Write:
    """One PATCH of one record. ``endpoint`` is the documented path, ``{id}`` unfilled."""

    endpoint: str
    record_id: int
    operations: tuple[PatchOperation, ...]
    changes: tuple[FieldChange, ...]
    permission: str  # what the write key's role must grant, as the UI names it
    inferred: str = ""  # set when the operation's shape is inferred, not documented

    @property
    def path(self) -> str:
        return self.endpoint.replace("{id}", str(self.record_id))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(change.key for change in self.changes)

    def body(self) -> list[dict[str, Any]]:
        return [operation.to_json() for operation in self.operations]

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "PATCH",
            "endpoint": self.endpoint,
            "path": self.path,
            "record_id": self.record_id,
            "operations": self.body(),
            "changes": [change.to_json() for change in self.changes],
            "permission": self.permission,
            "inferred": self.inferred or None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Write:
        """The inverse of :meth:`to_json` (a stored plan's write)."""
        return cls(
            endpoint=data["endpoint"],
            record_id=int(data["record_id"]),
            operations=tuple(
                PatchOperation(op["op"], op["path"], op.get("value")) for op in data["operations"]
            ),
            changes=tuple(
                FieldChange(c["setting"], c["field"], c["label"], c["from"], c["to"])
                for c in data["changes"]
            ),
            permission=data["permission"],
            inferred=data.get("inferred") or "",
        )


@dataclass(frozen=True, slots=True)
class PersonNeeded:
    """A rule cwdrift will not write; ``reason`` says why (read-only in the API, no safe value)."""

    reason: str


Remedy = Write | PersonNeeded


@dataclass(frozen=True, slots=True)
class RoleOption:
    """A security role a member could be given, as ``/system/securityroles`` lists it."""

    id: int
    name: str
    admin: bool = False
    inactive: bool = False


@dataclass(frozen=True)
class Targets:
    """What a write needs beyond the snapshot: the records' ids and the roles to choose from.

    An id is None when the record was not found; ``roles`` is None when the roles were not read
    (``roles_unread`` says why), so the member's role can only be fixed by a person.
    """

    accounting_setup_id: int | None = None
    gl_captions_id: int | None = None
    api_member_id: int | None = None
    roles: tuple[RoleOption, ...] | None = None
    roles_unread: str = "the security roles were not read"


@dataclass(frozen=True)
class RemedyContext:
    """Everything a requirement's ``remedy`` may read."""

    snapshot: Snapshot
    options: TenantOptions
    targets: Targets = field(default_factory=Targets)


def ui_steps(remediation: str, snapshot: Snapshot | None = None) -> tuple[str, ...]:
    """Numbered-list steps from a baseline ``remediation`` text.

    The texts read ``Menu > Item > ... > Section: action``: the first two parts are the menu,
    ``(the API member's role)`` is the role to open (named when the snapshot knows it), the rest
    of the path is where to go, and the action after the colon is the last step before Save.
    A text without that shape is one step.
    """
    path, colon, action = remediation.partition(":")
    parts = [part.strip() for part in path.split(">") if part.strip()]
    if not colon or len(parts) < 2 or not action.strip():
        return (_sentence(remediation),)
    steps = [f"Open {parts[0]} > {parts[1]}."]
    rest: list[str] = []
    for part in parts[2:]:
        if part.startswith("(") and part.endswith(")"):
            if rest:
                steps.append(f"Go to {' > '.join(rest)}.")
                rest = []
            steps.append(_open_placeholder(part, snapshot))
        else:
            rest.append(part)
    if rest:
        steps.append(f"Go to {' > '.join(rest)}.")
    steps.append(_sentence(action.strip()))
    steps.append("Save.")
    return tuple(steps)


def _open_placeholder(part: str, snapshot: Snapshot | None) -> str:
    what = part[1:-1].strip()
    if part == ROLE_PLACEHOLDER and snapshot is not None:
        role = snapshot.value("member.role")
        if isinstance(role, str) and role.strip():
            return f"Open the role {role.strip()!r} ({what})."
    return f"Open {what}."


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def permissions_needed(writes: Sequence[Write]) -> tuple[str, ...]:
    """The distinct permissions a write key needs for ``writes``, in a stable order."""
    return tuple(sorted({write.permission for write in writes}))
