"""Typed ConnectWise records -> the canonical :class:`Snapshot` (pure: no I/O, no clock).

Key and label conventions are documented in monitor/core/snapshot.py; what a missing, ``null``
or wrongly typed field means is decided per field in monitor/connectwise/records.py. Here every
field the records could not read becomes an *unknown* setting (``Snapshot.unknown``) with the
record's reason, and an empty list ConnectWise never answers makes its section unknown. Sources
for the other special cases:

* permission rows are matched by module/function *names* (the identifiers are unpublished,
  ../shared/connectwise-api.md §3.2 and open question 4);
* the Table Setup customize ``itemIdentifier`` format is undocumented (§3.4): a setup screen
  id, a name or "Category / Name" are all accepted;
* AccountingPackageSetup fields and their UI labels are §3.9; GL captions are §3.10.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from monitor.connectwise.raw import RawTenant
from monitor.connectwise.records import (
    ACCOUNTING_SETUP,
    GL_CAPTIONS,
    SETUP_SCREENS,
    AccountingPackageSetup,
    CustomizeItem,
    GLCaption,
    Record,
    SecurityRole,
    SecurityRoleSetting,
    SetupScreen,
    empty_reason,
    find_member,
    record_in_force,
)
from monitor.core.snapshot import Setting, Snapshot, Value, customize_key, permission_key, slug

TABLE_SETUP_CUSTOMIZE = "SystemTableSetup"
GL_SEGMENTS = range(1, 11)

# AccountingPackageSetup (spec 2025.8) field -> UI label (System > Setup Tables > Accounting
# Package), in the order of the API model. accountingPackage itself becomes accounting.package.
ACCOUNTING_FIELDS: dict[str, str] = {
    "directTransferFlag": "Direct Transfer",
    "includeInvoicesFlag": "Include Invoices",
    "invoiceFormat": "Invoice Format",
    "includeExpensesFlag": "Include Expenses",
    "transferExpensesAsBillFlag": "Transfer Expenses as a Bill",
    "expenseFormat": "Expense Format",
    "suppressMemoFlag": "Suppress Memo",
    "syncPaymentInfoFlag": "Sync Payment Info",
    "syncWisePayPaymentInfoFlag": "Sync WisePay Payments",
    "includeSalesTaxFlag": "Include Sales Tax",
    "enableTaxGroupsFlag": "Enable Tax Groups",
    "zeroDollarTaxAmountsFlag": "Zero-Dollar Tax Amounts",
    "includeItemsFlag": "Include Procurement Items",
    "inventorySOHFlag": "Inventory SOH Option",
    "sendComponentAmountFlag": "Send Component Amount",
    "sendUomFlag": "Send UOM",
    "includeCogsEntriesFlag": "Include COGS Entries",
    "includeCogsDropShipFlag": "Include COGS for Drop-Ship",
}

_LEVEL_RANK = {"None": 0, "My": 1, "All": 2}

Unknown = dict[str, str]  # setting key or section -> why it could not be read


def normalize(raw: RawTenant, collected_at: datetime) -> Snapshot:
    """Build the snapshot of one complete tenant read."""
    unknown: Unknown = dict(raw.unknown)
    settings: list[Setting] = []
    settings += _member_settings(raw, unknown)
    settings += _role_settings(raw.role, unknown)
    settings += _permission_settings(raw, unknown)
    if raw.customize_items is not None:
        settings += _customize_settings(raw.customize_items, raw.setup_screens or (), unknown)
    settings += _accounting_settings(raw.accounting_setup, unknown)
    settings += _gl_settings(raw.gl_captions, unknown)
    return Snapshot.build(
        tenant_id=raw.tenant_id,
        collected_at=collected_at,
        credential_mode=raw.mode,
        settings=settings,
        unknown=unknown,
    )


def _read(unknown: Unknown, key: str, label: str, record: Record, field: str) -> list[Setting]:
    """The setting for ``record.field`` (``securityRole.name`` reads inside a reference), or
    nothing and the reason in ``unknown``. Who changed it is the record's ``_info``."""
    value: Value = record.value(field)
    if value is None:  # a field left out, null, or removed for its wrong type: say which
        problem = record.problem(field)
        unknown[key] = problem.reason if problem else f"{field} was not read"
        return []
    by, at = record.provenance()
    return [Setting(key, label, value, by, at)]


# -- member and role -------------------------------------------------------------------------


