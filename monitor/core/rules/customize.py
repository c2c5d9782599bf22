"""Rule kind ``customize``: Table Setup > Customize allows the role access to one setup table."""

from __future__ import annotations

from pydantic import Field

from monitor.core.findings import Status
from monitor.core.rules.base import NOT_SET, ActualValues, Context, Outcome, Requirement
from monitor.core.snapshot import customize_key

ALLOWED = "allowed"
NOT_ALLOWED = "not allowed"


class CustomizeRequirement(Requirement):
    kind = "customize"
    person_reason = "ConnectWise has no API endpoint for a role's Table Setup customize list"

    category: str = Field(min_length=1, description="Setup table category, e.g. 'Invoicing'")
    name: str = Field(min_length=1, description="Setup table name, e.g. 'Billing Status'")

    @property
    def key(self) -> str:
        return customize_key(self.category, self.name)

    def evaluate(self, ctx: Context) -> Outcome:
        if ctx.admin.is_admin:
            return Outcome(Status.PASS, ALLOWED, "Admin role", ctx.admin.keys, ctx.admin.note)
        keys = (self.key,)
        reason = ctx.unknown_reason(keys)
        if reason is not None:
            return ctx.unknown(ALLOWED, keys, reason)
        value = ctx.snapshot.value(self.key)
        if value is True:
            return Outcome(Status.PASS, ALLOWED, ALLOWED, keys)
        unread = ctx.snapshot.unknown_settings("customize")
        if unread:
            # An item whose table could not be told may be this one: absence is not proven.
            return ctx.unknown(ALLOWED, (*keys, *unread), next(iter(unread.values())))
        actual = NOT_SET if value is None else NOT_ALLOWED
        return Outcome(Status.FAIL, ALLOWED, actual, keys)

    def actual_values(self) -> ActualValues:
        return ActualValues((NOT_ALLOWED, NOT_SET))
