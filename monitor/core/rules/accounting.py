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
            # A flag is read as true or false, or it is unknown: a missing or null flag is never
            # taken for "off" (connectwise/records.py, AccountingPackageSetup).
            if not isinstance(value, bool):
                return ctx.unknown(want, keys, self._not_read(value))
            passed = value == self.expected
            return Outcome(Status.PASS if passed else Status.FAIL, want, human(value), keys)
        if not isinstance(value, str):
            return ctx.unknown(want, keys, self._not_read(value))
        passed = value.strip().casefold() == self.expected.casefold()
        return Outcome(Status.PASS if passed else Status.FAIL, want, human(value), keys)

    def _not_read(self, value: object) -> str:
        if value is None:
            return f"{self.key} is not among the settings read from ConnectWise"
        return f"{self.key} holds {value!r}, which is not a {type(self.expected).__name__}"
