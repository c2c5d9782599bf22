"""Rule kind ``permission``: the role grants at least ``level`` on one (module, function, op)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from monitor.core.findings import Status
from monitor.core.rules.base import (
    LEVELS,
    NOT_SET,
    ActualValues,
    Context,
    Outcome,
    Requirement,
    level_rank,
)
from monitor.core.snapshot import permission_key

Operation = Literal["add", "edit", "delete", "inquire"]
Level = Literal["None", "My", "All"]


class PermissionRequirement(Requirement):
    kind = "permission"
    person_reason = (
        "role permission rows are read-only in the ConnectWise API (connectwise-api.md §7)"
    )

    module: str = Field(min_length=1, description="Module as shown in the UI, e.g. 'Finance'")
    function: str = Field(min_length=1, description="Function, e.g. 'Accounting Interface'")
    op: Operation
    level: Level

    @property
    def key(self) -> str:
        return permission_key(self.module, self.function, self.op)

    def evaluate(self, ctx: Context) -> Outcome:
        if ctx.admin.is_admin:
            return Outcome(Status.PASS, self.level, "Admin role", ctx.admin.keys, ctx.admin.note)
        keys = (self.key,)
        reason = ctx.unknown_reason(keys)
        if reason is not None:
            return ctx.unknown(self.level, keys, reason)
        actual = ctx.snapshot.value(self.key)
        if actual is None:
            # ConnectWise lists a row for every module function of a role, so a row it did not
            # return was not read; it is not "None" (connectwise/records.py).
            return ctx.unknown(
                self.level,
                keys,
                f"ConnectWise did not list '{self.module} > {self.function}' among the role's "
                "permissions",
            )
        if not isinstance(actual, str) or actual not in LEVELS:
            # Not a ConnectWise level (None/My/All): a normalizer problem, not drift.
            return ctx.unknown(
                self.level, keys, f"unrecognised permission level {actual!r}; expected {LEVELS}"
            )
        passed = level_rank(actual) >= level_rank(self.level)
        return Outcome(Status.PASS if passed else Status.FAIL, self.level, actual, keys)

    def actual_values(self) -> ActualValues:
        # "Mine" is the UI's word for the API's "My" (normalize.py reads both).
        return ActualValues((*LEVELS, NOT_SET), {"Mine": "My"})
