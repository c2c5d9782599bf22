"""Raw ConnectWise payloads -> the canonical :class:`Snapshot` (pure: no I/O, no clock).

Key and label conventions are documented in monitor/core/snapshot.py. Sources for the special cases:

* permission rows are matched by module/function *names* (the identifiers are unpublished,
  ../shared/connectwise-api.md §3.2 and open question 4); levels are "None" | "My" | "All",
  null meaning "None", and the UI's "Mine" is the API's "My";
* the Table Setup customize ``itemIdentifier`` format is undocumented (§3.4): a setup screen
  id, a name or "Category / Name" are all accepted;
* AccountingPackageSetup fields and their UI labels are §3.9; GL captions are §3.10.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from monitor.connectwise.raw import Json, RawTenant
from monitor.core.snapshot import (
    CredentialMode,
    Setting,
    Snapshot,
    customize_key,
    permission_key,
    slug,
)
from monitor.errors import MalformedResponse

TABLE_SETUP_CUSTOMIZE = "SystemTableSetup"
OPS = ("add", "edit", "delete", "inquire")
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
_NOT_SETTINGS = frozenset({"id", "accountingPackage", "_info"})

_LEVELS = {"none": "None", "my": "My", "mine": "My", "all": "All"}
# What ConnectWise sends almost always; anything else goes through normalize_level.
_EXACT_LEVELS = {None: "None", "None": "None", "My": "My", "All": "All"}
# (op, SecurityRoleSetting field), e.g. ("add", "addLevel").
_LEVEL_FIELDS = tuple((op, f"{op}Level") for op in OPS)
_LEVEL_RANK = {"None": 0, "My": 1, "All": 2}


def normalize(raw: RawTenant, collected_at: datetime) -> Snapshot:
    """Build the snapshot of one complete tenant read."""
    settings: list[Setting] = []
    settings += _member_settings(raw)
    settings += _role_settings(raw.role)
    settings += _permission_settings(raw.role_settings, endpoint=_settings_endpoint(raw))
    if raw.customize_items is not None:
        settings += _customize_settings(raw.customize_items, raw.setup_screens or [])
    settings += _accounting_settings(raw.accounting_setup)
    settings += _gl_settings(raw.gl_captions)
    return Snapshot.build(
        tenant_id=raw.tenant_id,
        collected_at=collected_at,
        credential_mode=raw.mode,
        settings=settings,
        unknown=raw.unknown,
    )


def _settings_endpoint(raw: RawTenant) -> str:
    if raw.mode is CredentialMode.INTEGRATION:
        return "/system/mySecurity"
    return "/system/securityRoles/{id}/settings"


# -- provenance ------------------------------------------------------------------------------


def _info(record: Json) -> tuple[str | None, str | None]:
    """(updatedBy, lastUpdated) from a record's ``_info`` map, when ConnectWise gave them."""
    info = record.get("_info")
    if not isinstance(info, dict):
        return None, None
    by, at = info.get("updatedBy"), info.get("lastUpdated")
    return (by if isinstance(by, str) else None, at if isinstance(at, str) else None)


def _setting(key: str, label: str, value: Any, source: Json | None = None) -> Setting:
    by, at = _info(source) if source is not None else (None, None)
    return Setting(key=key, label=label, value=_scalar(value), updated_by=by, last_updated=at)


def _scalar(value: Any) -> str | bool | int | None:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return str(value)


# -- member and role -------------------------------------------------------------------------


def find_member(api_members: Iterable[Json], identifier: str) -> Json | None:
    """The API member whose identifier equals ``identifier`` (case-insensitive), if any."""
    wanted = identifier.casefold()
    for member in api_members:
        found = member.get("identifier")
        if isinstance(found, str) and found.casefold() == wanted:
            return member
    return None


