"""Rule kind ``accounting_setting``: one Accounting Package setting has the required value.

``field`` is ``package`` (the Accounting Package dropdown) or an AccountingPackageSetup API
field such as ``transferExpensesAsBillFlag``; the snapshot key is ``accounting.<field>``.

Fixed by ``PATCH /finance/accountingPackageSetup/{id}`` replacing the field (the package:
replacing the whole ``accountingPackage`` reference with ``{"identifier": ...}``, a shape that is
inferred, not documented: connectwise-api.md §7, §10).
"""

from __future__ import annotations

from pydantic import Field

from monitor.core.findings import Status
from monitor.core.remedy import (
    ACCOUNTING_EDIT,
    ACCOUNTING_SETUP,
    FieldChange,
    PatchOperation,
    PersonNeeded,
    Remedy,
    RemedyContext,
    Write,
)
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
# What a PATCH may set: the identifiers above, case-sensitive as in the spec's enum.
PACKAGE_IDENTIFIERS = tuple(ACCOUNTING_PACKAGES)
PACKAGE_SHAPE_INFERRED = (
    'the accountingPackage value {"identifier": ...} is inferred from ConnectWise\'s PATCH rules, '
    "not documented; the re-read decides whether it held"
)


class AccountingSettingRequirement(Requirement):
    kind = "accounting_setting"
    writable = True

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

    def remedy(self, ctx: RemedyContext) -> Remedy:
        record_id = ctx.targets.accounting_setup_id
        if record_id is None:
            return PersonNeeded("ConnectWise returned no Accounting Package setup record to change")
        setting = ctx.snapshot.get(self.key)
        label = setting.label if setting is not None else self.field
        before = setting.value if setting is not None else None
        if self.field != "package":
            operation = PatchOperation("replace", self.field, self.expected)
            change = FieldChange(self.key, self.field, label, before, self.expected)
            return Write(ACCOUNTING_SETUP, record_id, (operation,), (change,), ACCOUNTING_EDIT)
        wanted = str(self.expected).strip().casefold()
        identifier = next((p for p in PACKAGE_IDENTIFIERS if p.casefold() == wanted), None)
        if identifier is None:
            return PersonNeeded(
                f"{self.expected!r} is not one of ConnectWise's package identifiers "
                f"({', '.join(PACKAGE_IDENTIFIERS)})"
            )
        operation = PatchOperation("replace", "accountingPackage", {"identifier": identifier})
        change = FieldChange(self.key, "accountingPackage", label, before, identifier)
        return Write(
            ACCOUNTING_SETUP,
            record_id,
            (operation,),
            (change,),
            ACCOUNTING_EDIT,
            inferred=PACKAGE_SHAPE_INFERRED,
        )

    def automation_risk(self) -> str | None:
        if self.field == "package":
            return (
                "changing the accounting package changes what else ConnectWise transfers to "
                "accounting, which cwdrift cannot see"
            )
        return None

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