def _member_settings(raw: RawTenant, unknown: Unknown) -> list[Setting]:
    member = find_member(raw.api_members, raw.integration_member)
    if member is None:
        return [
            Setting("member.identifier", "API member", raw.integration_member),
            Setting("member.found", "API member exists", False),
        ]
    by, at = member.provenance()
    settings = [
        Setting("member.identifier", "API member", member.identifier, by, at),
        Setting("member.found", "API member exists", True, by, at),
        *_read(unknown, "member.inactive", "API member inactive", member, "inactiveFlag"),
    ]
    settings += _read(
        unknown, "member.role", "API member security role", member, "securityRole.name"
    )
    settings += _read(
        unknown, "member.role_id", "API member security role id", member, "securityRole.id"
    )
    return settings


def _role_settings(role: SecurityRole | None, unknown: Unknown) -> list[Setting]:
    if role is None:
        return []
    return [
        *_read(unknown, "role.name", "Security role name", role, "name"),
        *_read(unknown, "role.id", "Security role id", role, "id"),
        *_read(unknown, "role.admin", "Security role is an admin role", role, "adminFlag"),
        *_read(unknown, "role.inactive", "Security role inactive", role, "inactiveFlag"),
    ]


# -- permissions -----------------------------------------------------------------------------


def _permission_settings(raw: RawTenant, unknown: Unknown) -> list[Setting]:
    # The hot loop of a check (~500 settings per tenant): names and provenance are read once
    # per row, keys and labels come from a cache.
    rows = raw.role_settings
    if not rows:
        unknown.setdefault("permission", empty_reason(raw.settings_endpoint))
        return []
    best: dict[str, Setting] = {}
    unread: dict[str, str] = {}
    for row in rows:
        module, function = row.module, row.function
        assert module is not None and function is not None  # records refuse rows without them
        by, at = row.provenance()
        for key, label, field in _permission_names(module, function):
            level = getattr(row, field)
            if level is None:
                problem = row.problem(field, of=f"{module} > {function}")
                unread.setdefault(key, problem.reason if problem else f"{field} was not read")
                continue
            current = best.get(key)
            # Two rows with the same names: keep the most permissive, which is what applies.
            if current is None or _LEVEL_RANK[level] > _LEVEL_RANK[str(current.value)]:
                best[key] = Setting(key, label, level, by, at)
    for key, reason in unread.items():
        # Another row for the same function granting All settles it; anything less may be
        # outranked by the level that could not be read.
        if key not in best or best[key].value != "All":
            best.pop(key, None)
            unknown[key] = reason
    return list(best.values())


@functools.lru_cache(maxsize=4096)  # the same ~120 rows recur in every tenant's role
def _permission_names(module: str, function: str) -> tuple[tuple[str, str, str], ...]:
    """(setting key, label, level field) of each op of one permission row."""
    return tuple(
        (permission_key(module, function, op), f"{module} > {function}: {op.capitalize()}", field)
        for op, field in SecurityRoleSetting.LEVEL_FIELDS
    )


# -- Table Setup customize -------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # the same setup screen names recur in every tenant
def _compact(text: str) -> str:
    """Case/space/punctuation-insensitive form: 'Billing Status' and 'BillingStatus' agree."""
    return slug(text).replace("_", "")


class _ScreenIndex:
    """Look up setup screens by id, by name (when unique) or by "Category / Name"."""

    def __init__(self, screens: Iterable[SetupScreen]) -> None:
        self.by_id: dict[str, tuple[str, str]] = {}
        self.by_full: dict[str, tuple[str, str]] = {}
        self.by_name: dict[str, list[tuple[str, str]]] = {}
        for screen in screens:
            pair = (screen.category.strip(), screen.name.strip())
            self.by_id[str(screen.id)] = pair
            compact_name = _compact(screen.name)
            self.by_full[_compact(screen.category) + "/" + compact_name] = pair
            names = self.by_name.setdefault(compact_name, [])
            if pair not in names:  # the same screen listed twice is still one screen
                names.append(pair)

    def resolve(self, identifier: str) -> tuple[str, str] | list[tuple[str, str]] | None:
        """The screen, the screens a bare name could be (when ambiguous), or None if unknown."""
        text = identifier.strip()
        if text in self.by_id:
            return self.by_id[text]
        if "/" in text:
            category, _, name = text.partition("/")
            found = self.by_full.get(_compact(category) + "/" + _compact(name))
            return found or (category.strip(), name.strip())  # already in UI form
        candidates = self.by_name.get(_compact(text))
        if candidates is None:
            return None
        return candidates[0] if len(candidates) == 1 else candidates


