"""What every rule kind shares: its requirement (parameters), the evaluation context, the outcome.

A rule kind is a pydantic model (its parameters, validated when the baseline loads) with an
``evaluate(ctx)`` method that reads only the snapshot in ``ctx``: no I/O, no clock. A kind
ConnectWise lets us write also answers ``remedy(ctx)`` with the write that would fix it
(see ``monitor.core.remedy``); every other kind needs a person, and says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from monitor.core.findings import Severity, Status
from monitor.core.options import TenantOptions
from monitor.core.remedy import PersonNeeded, Remedy, RemedyContext
from monitor.core.snapshot import Snapshot, Value

NOT_SET = "not set"

# ConnectWise's SecurityRoleSetting levels, least to most access (connectwise-api.md §3.2).
LEVELS: tuple[str, ...] = ("None", "My", "All")


def level_rank(level: str) -> int:
    return LEVELS.index(level)


def human(value: Value) -> str:
    """A setting value as people read it in alerts and reports."""
    if value is None:
        return NOT_SET
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A requirement's verdict before the engine adds the rule's metadata and applies waivers.

    ``severity`` overrides the rule's severity for this outcome only (the Admin-role
    least-privilege finding is a warning even though the role rule is ``high``).
    """

    status: Status
    expected: str
    actual: str | None
    keys: tuple[str, ...]
    note: str = ""
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class AdminVerdict:
    """Whether the API member's role is an Admin role, decided once per evaluation."""

    is_admin: bool
    keys: tuple[str, ...]
    judged_by: str = (
        ""  # how Admin was judged when role.* was unreadable; "" when role.admin was read
    )

    @property
    def note(self) -> str:
        """The note on findings the Admin role satisfies."""
        granted = "granted by the Admin role"
        return f"{granted} ({self.judged_by})" if self.judged_by else granted

    @classmethod
    def of(cls, snapshot: Snapshot) -> AdminVerdict:
        role_unknown = snapshot.unknown_reason("role.admin")
        if role_unknown is None:
            is_admin = (
                snapshot.value("role.admin") is True and snapshot.value("role.inactive") is not True
            )
            return cls(is_admin, ("role.admin",))
        # Integration mode may not read /system/securityroles/{id}; the member's role reference
        # still names the role, and ConnectWise ships its all-access role as "Admin".
        if snapshot.unknown_reason("member.role") is not None:
            return cls(False, ())
        name = snapshot.value("member.role")
        is_admin = isinstance(name, str) and name.strip().casefold() == "admin"
        judged_by = (
            "judged by the role name 'Admin' because the role's details could not be read: "
            f"{role_unknown}"
        )
        return cls(is_admin, ("member.role",), judged_by)


@dataclass(frozen=True)
class Context:
    """Everything a requirement may read. ``requirements`` are the baseline's, in order."""

    snapshot: Snapshot
    options: TenantOptions
    admin: AdminVerdict
    requirements: Sequence[Requirement]

    def unknown_reason(self, keys: Sequence[str]) -> str | None:
        """Why the first unreadable key could not be read, or None if all sections were read."""
        for key in keys:
            reason = self.snapshot.unknown_reason(key)
            if reason is not None:
                return reason
        return None

    def unknown(self, expected: str, keys: Sequence[str], reason: str) -> Outcome:
        return Outcome(Status.UNKNOWN, expected, None, tuple(keys), note=f"not readable: {reason}")


@dataclass(frozen=True)
class ActualValues:
    """The values a rule's findings can show as ``actual``: what a waiver may pin.

    ``aliases`` are other spellings people use for them (the UI's names, "true" for "on"); a
    waiver stores the canonical value, since it is compared with the finding's actual exactly.
    """

    values: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, text: str) -> str | None:
        """The canonical value ``text`` names (any case), or None when it names none."""
        folded = text.strip().casefold()
        for value in self.values:
            if value.casefold() == folded:
                return value
        for alias, value in self.aliases.items():
            if alias.casefold() == folded:
                return value
        return None

    def describe(self) -> str:
        """``on, off, not set`` plus the aliases, for an error message."""
        text = ", ".join(repr(v) for v in self.values)
        if self.aliases:
            text += " (or " + ", ".join(f"{a!r} for {v!r}" for a, v in self.aliases.items()) + ")"
        return text


class Requirement(BaseModel):
    """Base of every rule kind's parameters. Subclasses set ``kind`` and implement ``evaluate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    # Whether ConnectWise's API can write what this kind checks (``remedy`` may give a Write).
    writable: ClassVar[bool] = False
    # Why a person must fix this kind, when it is not writable.
    person_reason: ClassVar[str] = "the ConnectWise API cannot write this setting"

    def evaluate(self, ctx: Context) -> Outcome:
        raise NotImplementedError

    def remedy(self, ctx: RemedyContext) -> Remedy:
        """The write that makes this requirement pass, or why a person must do it."""
        return PersonNeeded(self.person_reason)

    def automation_risk(self) -> str | None:
        """Why fixing this must never be automatic, whatever the baseline says (None: it may)."""
        return None

    def actual_values(self) -> ActualValues | None:
        """The values this rule's findings can show as actual; None when any text can appear
        (role names, segment captions), so a waiver's value cannot be checked in advance."""
        return None
