"""Scenario files: the tenants a simulator serves, as validated data.

A scenario YAML has a ``tenants:`` list; see ``config/scenarios/demo.yaml`` for a commented
example. ``load_scenario`` turns every problem into a ``ConfigError`` naming the file and the
field path (``tenants[1].roles[0].template``); ``generate_fleet`` builds large deterministic
scenarios for benchmarks.

A tenant with a ``service_desk:`` section is an MSP's own ConnectWise: its companies (one per
customer), service boards with their statuses and types, and ticket priorities (ConnectWise's
stock five unless given). Every tenant serves the ticket endpoints; without the section it simply
has no companies or boards, so a ticket cannot be filed there.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.errors import ConfigError
from monitor.simulator.catalog import ACCOUNTING_PACKAGES, find_function, find_screen
from monitor.simulator.mangle import Mangle

Level = Literal["None", "My", "All"]
RoleTemplate = Literal["mobius", "admin", "auditor", "fixer", "tickets", "none"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ItemFormat = Literal["id", "name", "category_name"]
FaultKind = Literal[
    "status",
    "rate_limit",
    "latency",
    "malformed_json",
    "html_error",
    "wrong_shape",
    "connection_reset",
    "broken_paging",
    "not_persisted",
    "validation_error",
    "error_after_write",
    "timeout_after_write",
    "mangle",
]
# Faults that only make sense for a write; without ``methods`` they match every write method.
WRITE_FAULT_KINDS = frozenset(
    {"not_persisted", "validation_error", "error_after_write", "timeout_after_write"}
)

DEFAULT_CODEBASE = "v2025_1/"
MOBIUS_CUSTOMIZE = ("Invoicing / Billing Status", "Invoicing / Tax Code")

# AccountingPackageSetup fields (spec 2025.8) and their values for a Mobius-compliant tenant:
# package Other, Include Sales Tax on, Transfer Expenses as a Bill off, Inventory SOH on,
# Include COGS Entries on (../shared/seed/mobius-manage-setup.txt, steps 1-5).
COMPLIANT_ACCOUNTING: dict[str, bool | str] = {
    "directTransferFlag": False,
    "includeInvoicesFlag": True,
    "invoiceFormat": "Default",
    "includeExpensesFlag": True,
    "transferExpensesAsBillFlag": False,
    "expenseFormat": "Default",
    "suppressMemoFlag": False,
    "syncPaymentInfoFlag": False,
    "syncWisePayPaymentInfoFlag": False,
    "includeSalesTaxFlag": True,
    "enableTaxGroupsFlag": False,
    "zeroDollarTaxAmountsFlag": False,
    "includeItemsFlag": True,
    "inventorySOHFlag": True,
    "sendComponentAmountFlag": False,
    "sendUomFlag": False,
    "includeCogsEntriesFlag": True,
    "includeCogsDropShipFlag": False,
}
ACCOUNTING_ENUMS: dict[str, tuple[str, ...]] = {
    "invoiceFormat": ("Default", "Condensed", "Detailed"),
    "expenseFormat": ("Default", "Condensed"),
}
PACKAGE_IDENTIFIERS = tuple(identifier for _, identifier, _ in ACCOUNTING_PACKAGES)

GL_FIELDS = tuple(
    [f"segment{n}" for n in range(1, 11)]
    + [f"segment{n}type" for n in range(1, 11)]
    + [f"cogs{n}" for n in range(1, 11)]
)
SEGMENT_TYPES = ("Account", "Class")
# Every segment typed "Account", so the default tenant is compliant (vendor page, steps 6-7).
DEFAULT_GL_CAPTIONS: dict[str, str] = {
    "segment1": "Account",
    "segment1type": "Account",
    "segment2": "Tracking 1",
    "segment2type": "Account",
    "segment3": "Tracking 2",
    "segment3type": "Account",
    "segment4": "Non-ProductID",
    "segment4type": "Account",
    "cogs1": "COGS",
}


GL_CAPTION_MAX_LENGTH = 255  # spec: "Max length: 255;" on segmentN and cogsN


class FieldValueError(ValueError):
    """A value a record's field does not take. ``code`` is the ValidationError code a PATCH with
    it is refused with (see ``responses.py``); scenario files show only the message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_accounting_value(field: str, value: object, *, nullable: bool = False) -> None:
    """Raise FieldValueError unless ``value`` is valid for AccountingPackageSetup ``field``.

    ``nullable``: the spec declares every flag and format nullable; a PATCH may clear one.
    """
    if field not in COMPLIANT_ACCOUNTING:
        raise FieldValueError(
            "UnknownField",
            f"unknown AccountingPackageSetup field {field!r}; use one of "
            f"{', '.join(COMPLIANT_ACCOUNTING)} (or 'package')",
        )
    if value is None and nullable:
        return
    allowed = ACCOUNTING_ENUMS.get(field)
    if allowed is not None:
        if not isinstance(value, str):
            raise FieldValueError(
                "InvalidType", f"{field} must be one of {', '.join(allowed)}, got {value!r}"
            )
        if value not in allowed:
            raise FieldValueError(
                "InvalidValue", f"{field} must be one of {', '.join(allowed)}, got {value!r}"
            )
    elif not isinstance(value, bool):
        raise FieldValueError("InvalidType", f"{field} is a flag: use true or false, got {value!r}")


