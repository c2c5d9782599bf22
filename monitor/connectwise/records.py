"""Typed, validated records of the ConnectWise answers a check relies on (pure: no I/O).

Every body ``collect`` reads is parsed here *before* normalization, into pydantic models in
**strict** mode whose field names and types are those of ConnectWise's OpenAPI document
(../shared/connectwise-openapi-subset.json, summarised in ../shared/connectwise-api.md §3).
Only the fields cwdrift reads are modelled; every other field, including fields a newer
ConnectWise adds, is ignored.

What an unexpected answer means, decided once here and documented on each model:

* **a body of the wrong shape** (an object where a list is due, a list of non-objects) or
  **a row without the key that identifies it** (an API member without ``identifier``, a
  permission row without its module or function name, a setup screen without its id, category
  or name, a customize item without its kind or item): :class:`~monitor.errors.MalformedResponse`
  for the tenant. The check is an ``error``: no findings, no drift, and it counts towards the
  "cannot verify tenant" alert.
* **a field missing, ``null`` or of the wrong type**: that one field is *unread*
  (:meth:`Record.problem` says which and why, naming the endpoint and the field). Nothing is
  coerced: ``"true"``, ``"False"``, ``0`` and ``1`` are not booleans, ``"5"`` is not an integer,
  ``"Mine"`` is not a permission level. The normalizer turns an unread field into an *unknown*
  setting with that reason, so only the rules that read it are unknown. The one documented
  exception is the GL segment captions: ConnectWise omits unused segments (§3.10, §8), so there
  a missing or ``null`` caption means "not set".
* **an empty list** is data only where ConnectWise really answers one: no API member of that
  identifier (the request filters on it), or a role with no Table Setup customize item.
  ConnectWise always fills the others (a role has a row per module function, every tenant has
  the setup-table catalogue, one accounting setup record and one GL caption record [INF, §8]),
  so there an empty list makes that section of the snapshot unknown (:func:`empty_reason`).

These choices follow the spec; where a payload captured from a real tenant shows otherwise
(for example that ``null`` flags are common and mean "off"), change them here and in the README.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import AliasPath, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from monitor.errors import MalformedResponse

Level = Literal["None", "My", "All"]  # SecurityRoleSetting levels, exactly (§3.2: no "Mine")
SegmentType = Literal["Account", "Class"]
InvoiceFormat = Literal["Default", "Condensed", "Detailed"]
ExpenseFormat = Literal["Default", "Condensed"]

MY_SECURITY = "/system/mySecurity"
API_MEMBERS = "/system/apiMembers"
CUSTOMIZE_ITEMS = "/system/mySecurity/customizeItems/"
SETUP_SCREENS = "/system/setupScreens"
ACCOUNTING_SETUP = "/finance/accountingPackageSetup"
GL_CAPTIONS = "/finance/glCaptions"

_MAX_SHOWN = 24  # characters of an unexpected value quoted in a reason

# pydantic error type -> what the field should have been, for reasons people read.
_EXPECTED = {
    "bool_type": "a boolean",
    "string_type": "a string",
    "int_type": "an integer",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a field holds no usable value: ``missing``, ``null`` or ``wrong`` (type or value)."""

    kind: Literal["missing", "null", "wrong"]
    # e.g. "ConnectWise did not return includeSalesTaxFlag on /finance/accountingPackageSetup"
    reason: str


def describe(value: object) -> str:
    """A short, quoted rendering of an unexpected JSON value for a reason."""
    if isinstance(value, bool):
        return "true" if value else "false"  # JSON spelling, not Python's
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return f"the number {repr(value)[:_MAX_SHOWN]}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def json_kind(value: object) -> str:
    """What a whole body is, for MalformedResponse messages."""
    if isinstance(value, list):
        return "a list of objects" if all(isinstance(r, dict) for r in value) else "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else describe(value)


@dataclass(frozen=True, slots=True)
class _Source:
    endpoint: str
    wrong: dict[str, str]  # field -> "the string 'true', not a boolean"


_UNKNOWN_SOURCE = _Source("the answer", {})


@functools.lru_cache(maxsize=256)  # one per endpoint: shared by every row read without a defect
def _clean_source(endpoint: str) -> _Source:
    return _Source(endpoint, {})