def unresolved_items(items: Iterable[CustomizeItem], screens: tuple[SetupScreen, ...]) -> bool:
    """Whether some Table Setup customize item names no screen of ``screens`` (the check then
    reads the catalogue again: a remembered one may predate the table)."""
    index = _ScreenIndex(screens)
    return any(
        item.customizeIdentifier.casefold() == TABLE_SETUP_CUSTOMIZE.casefold()
        and index.resolve(item.itemIdentifier) is None
        for item in items
    )


def _customize_settings(
    items: Iterable[CustomizeItem], screens: tuple[SetupScreen, ...], unknown: Unknown
) -> list[Setting]:
    if not screens:
        # Items name setup screens; with no catalogue, an allowed table could look missing.
        unknown["customize"] = empty_reason(SETUP_SCREENS)
        return []
    index = _ScreenIndex(screens)
    settings: dict[str, Setting] = {}
    for item in items:
        if item.customizeIdentifier.casefold() != TABLE_SETUP_CUSTOMIZE.casefold():
            continue
        raw_id = item.itemIdentifier.strip()
        found = index.resolve(raw_id)
        if isinstance(found, tuple) and slug(found[0]) and slug(found[1]):
            key = customize_key(*found)
            settings[key] = Setting(key, f"Table Setup > Customize: {found[0]} / {found[1]}", True)
            continue
        key = f"customize.{slug(raw_id) or raw_id}"
        if isinstance(found, list):
            # A bare name shared by two categories is not guessed; it is none of the others.
            options = " or ".join(f"{c} / {n}" for c, n in found)
            label = f"Table Setup > Customize: {raw_id} ({options})"
            settings[key] = Setting(key, label, True)
        else:
            # Not in the catalogue: it may be any table, including one a rule looks for.
            unknown[key] = (
                f"the Table Setup customize item {raw_id[:60]!r} on /system/mySecurity/"
                f"customizeItems/ is not in {SETUP_SCREENS}, so the table it allows is unknown"
            )
    return list(settings.values())


# -- accounting package and GL captions ------------------------------------------------------


def _accounting_settings(
    records: tuple[AccountingPackageSetup, ...], unknown: Unknown
) -> list[Setting]:
    """Every AccountingPackageSetup field the spec defines; unknown fields are ignored."""
    record = record_in_force(records)
    if record is None:
        unknown["accounting"] = empty_reason(ACCOUNTING_SETUP)
        return []
    package = "accountingPackage.identifier"
    settings = _read(unknown, "accounting.package", "Accounting Package", record, package)
    for field, label in ACCOUNTING_FIELDS.items():
        settings += _read(unknown, f"accounting.{field}", label, record, field)
    return settings


def _gl_settings(records: tuple[GLCaption, ...], unknown: Unknown) -> list[Setting]:
    record = record_in_force(records)
    if record is None:
        unknown["gl"] = empty_reason(GL_CAPTIONS)
        return []
    by, at = record.provenance()
    settings: list[Setting] = []

    def caption(field: str) -> str | None:
        """The caption, None when not set; a caption that is not a string is unknown."""
        value = getattr(record, field)
        if value is None:
            problem = record.problem(field)
            if problem is not None and problem.kind == "wrong":
                unknown[f"gl.{field}"] = problem.reason
        return value if isinstance(value, str) else None

    for n in GL_SEGMENTS:
        text = caption(f"segment{n}")
        type_field = f"segment{n}type"
        kind = record.problem(type_field) if getattr(record, type_field) is None else None
        in_use = text is not None and text.strip() != ""
        if in_use or (kind is None and getattr(record, type_field) is not None):
            settings.append(Setting(f"gl.segment{n}", f"Account segment {n}", text, by, at))
        if kind is None:
            settings.append(
                Setting(
                    f"gl.{type_field}",
                    f"Account segment {n} type",
                    getattr(record, type_field),
                    by,
                    at,
                )
            )
        elif in_use or kind.kind == "wrong":
            # A segment in use always has a type; one ConnectWise did not send is unknown.
            unknown[f"gl.{type_field}"] = (
                f"{kind.reason} (segment {n} {text!r} is in use)" if in_use else kind.reason
            )
        cogs = caption(f"cogs{n}")
        if cogs is not None and cogs.strip():
            settings.append(Setting(f"gl.cogs{n}", f"COGS segment {n}", cogs, by, at))
    return settings