def _member_settings(raw: RawTenant) -> list[Setting]:
    member = find_member(raw.api_members, raw.integration_member)
    if member is None:
        return [
            _setting("member.identifier", "API member", raw.integration_member),
            _setting("member.found", "API member exists", False),
        ]
    reference = member.get("securityRole")
    role: Json = reference if isinstance(reference, dict) else {}
    return [
        _setting("member.identifier", "API member", member.get("identifier"), member),
        _setting("member.found", "API member exists", True, member),
        _setting("member.inactive", "API member inactive", member.get("inactiveFlag"), member),
        _setting("member.role", "API member security role", role.get("name"), member),
        _setting("member.role_id", "API member security role id", role.get("id"), member),
    ]


def _role_settings(role: Json | None) -> list[Setting]:
    if role is None:
        return []
    return [
        _setting("role.name", "Security role name", role.get("name"), role),
        _setting("role.id", "Security role id", role.get("id"), role),
        _setting("role.admin", "Security role is an admin role", role.get("adminFlag"), role),
        _setting("role.inactive", "Security role inactive", role.get("inactiveFlag"), role),
    ]


# -- permissions -----------------------------------------------------------------------------


def normalize_level(value: Any, *, where: str, endpoint: str) -> str:
    """A SecurityRoleSetting level as "None" | "My" | "All" (null is "None", "Mine" is "My")."""
    if value is None:
        return "None"
    if isinstance(value, str):
        level = _LEVELS.get(value.strip().lower())
        if level is not None:
            return level
    # An unknown level would otherwise be compared as drift; treat it as a read we cannot trust.
    raise MalformedResponse(
        f"unexpected permission level {str(value)[:20]!r} in {where}",
        endpoint=endpoint,
        fix="ConnectWise may have changed its levels; report this so cwdrift can learn the value",
    )


def _name(row: Json, primary: str, fallback: str) -> str | None:
    for field in (primary, fallback):
        value = row.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _permission_settings(rows: Iterable[Json], *, endpoint: str) -> list[Setting]:
    # The hot loop of a check (~500 settings per tenant): names and provenance are read once
    # per row, keys and labels come from a cache, and exact level spellings skip normalize_level.
    best: dict[str, Setting] = {}
    for row in rows:
        module = _name(row, "moduleName", "moduleDescription")
        function = _name(row, "moduleFunctionName", "moduleFunctionDescription")
        if module is None or function is None:
            raise MalformedResponse(
                f"a security role row (id {row.get('id')!r}) has no module or function name",
                endpoint=endpoint,
                fix="ConnectWise may have changed the row shape; report this",
            )
        by, at = _info(row)
        for key, label, field in _permission_names(module, function):
            value = row.get(field)
            try:
                level = _EXACT_LEVELS[value]
            except (KeyError, TypeError):  # another spelling, or not a level at all
                level = normalize_level(value, where=label, endpoint=endpoint)
            current = best.get(key)
            # Two rows with the same names: keep the most permissive, which is what applies.
            if current is None or _LEVEL_RANK[level] > _LEVEL_RANK[str(current.value)]:
                best[key] = Setting(key, label, level, by, at)
    return list(best.values())


@functools.lru_cache(maxsize=4096)  # the same ~120 rows recur in every tenant's role
def _permission_names(module: str, function: str) -> tuple[tuple[str, str, str], ...]:
    """(setting key, label, level field) of each op of one permission row."""
    return tuple(
        (permission_key(module, function, op), f"{module} > {function}: {op.capitalize()}", field)
        for op, field in _LEVEL_FIELDS
    )


# -- Table Setup customize -------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # the same setup screen names recur in every tenant
def _compact(text: str) -> str:
    """Case/space/punctuation-insensitive form: 'Billing Status' and 'BillingStatus' agree."""
    return slug(text).replace("_", "")