class Record(BaseModel):
    """Base of every record: strict types, unknown fields ignored, immutable.

    Build records with :meth:`parse`, never ``model_validate``: ``parse`` keeps a row whose
    non-identifying fields are defective and remembers each defect, so that one bad field makes
    only that field unknown. Fields a record cannot be identified without are required fields of
    the model (and :meth:`identity_problem` for rules across fields); a defect there is a
    :class:`MalformedResponse`.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    # Who last changed the record, from its ``_info`` map; read in place (no copy of the map:
    # ~120 rows a check). Not a string: unread, like any field.
    updated_by: str | None = Field(default=None, validation_alias=AliasPath("_info", "updatedBy"))
    last_updated: str | None = Field(
        default=None, validation_alias=AliasPath("_info", "lastUpdated")
    )

    # Where the record came from and what was wrong with it, for reasons: a slot, set once by
    # parse. (pydantic private attributes cost more than validating the row: ~120 per tenant.)
    __slots__ = ("_source",)  # read with _source_of; not annotated, or pydantic would own it

    def identity_problem(self) -> str | None:
        """Why this row cannot be identified (checked after parsing), or None."""
        return None

    @classmethod
    def parse(cls, data: object, *, endpoint: str, row: int | None = None) -> Self:
        """One record from one JSON value (``row``: its 1-based place in a list answer); a
        defect in a non-identifying field is remembered."""
        if not isinstance(data, dict):
            raise MalformedResponse(
                f"{_place(row)} of {endpoint} is {json_kind(data)}, not an object",
                endpoint=endpoint,
                fix="ConnectWise answered in an unexpected shape; the next check retries",
            )
        try:
            # The validator itself, not model_validate: this runs for every row of every check.
            record: Self = cls.__pydantic_validator__.validate_python(data)
            source = _clean_source(endpoint)
        except ValidationError as exc:
            record, wrong = cls._salvage(data, exc, endpoint=endpoint, place=_place(row))
            source = _Source(endpoint, wrong)
        object.__setattr__(record, "_source", source)
        problem = record.identity_problem()
        if problem is not None:
            raise _unidentified(f"{_place(row)} of {endpoint} {problem}", endpoint)
        return record

    @classmethod
    def _salvage(
        cls, data: Mapping[str, Any], exc: ValidationError, *, endpoint: str, place: str
    ) -> tuple[Self, dict[str, str]]:
        """Validate again without the defective fields; fail only on an identifying one."""
        cleaned = dict(data)
        wrong: dict[str, str] = {}
        nested_done: set[str] = set()
        read_in_place = _read_in_place(cls)
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            key = str(loc[0]) if loc else ""
            if tuple(loc) in read_in_place:
                # e.g. _info.updatedBy not a string: that field is unread (the map goes with it)
                wrong[read_in_place[tuple(loc)]] = f"{describe(_at(data, loc))}, not a string"
                cleaned.pop(key, None)
                continue
            name = key
            info = cls.model_fields.get(name)
            if info is None or info.is_required():
                if error["type"] == "missing":
                    problem = f"has no {key}, which identifies it"
                else:
                    problem = (
                        f"has {describe(data.get(key))} for {key or 'the record'}, which "
                        f"identifies it and must be {_expected(error)}"
                    )
                raise _unidentified(f"{place} of {endpoint} {problem}", endpoint)
            nested = _record_type(info.annotation)
            if len(loc) > 1 and nested is not None and isinstance(data.get(key), dict):
                # A bad field inside a reference: parse the reference on its own, field by field.
                if key not in nested_done:
                    cleaned[key] = nested.parse(data[key], endpoint=endpoint)
                    nested_done.add(key)
                continue
            wrong[name] = f"{describe(data.get(key))}, not {_expected(error)}"
            cleaned.pop(key, None)
        try:
            return cls.model_validate(cleaned), wrong
        except ValidationError as again:  # not expected: every defective field was removed
            raise _unidentified(
                f"{place} of {endpoint} cannot be read ({again})", endpoint
            ) from None

    def problem(self, field: str, *, of: str = "") -> Problem | None:
        """Why ``field`` has no usable value, or None when it has one.

        ``field`` may name a field of a reference: ``securityRole.name`` (a reference that is
        itself missing, null or not an object is the problem then). ``of`` names the row.
        """
        endpoint = _source_of(self).endpoint
        row = f" of {of}" if of else ""
        record: Record = self
        done = ""
        for name in field.split("."):
            what = f"{done}{_path_of(type(record), name)}{row}"
            wrong = _source_of(record).wrong
            if name in wrong:
                return Problem("wrong", f"ConnectWise sent {what} as {wrong[name]}, on {endpoint}")
            if name not in record.model_fields_set:
                return Problem("missing", f"ConnectWise did not return {what} on {endpoint}")
            value = getattr(record, name)
            if value is None:
                return Problem("null", f"ConnectWise returned null for {what} on {endpoint}")
            if isinstance(value, Record):
                record, done = value, f"{done}{name}."
        return None

    def value(self, field: str) -> Any:
        """The value of ``field`` (``securityRole.name`` reads inside a reference), or None."""
        found: Any = self
        for name in field.split("."):
            found = getattr(found, name, None) if isinstance(found, Record) else None
        return found

    @property
    def endpoint(self) -> str:
        return _source_of(self).endpoint

    def provenance(self) -> tuple[str | None, str | None]:
        """(updatedBy, lastUpdated) from ``_info``, when ConnectWise gave them as strings."""
        return self.updated_by, self.last_updated


@functools.cache
def _read_in_place(model: type[Record]) -> dict[tuple[str | int, ...], str]:
    """Fields read inside a reference without modelling it (``AliasPath``): path -> field."""
    return {
        tuple(info.validation_alias.path): name
        for name, info in model.model_fields.items()
        if isinstance(info.validation_alias, AliasPath)
    }


def _path_of(model: type[Record], field: str) -> str:
    """How ConnectWise names ``field``: ``member.identifier`` for one read in place."""
    for path, name in _read_in_place(model).items():
        if name == field:
            return ".".join(map(str, path))
    return field


def _at(data: Mapping[str, Any], loc: tuple[str | int, ...]) -> Any:
    found: Any = data
    for part in loc:
        found = found.get(str(part)) if isinstance(found, dict) else None
    return found


def _place(row: int | None) -> str:
    return "the answer" if row is None else f"row {row}"


def _source_of(record: Record) -> _Source:
    try:  # object's lookup: an unset slot must not fall through to pydantic's __getattr__
        source: _Source = object.__getattribute__(record, "_source")
    except AttributeError:
        return _UNKNOWN_SOURCE
    return source


def _expected(error: Any) -> str:
    """What a field should have been, from a pydantic error, in words."""
    if error["type"] == "literal_error":
        return f"one of {error.get('ctx', {}).get('expected', 'the documented values')}"
    return _EXPECTED.get(error["type"], str(error["msg"]).lower())


def _record_type(annotation: object) -> type[Record] | None:
    """The Record class inside ``X | None``, if the annotation is one."""
    for candidate in getattr(annotation, "__args__", (annotation,)):
        if isinstance(candidate, type) and issubclass(candidate, Record):
            return candidate
    return None


def _unidentified(message: str, endpoint: str) -> MalformedResponse:
    return MalformedResponse(
        message,
        endpoint=endpoint,
        fix="ConnectWise answered rows cwdrift cannot identify; the next check retries",
    )


R = TypeVar("R", bound=Record)


def parse_rows(payload: object, model: type[R], *, endpoint: str) -> tuple[R, ...]:
    """Every row of a list answer as ``model``; anything but a list of objects is malformed."""
    if not isinstance(payload, list):
        raise MalformedResponse(
            f"expected a list from {endpoint}, got {json_kind(payload)}",
            endpoint=endpoint,
            fix="ConnectWise answered in an unexpected shape; the next check retries",
        )
    try:
        # Fast path, one call for the whole list (a role has ~120 permission rows per check).
        records = _list_validator(model).validate_python(payload)
    except ValidationError:  # some row is defective: parse row by row, saying which
        return tuple(
            model.parse(data, endpoint=endpoint, row=index)
            for index, data in enumerate(payload, start=1)
        )
    source = _clean_source(endpoint)
    for index, record in enumerate(records, start=1):
        object.__setattr__(record, "_source", source)
        problem = record.identity_problem()
        if problem is not None:
            raise _unidentified(f"row {index} of {endpoint} {problem}", endpoint)
    return tuple(records)


@functools.cache
def _list_validator(model: type[Record]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]  # a class known only at run time


def fields_of(model: type[Record]) -> str:
    """The ``fields=`` value asking ConnectWise for exactly what ``model`` reads [§4]: its fields,
    a reference's as ``securityRole/id``, and ``_info`` whole (who changed the record).

    Derived from the model, so a field added to a record is asked for too.
    """
    wanted: list[str] = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasPath):
            path = "/".join(map(str, alias.path))
            wanted.append("_info" if path.startswith("_info/") else path)
            continue
        nested = _record_type(info.annotation)
        if nested is None:
            wanted.append(name)
            continue
        wanted += [f"{name}/{sub}" for sub in fields_of(nested).split(",") if sub != "_info"]
    return ",".join(dict.fromkeys(wanted))


def parse_one(payload: object, model: type[R], *, endpoint: str) -> R:
    return model.parse(payload, endpoint=endpoint)


def empty_reason(endpoint: str) -> str:
    return (
        f"ConnectWise returned an empty list on {endpoint}, where it always lists records; "
        "the answer is not trusted"
    )


# -- references ------------------------------------------------------------------------------


class SecurityRoleReference(Record):
    """``SecurityRoleReference`` on an API member.

    Missing, null or of the wrong type, each field is unknown: ``name`` (member.role,
    api-member-has-custom-security-role) and ``id`` (member.role_id; without it the role record,
    and in auditor mode the role's permissions, are not read).
    """

    id: int | None = None
    name: str | None = None


class AccountingPackageReference(Record):
    """``AccountingPackageReference``. ``identifier`` (accounting.package) is any string: a newer
    ConnectWise may add packages to the enum; "Other" is what the rule wants.
    Missing, null or not a string: accounting.package is unknown (``name`` is a display label,
    not a fallback)."""

    id: int | None = None
    identifier: str | None = None
    name: str | None = None


# -- members and roles -----------------------------------------------------------------------


class ApiMember(Record):
    """``ApiMember`` from ``GET /system/apiMembers?conditions=identifier="X"``.

    An empty list is data: no API member has that identifier (member.found = false).

    * ``identifier`` finds the member: missing, null or not a string is malformed;
    * ``inactiveFlag`` (member.inactive, api-member-exists-and-is-active): missing, null or not
      a boolean is unknown;
    * ``securityRole`` (member.role, member.role_id): see :class:`SecurityRoleReference`.
    """

    identifier: str  # required by the spec, and the key the member is found by
    id: int | None = None
    name: str | None = None
    inactiveFlag: bool | None = None
    securityRole: SecurityRoleReference | None = None


class SecurityRole(Record):
    """``SecurityRole`` from ``GET /system/securityroles/{id}`` (one object).

    Missing, null or of the wrong type, each field is unknown:

    * ``name`` (role.name), ``id`` (role.id);
    * ``adminFlag`` (role.admin; Admin satisfies the permission and customize rules): when
      unknown, Admin is judged by the role's name, and the findings say so;
    * ``inactiveFlag`` (role.inactive): api-member-has-custom-security-role is then unknown.
    """

    id: int | None = None
    name: str | None = None
    adminFlag: bool | None = None
    inactiveFlag: bool | None = None


class SecurityRoleSetting(Record):
    """``SecurityRoleSetting``: a permission row (``/system/securityRoles/{id}/settings``).

    Never an empty list (a role has a row for every module function). A row is identified by
    its module and function *names* (``moduleName`` or else ``moduleDescription``; likewise for
    the function): without them the answer is malformed. A row the list does not contain at all
    is unknown to the permission rules, never "None".

    ``addLevel`` ... ``inquireLevel`` (permission.<module>.<function>.<op>): missing, null, not a
    string, or a string other than exactly "None", "My" or "All" is unknown.
    """

    id: int | None = None
    moduleName: str | None = None
    moduleDescription: str | None = None
    moduleFunctionName: str | None = None
    moduleFunctionDescription: str | None = None
    addLevel: Level | None = None
    editLevel: Level | None = None
    deleteLevel: Level | None = None
    inquireLevel: Level | None = None

    LEVEL_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("add", "addLevel"),
        ("edit", "editLevel"),
        ("delete", "deleteLevel"),
        ("inquire", "inquireLevel"),
    )

    @property
    def module(self) -> str | None:
        return _first_text(self.moduleName, self.moduleDescription)

    @property
    def function(self) -> str | None:
        return _first_text(self.moduleFunctionName, self.moduleFunctionDescription)

    def identity_problem(self) -> str | None:
        # Inlined (not self.module / self.function): this runs for every permission row.
        if not (
            (self.moduleName and not self.moduleName.isspace())
            or (self.moduleDescription and not self.moduleDescription.isspace())
        ) or not (
            (self.moduleFunctionName and not self.moduleFunctionName.isspace())
            or (self.moduleFunctionDescription and not self.moduleFunctionDescription.isspace())
        ):
            return f"(id {self.id!r}) has no module or function name"
        return None


class MySecurity(SecurityRoleSetting):
    """``MySecurity``: the caller's effective permission rows (``GET /system/mySecurity``).

    As :class:`SecurityRoleSetting`, plus ``member`` (a ``MemberReference``): every row names
    the member whose keys made the request; the answer must name exactly one (else malformed:
    whose keys are these?). Only the reference's ``identifier`` is read, in place (a reference
    object per row would cost more than the row); one that is missing or not a string names no
    one.
    """

    member_identifier: str | None = Field(
        default=None, validation_alias=AliasPath("member", "identifier")
    )


# -- Table Setup customize -------------------------------------------------------------------


class CustomizeItem(Record):
    """``MySecurityCustomizeItem`` (``GET /system/mySecurity/customizeItems/``).

    An empty list is data: the role allows no customize item. ``customizeIdentifier`` says which
    list an item is on (Table Setup is exactly ``SystemTableSetup``) and ``itemIdentifier`` which
    table; both identify the row, so a row without either (missing, null, not a string, blank)
    is malformed: it could be the very item a rule looks for. (Table Setup is matched case-
    insensitively, as before.) An ``itemIdentifier`` (an id, a name or "Category / Name": the
    format is undocumented) naming no screen of the catalogue makes that item unknown, so the
    customize rules are unknown rather than failing: it may be the table they look for.
    """

    id: int | None = None
    customizeIdentifier: str
    itemIdentifier: str

    def identity_problem(self) -> str | None:
        if not self.itemIdentifier.strip():
            return f"(id {self.id!r}) has a blank itemIdentifier"
        return None


class SetupScreen(Record):
    """``SetupScreen`` (``GET /system/setupScreens``): the catalogue customize items refer to.

    Never an empty list: an empty catalogue makes the customize section unknown. ``id``,
    ``category`` and ``name`` identify a screen (items name it by one of them): without any of
    them the answer is malformed.
    """

    id: int
    category: str
    name: str

    def identity_problem(self) -> str | None:
        if not self.category.strip() or not self.name.strip():
            return f"(id {self.id}) has a blank category or name"
        return None


# -- accounting package and GL captions ------------------------------------------------------


class AccountingPackageSetup(Record):
    """``AccountingPackageSetup`` (``GET /finance/accountingPackageSetup``; one row expected).

    Never an empty list (the accounting section is then unknown). With several rows the lowest
    ``id`` is the one in force; several rows without usable ids are malformed.

    Every flag is "boolean nullable" in the spec. Until a real tenant shows what ``null`` means,
    a flag that is missing, ``null`` or not a JSON boolean is **unknown** (never "off"), with a
    reason naming the field and the endpoint; the rules reading it are unknown, the others run.
    ``invoiceFormat`` and ``expenseFormat`` must be one of their documented values.
    ``accountingPackage`` is required by the spec; missing, it makes accounting.package unknown.
    """

    id: int | None = None
    accountingPackage: AccountingPackageReference | None = None
    directTransferFlag: bool | None = None
    includeInvoicesFlag: bool | None = None
    invoiceFormat: InvoiceFormat | None = None
    includeExpensesFlag: bool | None = None
    transferExpensesAsBillFlag: bool | None = None
    expenseFormat: ExpenseFormat | None = None
    suppressMemoFlag: bool | None = None
    syncPaymentInfoFlag: bool | None = None
    syncWisePayPaymentInfoFlag: bool | None = None
    includeSalesTaxFlag: bool | None = None
    enableTaxGroupsFlag: bool | None = None
    zeroDollarTaxAmountsFlag: bool | None = None
    includeItemsFlag: bool | None = None
    inventorySOHFlag: bool | None = None
    sendComponentAmountFlag: bool | None = None
    sendUomFlag: bool | None = None
    includeCogsEntriesFlag: bool | None = None
    includeCogsDropShipFlag: bool | None = None


class GLCaption(Record):
    """``GLCaption`` (``GET /finance/glCaptions``; one row expected, never an empty list).

    ConnectWise omits unset segments (§3.10, §8: "omitted, or null"), so a caption
    (``segmentN``, ``cogsN``) that is missing or ``null`` means **not set**: that segment is not
    in use. A caption that is not a string is unknown. A type (``segmentNtype``) must be
    "Account" or "Class"; for a segment in use, a type that is missing, ``null`` or anything
    else is **unknown** (the rule cannot tell Account from Class), never "not set".
    """

    id: int | None = None
    segment1: str | None = None
    segment2: str | None = None
    segment3: str | None = None
    segment4: str | None = None
    segment5: str | None = None
    segment6: str | None = None
    segment7: str | None = None
    segment8: str | None = None
    segment9: str | None = None
    segment10: str | None = None
    segment1type: SegmentType | None = None
    segment2type: SegmentType | None = None
    segment3type: SegmentType | None = None
    segment4type: SegmentType | None = None
    segment5type: SegmentType | None = None
    segment6type: SegmentType | None = None
    segment7type: SegmentType | None = None
    segment8type: SegmentType | None = None
    segment9type: SegmentType | None = None
    segment10type: SegmentType | None = None
    cogs1: str | None = None
    cogs2: str | None = None
    cogs3: str | None = None
    cogs4: str | None = None
    cogs5: str | None = None
    cogs6: str | None = None
    cogs7: str | None = None
    cogs8: str | None = None
    cogs9: str | None = None
    cogs10: str | None = None

    def text(self, field: str) -> str | None:
        value = getattr(self, field, None)
        return value if isinstance(value, str) else None


# -- choosing among rows ---------------------------------------------------------------------


Single = TypeVar("Single", AccountingPackageSetup, GLCaption)


def record_in_force(records: Iterable[Single]) -> Single | None:
    """The single record ConnectWise keeps; with several, the lowest id (see collect's warning).

    Exact duplicates are one record. Several different rows of which one has no id cannot be
    ordered, and that answer is malformed.
    """
    rows = list(records)
    if len(rows) <= 1:
        return rows[0] if rows else None
    distinct = list({row.model_dump_json(by_alias=True): row for row in rows}.values())
    if len(distinct) == 1:
        return distinct[0]
    if any(row.id is None for row in distinct):
        endpoint = distinct[0].endpoint
        raise MalformedResponse(
            f"{endpoint} returned {len(distinct)} different records, not all with an id, so "
            "the one in force is unknown",
            endpoint=endpoint,
            fix="ConnectWise answered in an unexpected shape; the next check retries",
        )
    return min(distinct, key=lambda row: row.id or 0)


def _first_text(*values: str | None) -> str | None:
    for value in values:
        if value is not None and value.strip():
            return value.strip()
    return None


def find_member(members: Iterable[ApiMember], identifier: str) -> ApiMember | None:
    """The API member whose identifier equals ``identifier`` (case-insensitive), if any.

    Identifiers are unique in ConnectWise: exact duplicates of one row are one member, but two
    different members answering to one identifier make the answer malformed.
    """
    wanted = identifier.strip().casefold()
    found = [m for m in members if m.identifier.strip().casefold() == wanted]
    if len(found) <= 1:
        return found[0] if found else None
    distinct = list({m.model_dump_json(by_alias=True): m for m in found}.values())
    if len(distinct) > 1:
        raise MalformedResponse(
            f"{API_MEMBERS} returned {len(distinct)} different API members named {identifier!r}",
            endpoint=API_MEMBERS,
            fix="ConnectWise answered in an unexpected shape; the next check retries",
        )
    return distinct[0] if distinct else None
