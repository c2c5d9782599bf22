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
from monitor.core.rules.base import Context, Outcome, Requirement, human

# AccountingPackageReference.identifier, spec 2025.8 (connectwise-api.md §3.9): case-sensitive.
PACKAGE_IDENTIFIERS = ("QB99", "Mas200", "GPlains", "SBA", "Mas200v4", "Other")
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
            # ConnectWise flags are nullable; a null flag is an unchecked box in the UI.
            passed = (value is True) == self.expected
            note = "not set, which ConnectWise treats as off" if value is None and passed else ""
            return Outcome(Status.PASS if passed else Status.FAIL, want, human(value), keys, note)
        passed = isinstance(value, str) and value.strip().casefold() == self.expected.casefold()
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
