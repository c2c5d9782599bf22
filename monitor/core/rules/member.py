"""Rule kind ``member_active``: the integration API member exists and is not inactive."""

from __future__ import annotations

from monitor.core.findings import Status
from monitor.core.rules.base import ActualValues, Context, Outcome, Requirement

EXPECTED = "exists and active"
KEYS = ("member.found", "member.inactive")
NOT_FOUND, INACTIVE = "not found", "inactive"


class MemberActiveRequirement(Requirement):
    kind = "member_active"
    person_reason = (
        "cwdrift does not create or reactivate API members: a new member also needs API keys"
    )

    def evaluate(self, ctx: Context) -> Outcome:
        reason = ctx.unknown_reason(KEYS)
        if reason is not None:
            return ctx.unknown(EXPECTED, KEYS, reason)
        identifier = ctx.snapshot.value("member.identifier")
        who = f"API member {identifier!r}" if identifier else "the API member"
        if ctx.snapshot.value("member.found") is not True:
            return Outcome(Status.FAIL, EXPECTED, NOT_FOUND, KEYS, f"{who} was not found")
        if ctx.snapshot.value("member.inactive") is True:
            return Outcome(Status.FAIL, EXPECTED, INACTIVE, KEYS, f"{who} is marked inactive")
        return Outcome(Status.PASS, EXPECTED, "active", KEYS)

    def actual_values(self) -> ActualValues:
        return ActualValues((NOT_FOUND, INACTIVE))