def check_gl_value(field: str, value: object, *, writing: bool = True) -> None:
    """Raise FieldValueError unless ``value`` is valid for GLCaption ``field`` (None clears it).

    The length limit binds writes only: a scenario may hold a caption ConnectWise would refuse
    to save, so the monitor can be tested against over-long answers from a real server.
    """
    if field not in GL_FIELDS:
        raise FieldValueError(
            "UnknownField",
            f"unknown GLCaption field {field!r}; use segment1..10, segment1type..10type, cogs1..10",
        )
    if value is None:
        return
    if field.endswith("type"):
        if value not in SEGMENT_TYPES:
            code = "InvalidValue" if isinstance(value, str) else "InvalidType"
            raise FieldValueError(code, f"{field} must be Account or Class, got {value!r}")
    elif not isinstance(value, str):
        raise FieldValueError("InvalidType", f"{field} is a caption: use a string, got {value!r}")
    elif writing and len(value) > GL_CAPTION_MAX_LENGTH:
        raise FieldValueError(
            "InvalidValue", f"{field} is at most {GL_CAPTION_MAX_LENGTH} characters"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PermissionOverride(_Strict):
    """Change some levels of one row, named as in the UI (``Finance`` / ``Invoicing``)."""

    module: str
    function: str
    add: Level | None = None
    edit: Level | None = None
    delete: Level | None = None
    inquire: Level | None = None

    @model_validator(mode="after")
    def _known_row(self) -> PermissionOverride:
        if find_function(self.module, self.function) is None:
            raise ValueError(
                f"no security-role row '{self.module} > {self.function}'; use the module and "
                "function names shown in System > Security Roles (see monitor/simulator/catalog.py)"
            )
        return self


class RoleSpec(_Strict):
    """A security role. ``customize`` defaults per template (mobius: Billing Status + Tax Code)."""

    name: str = Field(min_length=1, max_length=30)
    id: int | None = Field(default=None, ge=1)
    template: RoleTemplate = "none"
    overrides: list[PermissionOverride] = Field(default_factory=list)
    customize: list[str] | None = None
    inactive: bool = False
    updated_by: str = "admin1"

    @field_validator("customize")
    @classmethod
    def _known_items(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if find_screen(item) is None:
                raise ValueError(
                    f"unknown Table Setup item {item!r}; write it as 'Category / Name', "
                    "e.g. 'Invoicing / Billing Status' (see catalog.SETUP_SCREENS)"
                )
        return value


class ApiKey(_Strict):
    public_key: str = Field(min_length=1)
    private_key: SecretStr


class MemberSpec(_Strict):
    """An API member (licence class A) and its keys."""

    identifier: str = Field(min_length=1, max_length=15)
    name: str = ""
    role: str
    id: int | None = Field(default=None, ge=1)
    inactive: bool = False
    keys: list[ApiKey] = Field(default_factory=list)


class Fault(_Strict):
    """A failure injected into the tenant's responses on endpoints matching ``endpoint``.

    ``endpoint`` is a glob over the path after ``apis/3.0`` (``/system/mySecurity*``,
    ``/service/tickets/*/notes``), or ``/login/companyinfo/*``. ``methods`` limits it to those
    HTTP methods (default: every method, and every write method for the write kinds).
    ``times`` = apply to the next N matching requests (None: always). ``status`` is the HTTP
    status for ``status``, ``html_error``, ``broken_paging`` and ``error_after_write``.

    Write kinds: ``not_persisted`` answers as if written and keeps the old record;
    ``validation_error`` refuses with 400 ``InvalidObject`` naming ``field`` and ``message``;
    ``error_after_write`` persists the write, then answers ``status`` (500); and
    ``timeout_after_write`` persists it, then holds the answer for ``seconds`` (0: until the
    client gives up, at most a minute). A 409 Conflict is ``{kind: status, status: 409,
    methods: [PATCH]}``. A write fault is used up by the next matching write whatever its outcome.
    ``mangle`` rewrites the body of a successful answer (kind ``mangle``; see simulator/mangle.py).
    """

    kind: FaultKind
    endpoint: str = "*"
    methods: list[Method] | None = None
    times: int | None = Field(default=None, ge=1)
    status: int | None = Field(default=None, ge=100, le=599)
    retry_after: int = Field(default=30, ge=0)
    seconds: float = Field(default=0.0, ge=0)
    field: str = ""
    message: str = "The record could not be saved."

    mangle: Mangle | None = None

    @model_validator(mode="after")
    def _writes_only(self) -> Fault:
        if self.kind in WRITE_FAULT_KINDS and self.methods is not None and "GET" in self.methods:
            raise ValueError(f"fault kind {self.kind!r} applies to writes only; drop GET")
        if (self.kind == "mangle") != (self.mangle is not None):
            raise ValueError("a 'mangle' fault needs a mangle, and only a 'mangle' fault has one")
        return self

    def applies_to(self, method: str) -> bool:
        if self.methods is not None:
            return method in self.methods
        return method != "GET" if self.kind in WRITE_FAULT_KINDS else True

    def effective_status(self) -> int:
        defaults = {
            "status": 500,
            "html_error": 502,
            "broken_paging": 500,
            "error_after_write": 500,
        }
        if self.kind == "validation_error":
            return 400  # a validation error is a 400 whatever ``status`` says
        return self.status if self.status is not None else defaults.get(self.kind, 200)


class CompanySpec(_Strict):
    """A customer company in the MSP's ConnectWise (``/company/companies``)."""

    identifier: str = Field(min_length=1, max_length=25)
    name: str = Field(min_length=1, max_length=50)
    id: int | None = Field(default=None, ge=1)


class StatusSpec(_Strict):
    """A board status; ``closed`` is the API's ``closedStatus``, ``default`` its ``defaultFlag``."""

    name: str = Field(min_length=1, max_length=50)
    id: int | None = Field(default=None, ge=1)
    closed: bool = False
    default: bool = False
    inactive: bool = False


class NamedSpec(_Strict):
    """A service type of a board, or a ticket priority."""

    name: str = Field(min_length=1, max_length=50)
    id: int | None = Field(default=None, ge=1)
    default: bool = False


class BoardSpec(_Strict):
    """A service board. Without a status marked ``default``, the first status is the default."""

    name: str = Field(min_length=1, max_length=50)
    id: int | None = Field(default=None, ge=1)
    inactive: bool = False
    statuses: list[StatusSpec] = Field(min_length=1)
    types: list[NamedSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _statuses(self) -> BoardSpec:
        names = [s.name.casefold() for s in self.statuses]
        if len(set(names)) != len(names):
            raise ValueError(f"board {self.name!r}: status names must be unique within a board")
        defaults = [s for s in self.statuses if s.default]
        if len(defaults) > 1:
            raise ValueError(f"board {self.name!r}: at most one status may be the default")
        if any(s.closed or s.inactive for s in defaults or self.statuses[:1]):
            raise ValueError(
                f"board {self.name!r}: the default status (the first, unless one is marked "
                "default) must be open and active"
            )
        type_names = [t.name.casefold() for t in self.types]
        if len(set(type_names)) != len(type_names):
            raise ValueError(f"board {self.name!r}: type names must be unique within a board")
        return self


# ConnectWise's stock priorities (a new tenant's Service Priority setup table).
STOCK_PRIORITIES: tuple[tuple[str, bool], ...] = (
    ("Priority 1 - Emergency Response", False),
    ("Priority 2 - Quick Response", False),
    ("Priority 3 - Normal Response", True),
    ("Priority 4 - Schedule Maintenance", False),
    ("Do Not Respond", False),
)


class ServiceDeskSpec(_Strict):
    """The service desk of an MSP's own ConnectWise, where cwdrift files tickets."""

    companies: list[CompanySpec] = Field(default_factory=list)
    boards: list[BoardSpec] = Field(default_factory=list)
    priorities: list[NamedSpec] = Field(
        default_factory=lambda: [NamedSpec(name=n, default=d) for n, d in STOCK_PRIORITIES]
    )

    @model_validator(mode="after")
    def _unique(self) -> ServiceDeskSpec:
        for what, keys in (
            ("company identifiers", [c.identifier.casefold() for c in self.companies]),
            ("board names", [b.name.casefold() for b in self.boards]),
            ("priority names", [p.name.casefold() for p in self.priorities]),
        ):
            if len(set(keys)) != len(keys):
                raise ValueError(f"{what} must be unique (case-insensitive)")
        for what, ids in (
            ("company ids", [c.id for c in self.companies]),
            ("board ids", [b.id for b in self.boards]),
            ("status ids", [s.id for b in self.boards for s in b.statuses]),
            ("type ids", [t.id for b in self.boards for t in b.types]),
            ("priority ids", [p.id for p in self.priorities]),
        ):
            given = [i for i in ids if i is not None]
            if len(set(given)) != len(given):
                raise ValueError(f"{what} must be unique")
        if sum(p.default for p in self.priorities) > 1:
            raise ValueError("at most one priority may be the default")
        return self


class TenantSpec(_Strict):
    company_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1)
    cloud: bool = False
    codebase: str = DEFAULT_CODEBASE
    customize_item_format: ItemFormat = "name"
    roles: list[RoleSpec] = Field(default_factory=list)
    members: list[MemberSpec] = Field(default_factory=list)
    accounting: dict[str, Any] = Field(default_factory=dict)
    gl_captions: dict[str, str | None] | None = None
    faults: list[Fault] = Field(default_factory=list)
    latency: float = Field(default=0.0, ge=0)
    require_client_id: bool = True
    service_desk: ServiceDeskSpec | None = None

    @field_validator("codebase")
    @classmethod
    def _codebase_shape(cls, value: str) -> str:
        if not value.endswith("/") or "/" in value[:-1] or len(value) < 2:
            raise ValueError(
                f"codebase must look like 'v2025_1/' (one segment, trailing slash), got {value!r}"
            )
        return value

    @field_validator("accounting")
    @classmethod
    def _accounting_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        for field, item in value.items():
            if field == "package":
                if item not in PACKAGE_IDENTIFIERS:
                    raise ValueError(
                        f"package must be one of {', '.join(PACKAGE_IDENTIFIERS)}, got {item!r}"
                    )
            else:
                check_accounting_value(field, item)
        return value

    @field_validator("gl_captions")
    @classmethod
    def _gl_fields(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        for field, item in (value or {}).items():
            check_gl_value(field, item, writing=False)
        return value

    @model_validator(mode="after")
    def _references(self) -> TenantSpec:
        role_names = [r.name.casefold() for r in self.roles]
        if len(set(role_names)) != len(role_names):
            raise ValueError("role names must be unique within a tenant")
        ids = [r.id for r in self.roles if r.id is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("role ids must be unique within a tenant")
        identifiers = [m.identifier.casefold() for m in self.members]
        if len(set(identifiers)) != len(identifiers):
            raise ValueError("member identifiers must be unique within a tenant")
        public_keys = [k.public_key for m in self.members for k in m.keys]
        if len(set(public_keys)) != len(public_keys):
            raise ValueError("public keys must be unique within a tenant")
        for member in self.members:
            if member.role.casefold() not in role_names:
                raise ValueError(
                    f"member {member.identifier!r} has role {member.role!r}, which is not in this "
                    f"tenant's roles ({', '.join(r.name for r in self.roles) or 'none defined'})"
                )
        return self


class Scenario(_Strict):
    tenants: list[TenantSpec] = Field(default_factory=list)
    description: str = ""

    @model_validator(mode="after")
    def _unique_tenants(self) -> Scenario:
        ids = [t.company_id.casefold() for t in self.tenants]
        if len(set(ids)) != len(ids):
            raise ValueError("tenant company_id values must be unique (case-insensitive)")
        return self


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(top level)"


def scenario_from_data(data: object, *, source: str) -> Scenario:
    """Validate already-parsed YAML/JSON; errors name ``source`` and the field path."""
    if not isinstance(data, dict):
        raise ConfigError(
            "a scenario must be a mapping with a 'tenants:' list",
            location=f"{source}: (top level)",
            fix="start the file with 'tenants:' followed by a list of tenants",
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = _field_path(tuple(errors[0]["loc"]))
        details = "; ".join(f"{_field_path(tuple(e['loc']))}: {e['msg']}" for e in errors)
        raise ConfigError(
            f"invalid scenario: {details}",
            location=f"{source}: {first}",
            fix="correct the field(s) named; config/scenarios/demo.yaml shows every option",
        ) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read scenario file: {exc.strerror}",
            location=str(path),
            fix="check the path given to --scenario",
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            location=where,
            fix="fix the YAML syntax at that line (indentation, quotes, colons)",
        ) from None
    return scenario_from_data(data, source=str(path))


def fleet_keys(index: int) -> tuple[str, str]:
    """The (public, private) keys ``generate_fleet`` gives tenant ``index`` (obviously fake)."""
    return f"fleetpub{index:05d}", f"fake-fleet-private-{index:05d}"


def fleet_company_id(index: int) -> str:
    return f"fleet{index:05d}"


# The drifts a fleet tenant may carry: each one breaks exactly one vendor requirement.
_FLEET_DRIFTS: tuple[str, ...] = (
    "expenses_as_bill",
    "no_invoicing_delete",
    "class_segment",
    "package_quickbooks",
    "no_tax_code_customize",
)


def generate_fleet(n: int, *, seed: int = 0, latency: float = 0.0) -> Scenario:
    """``n`` tenants ``fleet00000``.. with a compliant ``GozyntaAPI`` member (keys: ``fleet_keys``).

    ``max(1, n // 10)`` of them (when n >= 2), chosen by ``seed``, carry one drift each from
    ``_FLEET_DRIFTS``. Same arguments, same scenario.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    drifting = set(rng.sample(range(n), max(1, n // 10))) if n >= 2 else set()
    tenants: list[dict[str, Any]] = []
    for index in range(n):
        public_key, private_key = fleet_keys(index)
        role: dict[str, Any] = {"name": "Gozynta API", "template": "mobius"}
        tenant: dict[str, Any] = {
            "company_id": fleet_company_id(index),
            "name": f"Fleet Tenant {index}",
            "latency": latency,
            "roles": [role],
            "members": [
                {
                    "identifier": "GozyntaAPI",
                    "name": "Gozynta API",
                    "role": "Gozynta API",
                    "keys": [{"public_key": public_key, "private_key": private_key}],
                }
            ],
        }
        if index in drifting:
            drift = rng.choice(_FLEET_DRIFTS)
            if drift == "expenses_as_bill":
                tenant["accounting"] = {"transferExpensesAsBillFlag": True}
            elif drift == "no_invoicing_delete":
                role["overrides"] = [
                    {"module": "Finance", "function": "Invoicing", "delete": "None"}
                ]
            elif drift == "class_segment":
                tenant["gl_captions"] = {**DEFAULT_GL_CAPTIONS, "segment2type": "Class"}
            elif drift == "package_quickbooks":
                tenant["accounting"] = {"package": "QB99"}
            else:
                role["customize"] = ["Invoicing / Billing Status"]
        tenants.append(tenant)
    return scenario_from_data({"tenants": tenants}, source=f"generate_fleet({n}, seed={seed})")
