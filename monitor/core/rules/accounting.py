"""Rule kind ``accounting_setting``: one Accounting Package setting has the required value.

``field`` is ``package`` (the Accounting Package dropdown) or an AccountingPackageSetup API
field such as ``transferExpensesAsBillFlag``; the snapshot key is ``accounting.<field>``.
"""

from __future__ import annotations

from pydantic import Field

from monitor.core.findings import Status
from monitor.core.rules.base import NOT_SET, ActualValues, Context, Outcome, Requirement, human

# AccountingPackageSetup.accountingPackage.identifier (spec 2025.8 enum) -> the name in the UI's
# dropdown. The pairing is inferred ([INF] in ../shared/connectwise-api.md §3.9): QB99 is
# QuickBooks, GPlains Dynamics GP, Mas200/Mas200v4 Sage ERP 100 (v4), SBA a legacy package.
ACCOUNTING_PACKAGES: dict[str, str] = {
    "QB99": "QuickBooks",
    "Mas200": "Sage ERP 100",
    "GPlains": "Microsoft Dynamics GP",
    "SBA": "Small Business Accounting",
    "Mas200v4": "Sage ERP 100 v4",
    "Other": "Other",
}
_FLAG_ALIASES = {
    "true": "on",
    "false": "off",
    "enabled": "on",
    "disabled": "off",
    "checked": "on",
    "unchecked": "off",
}


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

    def actual_values(self) -> ActualValues | None:
        """Flags read on/off/not set; the package its identifier, also named as in the UI."""
        if isinstance(self.expected, bool):
            return ActualValues(("on", "off", NOT_SET), _FLAG_ALIASES)
        if self.field == "package":
            names = {name: ident for ident, name in ACCOUNTING_PACKAGES.items() if name != ident}
            return ActualValues((*ACCOUNTING_PACKAGES, NOT_SET), names)
        return None  # other text fields (formats) are free text as far as a waiver goes

    def _not_read(self, value: object) -> str:
        if value is None:
            return f"{self.key} is not among the settings read from ConnectWise"
        return f"{self.key} holds {value!r}, which is not a {type(self.expected).__name__}"