class _ScreenIndex:
    """Look up setup screens by id, by name (when unique) or by "Category / Name"."""

    def __init__(self, screens: Iterable[Json]) -> None:
        self.by_id: dict[str, tuple[str, str]] = {}
        self.by_full: dict[str, tuple[str, str]] = {}
        by_name: dict[str, list[tuple[str, str]]] = {}
        for screen in screens:
            category, name = screen.get("category"), screen.get("name")
            if not isinstance(category, str) or not isinstance(name, str):
                continue
            pair = (category.strip(), name.strip())
            if screen.get("id") is not None:
                self.by_id[str(screen["id"]).strip()] = pair
            compact_name = _compact(name)
            self.by_full[_compact(category) + "/" + compact_name] = pair
            by_name.setdefault(compact_name, []).append(pair)
        # A bare name shared by two categories is ambiguous: do not guess.
        self.by_name = {key: pairs[0] for key, pairs in by_name.items() if len(pairs) == 1}

    def resolve(self, identifier: str) -> tuple[str, str] | None:
        text = identifier.strip()
        if text in self.by_id:
            return self.by_id[text]
        if "/" in text:
            category, _, name = text.partition("/")
            found = self.by_full.get(_compact(category) + "/" + _compact(name))
            return found or (category.strip(), name.strip())  # already in UI form
        return self.by_name.get(_compact(text))


def _customize_settings(items: Iterable[Json], screens: Iterable[Json]) -> list[Setting]:
    index = _ScreenIndex(screens)
    settings: dict[str, Setting] = {}
    for item in items:
        kind = item.get("customizeIdentifier")
        if not isinstance(kind, str) or kind.casefold() != TABLE_SETUP_CUSTOMIZE.casefold():
            continue
        identifier = item.get("itemIdentifier")
        if identifier is None or not str(identifier).strip():
            continue
        raw_id = str(identifier).strip()
        pair = index.resolve(raw_id)
        if pair is not None and slug(pair[0]) and slug(pair[1]):
            key = customize_key(*pair)
            label = f"Table Setup > Customize: {pair[0]} / {pair[1]}"
        else:
            # Kept under its raw identifier so it is still visible (and diffed), not dropped.
            key = f"customize.{slug(raw_id) or raw_id}"
            label = f"Table Setup > Customize: {raw_id} (not in the setup screen list)"
        settings[key] = _setting(key, label, True)
    return list(settings.values())


# -- accounting package and GL captions ------------------------------------------------------


def first_record(records: Iterable[Json]) -> Json | None:
    """The record with the lowest id (ConnectWise keeps one; extras are ignored, see collect)."""

    def order(record: Json) -> tuple[int, int]:
        rid = record.get("id")
        return (0, rid) if isinstance(rid, int) else (1, 0)

    ordered = sorted(records, key=order)
    return ordered[0] if ordered else None


def _accounting_settings(records: list[Json]) -> list[Setting]:
    """Every AccountingPackageSetup field; with no record every value is None ("not set up")."""
    record = first_record(records)
    source: Json = record or {}
    package = source.get("accountingPackage")
    package_id = None
    if isinstance(package, Mapping):
        package_id = package.get("identifier") or package.get("name")
    settings = [_setting("accounting.package", "Accounting Package", package_id, record)]
    for field, label in ACCOUNTING_FIELDS.items():
        settings.append(_setting(f"accounting.{field}", label, source.get(field), record))
    # Fields newer than spec 2025.8 are kept too, so a new setting shows up as a change.
    for field, value in source.items():
        if field in ACCOUNTING_FIELDS or field in _NOT_SETTINGS:
            continue
        if value is None or isinstance(value, str | bool | int | float):
            settings.append(_setting(f"accounting.{field}", field, value, record))
    return settings


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _gl_settings(records: list[Json]) -> list[Setting]:
    record = first_record(records)
    if record is None:
        return []
    settings: list[Setting] = []
    for n in GL_SEGMENTS:
        caption, kind = record.get(f"segment{n}"), record.get(f"segment{n}type")
        if _present(caption) or _present(kind):
            settings.append(_setting(f"gl.segment{n}", f"Account segment {n}", caption, record))
            settings.append(
                _setting(f"gl.segment{n}type", f"Account segment {n} type", kind, record)
            )
        cogs = record.get(f"cogs{n}")
        if _present(cogs):
            settings.append(_setting(f"gl.cogs{n}", f"COGS segment {n}", cogs, record))
    return settings
