"""Rule kind ``accounting_setting``: one Accounting Package setting has the required value.

``field`` is ``package`` (the Accounting Package dropdown) or an AccountingPackageSetup API
field such as ``transferExpensesAsBillFlag``; the snapshot key is ``accounting.<field>``.
"""

from __future__ import annotations

from pydantic import Field

from monitor.core.findings import Status
from monitor.core.rules.base import Context, Outcome, Requirement, human


class AccountingSettingRequirement(Requirement):
    kind = "accounting_setting"

    field: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$", description="API field, or 'package'")
    expected: bool | str

    @property
    def key(self) -> str:
        return f"accounting.{self.field}"

    def evaluate(self, ctx: Context) -> Outcome:
        keys = (self.key,)
        want = human(self.expected)
        reason = ctx.unknown_reason(keys)
        if reason is not None:
            return ctx.unknown(want, keys, reason)
        value = ctx.snapshot.value(self.key)
        if isinstance(self.expected, bool):
            # ConnectWise flags are nullable; a null flag is an unchecked box in the UI.
            passed = (value is True) == self.expected
            note = "not set, which ConnectWise treats as off" if value is None and passed else ""
            return Outcome(Status.PASS if passed else Status.FAIL, want, human(value), keys, note)
        passed = isinstance(value, str) and value.strip().casefold() == self.expected.casefold()
        return Outcome(Status.PASS if passed else Status.FAIL, want, human(value), keys)
