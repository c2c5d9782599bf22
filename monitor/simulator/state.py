"""The live, mutable tenants a running simulator serves.

``SimulatorState`` is shared between the server thread and the test (or demo) thread, so every
read and write goes through one re-entrant lock. Mutators act as a person in the ConnectWise UI
would: they change a record and stamp its ``_info`` (``lastUpdated``, ``updatedBy``) using the
injected clock, so freezegun-driven tests get deterministic stamps.

Writes through the API (PATCH, POST) run inside ``writing()``, which undoes them when they are
refused half-way or when a ``not_persisted`` fault says the write must not land. Every write
API request is counted per tenant, endpoint and method (``write_counts``), whatever its outcome,
so a test can assert that a dry run wrote nothing.
"""

from __future__ import annotations

import copy
import fnmatch
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.clock import utcnow
from monitor.simulator.catalog import (
    MODULE_FUNCTIONS,
    SETUP_SCREENS,
    ModuleFunction,
    SetupScreen,
    api_version_of,
    find_function,
    find_screen,
    parse_item_label,
)
from monitor.simulator.desk import ServiceDesk, TicketState, build_desk
from monitor.simulator.scenario import (
    COMPLIANT_ACCOUNTING,
    DEFAULT_GL_CAPTIONS,
    MOBIUS_CUSTOMIZE,
    PACKAGE_IDENTIFIERS,
    Fault,
    ItemFormat,
    RoleSpec,
    Scenario,
    TenantSpec,
    check_accounting_value,
    check_gl_value,
)

LEVELS = ("None", "My", "All")
OPS = ("add", "edit", "delete", "inquire")
# Stamp on records as loaded from a scenario: fixed, so restarting a simulator changes nothing.
SCENARIO_EPOCH = "2024-11-02T10:01:00Z"
# Keep the newest requests only, so a long-running demo simulator does not grow without bound.
REQUEST_LOG_LIMIT = 100_000

# The vendor page's permissions (../shared/seed/mobius-manage-setup.txt), verbatim.
MOBIUS_PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("Companies", "Company Maintenance"): {"inquire": "All"},
    ("Companies", "Contacts"): {"inquire": "All"},
    ("Finance", "Accounting Interface"): {
        "add": "All",
        "edit": "All",
        "delete": "All",
        "inquire": "All",
    },
    ("Finance", "Invoicing"): {"edit": "All", "delete": "All", "inquire": "All"},
    ("Procurement", "Product Catalog"): {"inquire": "All"},
    ("Procurement", "Products"): {"inquire": "All"},
    ("Procurement", "Purchase Orders"): {"inquire": "All"},
    ("System", "API Reports"): {"inquire": "All"},
    ("System", "Member Maintenance"): {"inquire": "All"},
    ("System", "Table Setup"): {"inquire": "All"},
    ("Time & Expense", "Expense Report Entry"): {"inquire": "All"},
    ("Time & Expense", "Time Entry"): {"inquire": "All"},
}
# A read-only auditor sees roles, members, setup tables and the accounting setup.
AUDITOR_PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("System", "Security Roles"): {"inquire": "All"},
    ("System", "Member Maintenance"): {"inquire": "All"},
    ("System", "Table Setup"): {"inquire": "All"},
    ("Finance", "Accounting Interface"): {"inquire": "All"},
}
# cwdrift's fix member: the auditor's reads plus Edit where remediation PATCHes (the accounting
# setup and GL captions: Accounting Interface; an API member's role: Member Maintenance).
FIXER_PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    **AUDITOR_PERMISSIONS,
    ("System", "Member Maintenance"): {"inquire": "All", "edit": "All"},
    ("Finance", "Accounting Interface"): {"inquire": "All", "edit": "All"},
}
# cwdrift's ticket member in the MSP's own ConnectWise (connectwise-audit-tickets.md §4.6).
TICKETS_PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("Service Desk", "Service Tickets"): {"add": "All", "edit": "All", "inquire": "All"},
    ("Companies", "Company Maintenance"): {"inquire": "All"},
}
TEMPLATE_PERMISSIONS: dict[str, dict[tuple[str, str], dict[str, str]]] = {
    "mobius": MOBIUS_PERMISSIONS,
    "auditor": AUDITOR_PERMISSIONS,
    "fixer": FIXER_PERMISSIONS,
    "tickets": TICKETS_PERMISSIONS,
}
# The TenantState fields an API write may change: ``writing()`` saves and restores these.
WRITABLE_FIELDS = ("members", "accounting", "package", "accounting_info", "gl", "gl_info", "desk")


class SimulatorStateError(ValueError):
    """A mutator was given an unknown tenant/role/member or an invalid value."""


def iso_z(moment: datetime) -> str:
    """ConnectWise's ``_info.lastUpdated`` form: ``2025-03-04T15:22:10Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(updated_by: str, last_updated: str = SCENARIO_EPOCH) -> dict[str, str]:
    return {"lastUpdated": last_updated, "updatedBy": updated_by}


@dataclass
class SettingState:
    id: int
    function: ModuleFunction
    levels: dict[str, str]  # op -> "None" | "My" | "All"
    info: dict[str, str]


@dataclass
class RoleState:
    id: int
    name: str
    role_type: str
    admin: bool
    inactive: bool
    info: dict[str, str]
    settings: dict[tuple[str, str], SettingState]  # (moduleIdentifier, functionIdentifier)
    customize: set[int]  # setup-screen ids allowed by Table Setup > Customize

    def setting(self, module: str, function: str) -> SettingState:
        mf = find_function(module, function)
        if mf is None:
            raise SimulatorStateError(f"no security-role row '{module} > {function}'")
        return self.settings[(mf.module_identifier, mf.function_identifier)]

    def level(self, module: str, function: str, op: str) -> str:
        return "All" if self.admin else self.setting(module, function).levels[op]


@dataclass
class MemberState:
    id: int
    identifier: str
    name: str
    role_id: int
    inactive: bool
    keys: list[tuple[str, str]]  # (public, private); never logged or rendered
    info: dict[str, str]
    inactive_date: str | None = None

    def __repr__(self) -> str:  # keep private keys out of reprs and assertion output
        return f"MemberState(id={self.id}, identifier={self.identifier!r}, role_id={self.role_id})"

    def set_inactive(self, inactive: bool, stamp: dict[str, str]) -> None:
        self.inactive = inactive
        self.info = stamp
        self.inactive_date = stamp["lastUpdated"] if inactive else None


@dataclass
class FaultState:
    fault: Fault
    remaining: int | None


@dataclass
class TenantState:
    company_id: str
    name: str
    cloud: bool
    codebase: str
    item_format: ItemFormat
    require_client_id: bool
    latency: float
    roles: dict[int, RoleState]
    members: dict[str, MemberState]  # casefolded identifier -> member
    accounting: dict[str, Any]
    package: str
    accounting_info: dict[str, str]
    gl: dict[str, str | None]
    gl_info: dict[str, str]
    faults: list[FaultState] = field(default_factory=list)
    desk: ServiceDesk = field(default_factory=ServiceDesk)
    # The setup-table catalogue: every tenant's is the same until an upgrade adds a table.
    screens: list[SetupScreen] = field(default_factory=lambda: list(SETUP_SCREENS))
    # The ``api-current-version`` header every API answer carries (None: not sent); set from
    # the codebase at build and on ``upgrade``.
    api_version: str | None = None

    def screen(self, label: str) -> SetupScreen | None:
        """A setup table of this tenant's catalogue by its UI label "Category / Name"."""
        wanted = find_screen(label)
        if wanted is not None:
            return wanted
        parts = parse_item_label(label)
        if parts is None:
            return None
        key = f"{parts[0]} / {parts[1]}".casefold()
        return next((s for s in self.screens if s.label.casefold() == key), None)

    def role_named(self, name: str) -> RoleState:
        for role in self.roles.values():
            if role.name.casefold() == name.casefold():
                return role
        raise SimulatorStateError(
            f"tenant {self.company_id!r} has no role {name!r} "
            f"(roles: {', '.join(r.name for r in self.roles.values())})"
        )

    def member_by_id(self, member_id: int) -> MemberState | None:
        return next((m for m in self.members.values() if m.id == member_id), None)

    def member(self, identifier: str) -> MemberState:
        try:
            return self.members[identifier.casefold()]
        except KeyError:
            raise SimulatorStateError(
                f"tenant {self.company_id!r} has no API member {identifier!r}"
            ) from None


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it. Never holds the Authorization header."""

    company_id: str | None
    method: str
    path: str  # after ``apis/3.0`` (or ``/login/companyinfo/...``)
    query: dict[str, str]
    status: int
    headers: dict[str, str]  # clientId, Accept, pagination-type when sent
    response_bytes: int = 0  # of the body sent (before any compression)


def _template_levels(template: str, mf: ModuleFunction) -> dict[str, str]:
    if template == "admin":
        return dict.fromkeys(OPS, "All")
    granted = TEMPLATE_PERMISSIONS.get(template, {}).get((mf.module, mf.function), {})
    return {op: granted.get(op, "None") for op in OPS}


def _template_customize(spec: RoleSpec) -> set[int]:
    if spec.customize is not None:
        labels: list[str] = spec.customize
    elif spec.template == "mobius":
        labels = list(MOBIUS_CUSTOMIZE)
    elif spec.template == "admin":
        return {s.id for s in SETUP_SCREENS}
    else:
        labels = []
    screens = [find_screen(label) for label in labels]
    return {s.id for s in screens if s is not None}


def _build_tenant(spec: TenantSpec) -> TenantState:
    used_ids = {r.id for r in spec.roles if r.id is not None}
    next_role_id = 20
    next_setting_id = 9000
    roles: dict[int, RoleState] = {}
    for role_spec in spec.roles:
        role_id = role_spec.id
        if role_id is None:
            while next_role_id in used_ids:
                next_role_id += 1
            role_id = next_role_id
            used_ids.add(role_id)
        settings: dict[tuple[str, str], SettingState] = {}
        for mf in MODULE_FUNCTIONS:
            settings[(mf.module_identifier, mf.function_identifier)] = SettingState(
                id=next_setting_id,
                function=mf,
                levels=_template_levels(role_spec.template, mf),
                info=_stamp(role_spec.updated_by),
            )
            next_setting_id += 1
        role = RoleState(
            id=role_id,
            name=role_spec.name,
            role_type="Member",  # assumption: the spec leaves roleType a free string
            admin=role_spec.template == "admin",
            inactive=role_spec.inactive,
            info=_stamp(role_spec.updated_by),
            settings=settings,
            customize=_template_customize(role_spec),
        )
        for override in role_spec.overrides:
            row = role.setting(override.module, override.function)
            for op in OPS:
                level = getattr(override, op)
                if level is not None:
                    row.levels[op] = level
        roles[role_id] = role
    by_name = {r.name.casefold(): r for r in roles.values()}
    members: dict[str, MemberState] = {}
    for index, member_spec in enumerate(spec.members):
        members[member_spec.identifier.casefold()] = MemberState(
            id=member_spec.id or 300 + index,
            identifier=member_spec.identifier,
            name=member_spec.name or member_spec.identifier,
            role_id=by_name[member_spec.role.casefold()].id,
            inactive=member_spec.inactive,
            keys=[(k.public_key, k.private_key.get_secret_value()) for k in member_spec.keys],
            info=_stamp("admin1"),
            inactive_date=SCENARIO_EPOCH if member_spec.inactive else None,
        )
    accounting = dict(COMPLIANT_ACCOUNTING)
    accounting.update({k: v for k, v in spec.accounting.items() if k != "package"})
    return TenantState(
        company_id=spec.company_id,
        name=spec.name,
        cloud=spec.cloud,
        codebase=spec.codebase,
        item_format=spec.customize_item_format,
        require_client_id=spec.require_client_id,
        latency=spec.latency,
        roles=roles,
        members=members,
        accounting=accounting,
        package=str(spec.accounting.get("package", "Other")),
        accounting_info=_stamp("admin1"),
        gl=dict(DEFAULT_GL_CAPTIONS if spec.gl_captions is None else spec.gl_captions),
        gl_info=_stamp("admin1"),
        faults=[FaultState(f, f.times) for f in spec.faults],
        desk=build_desk(spec.service_desk),
        api_version=api_version_of(spec.codebase),
    )


def _check_level(level: str | None) -> None:
    if level is not None and level not in LEVELS:
        raise SimulatorStateError(f"permission level must be None, My or All, got {level!r}")


class SimulatorState:
    """All tenants of one simulator, safe to mutate while the server thread reads them."""

    def __init__(self, scenario: Scenario, *, now: Callable[[], datetime] = utcnow) -> None:
        self._now = now
        self._lock = threading.RLock()
        self._scenario = scenario
        self._tenants = {t.company_id.casefold(): _build_tenant(t) for t in scenario.tenants}
        self._requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._writes: Counter[tuple[str | None, str, str]] = Counter()

    def reset(self) -> None:
        """Back to the scenario as loaded: undo every mutation and fault, clear the request log
        and the write counts."""
        with self._lock:
            self._tenants = {
                t.company_id.casefold(): _build_tenant(t) for t in self._scenario.tenants
            }
            self._requests.clear()
            self._writes.clear()

    # -- reading (used by the app) -------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state still while rendering a response from several records."""
        with self._lock:
            yield

    def find_tenant(self, company_id: str) -> TenantState | None:
        """Company ids are case-insensitive, as on ConnectWise's login screen."""
        with self._lock:
            return self._tenants.get(company_id.casefold())

    def tenant(self, company_id: str) -> TenantState:
        found = self.find_tenant(company_id)
        if found is None:
            raise SimulatorStateError(
                f"no tenant {company_id!r} (tenants: {', '.join(self.company_ids())})"
            )
        return found

    def company_ids(self) -> list[str]:
        with self._lock:
            return [t.company_id for t in self._tenants.values()]

    def codebase(self, company_id: str) -> str:
        return self.tenant(company_id).codebase

    def authenticate(
        self, company_id: str, public_key: str, private_key: str
    ) -> MemberState | None:
        """The active member owning this key pair, or None (wrong key, inactive member)."""
        with self._lock:
            tenant = self.find_tenant(company_id)
            if tenant is None:
                return None
            for member in tenant.members.values():
                for public, private in member.keys:
                    if secrets.compare_digest(public, public_key) and secrets.compare_digest(
                        private.encode(), private_key.encode()
                    ):
                        return None if member.inactive else member
            return None

    def matching_faults(self, company_id: str, path: str, method: str = "GET") -> list[FaultState]:
        with self._lock:
            tenant = self.tenant(company_id)
            return [
                fs
                for fs in tenant.faults
                if (fs.remaining is None or fs.remaining > 0)
                and fs.fault.applies_to(method)
                and fnmatch.fnmatchcase(path, fs.fault.endpoint)
            ]

    def consume_fault(self, company_id: str, fault_state: FaultState) -> bool:
        """Use up one application of a fault; False if another request took the last one."""
        with self._lock:
            if fault_state.remaining is None:
                return True
            if fault_state.remaining <= 0:
                return False
            fault_state.remaining -= 1
            if fault_state.remaining == 0:
                tenant = self.tenant(company_id)
                tenant.faults = [fs for fs in tenant.faults if fs is not fault_state]
            return True

    def record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first (the newest ``REQUEST_LOG_LIMIT``)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- writes through the API -----------------------------------------------------------

    def count_write(self, company_id: str | None, endpoint: str, method: str) -> None:
        """Count one write request (``endpoint`` as documented: ``/service/tickets/{id}``)."""
        with self._lock:
            self._writes[(company_id, endpoint, method)] += 1

    def write_counts(self) -> list[dict[str, Any]]:
        """``[{"company_id", "endpoint", "method", "count"}]`` of every write request so far,
        ordered by tenant (None, for requests naming no known tenant, first), endpoint, method."""
        with self._lock:
            return [
                {"company_id": company, "endpoint": endpoint, "method": method, "count": count}
                for (company, endpoint, method), count in sorted(
                    self._writes.items(), key=lambda item: (item[0][0] or "", *item[0][1:])
                )
            ]

    def writes(
        self,
        company_id: str | None = None,
        *,
        endpoint: str | None = None,
        method: str | None = None,
    ) -> int:
        """How many write requests matched (every argument left None matches anything)."""
        wanted = None if company_id is None else company_id.casefold()
        with self._lock:
            return sum(
                count
                for (company, path, verb), count in self._writes.items()
                if (wanted is None or (company or "").casefold() == wanted)
                and (endpoint is None or path == endpoint)
                and (method is None or verb == method.upper())
            )

    def clear_writes(self) -> None:
        with self._lock:
            self._writes.clear()

    def now_iso(self) -> str:
        """The injected clock, as ``_info.lastUpdated`` shows it."""
        return iso_z(self._now())

    @contextmanager
    def writing(self, tenant: TenantState, *, persist: bool = True) -> Iterator[None]:
        """Hold the lock for one API write; undo it if it raises, or when ``persist`` is False.

        Undoing restores ``WRITABLE_FIELDS`` (new objects: references taken inside are stale),
        except that ids handed out stay used, as a database sequence's do.
        """
        with self._lock:
            saved = {name: copy.deepcopy(getattr(tenant, name)) for name in WRITABLE_FIELDS}
            try:
                yield
            except BaseException:
                self._restore(tenant, saved)
                raise
            if not persist:
                self._restore(tenant, saved)

    @staticmethod
    def _restore(tenant: TenantState, saved: dict[str, Any]) -> None:
        desk: ServiceDesk = saved["desk"]
        desk.next_ticket_id = tenant.desk.next_ticket_id
        desk.next_note_id = tenant.desk.next_note_id
        for name, value in saved.items():
            setattr(tenant, name, value)

    def summary(self) -> list[dict[str, Any]]:
        """A plain-data overview of every tenant (for ``GET /_sim/tenants``); no keys."""
        with self._lock:
            return [
                {
                    "company_id": t.company_id,
                    "name": t.name,
                    "codebase": t.codebase,
                    "cloud": t.cloud,
                    "latency": t.latency,
                    "package": t.package,
                    "roles": [
                        {"id": r.id, "name": r.name, "admin": r.admin} for r in t.roles.values()
                    ],
                    "members": [
                        {
                            "identifier": m.identifier,
                            "role": t.roles[m.role_id].name,
                            "inactive": m.inactive,
                        }
                        for m in t.members.values()
                    ],
                    "faults": [
                        {**fs.fault.model_dump(), "remaining": fs.remaining} for fs in t.faults
                    ],
                    "service_desk": {
                        "companies": [c.identifier for c in t.desk.companies],
                        "boards": [b.name for b in t.desk.boards],
                        "tickets": len(t.desk.tickets),
                    },
                }
                for t in self._tenants.values()
            ]

    # -- mutators: what a person in the UI would do ----------------------------------------

    def _stamp_now(self, by: str) -> dict[str, str]:
        return _stamp(by, iso_z(self._now()))

    def set_accounting(
        self, company_id: str, field: str, value: object, *, by: str = "admin1"
    ) -> None:
        """Change one AccountingPackageSetup field (``package`` changes the package)."""
        if field == "package":
            self.set_package(company_id, str(value), by=by)
            return
        try:
            check_accounting_value(field, value)
        except ValueError as exc:
            raise SimulatorStateError(str(exc)) from None
        with self._lock:
            tenant = self.tenant(company_id)
            tenant.accounting[field] = value
            tenant.accounting_info = self._stamp_now(by)

    def set_package(self, company_id: str, identifier: str, *, by: str = "admin1") -> None:
        if identifier not in PACKAGE_IDENTIFIERS:
            raise SimulatorStateError(
                f"accounting package must be one of {', '.join(PACKAGE_IDENTIFIERS)}, "
                f"got {identifier!r}"
            )
        with self._lock:
            tenant = self.tenant(company_id)
            tenant.package = identifier
            tenant.accounting_info = self._stamp_now(by)

    def set_permission(
        self,
        company_id: str,
        role_name: str,
        module: str,
        function: str,
        *,
        add: str | None = None,
        edit: str | None = None,
        delete: str | None = None,
        inquire: str | None = None,
        by: str = "admin1",
    ) -> None:
        """Set some levels of one row of a role; levels left as None are unchanged."""
        changes = {"add": add, "edit": edit, "delete": delete, "inquire": inquire}
        for level in changes.values():
            _check_level(level)
        with self._lock:
            row = self.tenant(company_id).role_named(role_name).setting(module, function)
            for op, level in changes.items():
                if level is not None:
                    row.levels[op] = level
            row.info = self._stamp_now(by)

    def set_customize(
        self, company_id: str, role_name: str, item: str, allowed: bool, *, by: str = "admin1"
    ) -> None:
        """Allow or remove one Table Setup > Customize item, written "Category / Name"."""
        with self._lock:
            screen = self.tenant(company_id).screen(item)
        if screen is None:
            raise SimulatorStateError(f"unknown Table Setup item {item!r}; use 'Category / Name'")
        with self._lock:
            role = self.tenant(company_id).role_named(role_name)
            if allowed:
                role.customize.add(screen.id)
            else:
                role.customize.discard(screen.id)
            stamp = self._stamp_now(by)
            role.info = stamp
            role.setting("System", "Table Setup").info = dict(stamp)

    def upgrade(self, company_id: str, codebase: str, *, api_version: str | None = None) -> None:
        """ConnectWise upgrades the tenant: a new codebase (the old one answers 404) and the
        ``api-current-version`` its answers carry (derived from the codebase unless given)."""
        with self._lock:
            tenant = self.tenant(company_id)
            tenant.codebase = codebase
            tenant.api_version = api_version or api_version_of(codebase)

    def set_api_version(self, company_id: str, api_version: str | None) -> None:
        """Change only the ``api-current-version`` header (None: answers carry none)."""
        with self._lock:
            self.tenant(company_id).api_version = api_version

    def add_setup_screen(
        self, company_id: str, category: str, name: str, *, module: str = "System"
    ) -> SetupScreen:
        """A setup table a ConnectWise release adds to the tenant's catalogue (next free id)."""
        with self._lock:
            tenant = self.tenant(company_id)
            if tenant.screen(f"{category} / {name}") is not None:
                raise SimulatorStateError(f"tenant {company_id!r} already has {category} / {name}")
            screen = SetupScreen(
                id=max(s.id for s in tenant.screens) + 1,
                category=category,
                name=name,
                description=name,
                module=module,
            )
            tenant.screens.append(screen)
            return screen

    def set_member_role(
        self, company_id: str, member_identifier: str, role_name: str, *, by: str = "admin1"
    ) -> None:
        with self._lock:
            tenant = self.tenant(company_id)
            member = tenant.member(member_identifier)
            member.role_id = tenant.role_named(role_name).id
            member.info = self._stamp_now(by)

    def set_member_inactive(
        self, company_id: str, member_identifier: str, inactive: bool = True, *, by: str = "admin1"
    ) -> None:
        with self._lock:
            self.tenant(company_id).member(member_identifier).set_inactive(
                inactive, self._stamp_now(by)
            )

    def set_segment(
        self,
        company_id: str,
        n: int,
        *,
        caption: str | None = None,
        type: str | None = None,
        by: str = "admin1",
    ) -> None:
        """Set account segment ``n``'s caption and/or type ("Account" | "Class").

        Like a scenario, and unlike an API write, this may set an over-long caption: tests use
        it to feed the monitor answers a real server might send.
        """
        if not 1 <= n <= 10:
            raise SimulatorStateError(f"segment number must be 1-10, got {n}")
        try:
            if caption is not None:
                check_gl_value(f"segment{n}", caption, writing=False)
            if type is not None:
                check_gl_value(f"segment{n}type", type)
        except ValueError as exc:
            raise SimulatorStateError(str(exc)) from None
        with self._lock:
            tenant = self.tenant(company_id)
            if caption is not None:
                tenant.gl[f"segment{n}"] = caption
            if type is not None:
                tenant.gl[f"segment{n}type"] = type
            tenant.gl_info = self._stamp_now(by)

    def set_ticket_status(
        self, company_id: str, ticket_id: int, status: str | int, *, by: str = "admin1"
    ) -> None:
        """A technician moves a ticket to another status of its board (by name or id) in the UI;
        a closed status closes it (``closedBy`` = ``by``), an open one reopens it."""
        with self._lock:
            ticket = self._ticket(company_id, ticket_id)
            board = self.tenant(company_id).desk.board(ticket.board_id)
            wanted = status.casefold() if isinstance(status, str) else status
            target = next(
                (s for s in board.statuses if wanted in (s.id, s.name.casefold())),
                None,
            )
            if target is None:
                raise SimulatorStateError(
                    f"board {board.name!r} has no status {status!r} "
                    f"(statuses: {', '.join(s.name for s in board.statuses)})"
                )
            stamp = self._stamp_now(by)
            ticket.move_to(target, by=by, when=stamp["lastUpdated"])
            ticket.info.update(stamp)

    def _ticket(self, company_id: str, ticket_id: int) -> TicketState:
        ticket = self.tenant(company_id).desk.tickets.get(ticket_id)
        if ticket is None:
            raise SimulatorStateError(f"tenant {company_id!r} has no ticket {ticket_id}")
        return ticket

    def tickets(self, company_id: str) -> list[dict[str, Any]]:
        """Every ticket of a tenant with its notes, as plain data, including what the API never
        returns (``processNotifications``, the ``initial*`` texts)."""
        with self._lock:
            desk = self.tenant(company_id).desk
            return [_ticket_view(desk.tickets[i], desk) for i in sorted(desk.tickets)]

    def add_fault(self, company_id: str, fault: Fault) -> None:
        with self._lock:
            self.tenant(company_id).faults.append(FaultState(fault, fault.times))

    def clear_faults(self, company_id: str | None = None) -> None:
        with self._lock:
            tenants = self._tenants.values() if company_id is None else [self.tenant(company_id)]
            for tenant in tenants:
                tenant.faults = []

    def set_latency(self, company_id: str | None, seconds: float) -> None:
        """Delay every request of one tenant (or all tenants when ``company_id`` is None)."""
        if seconds < 0:
            raise SimulatorStateError(f"latency must be >= 0 seconds, got {seconds}")
        with self._lock:
            tenants = self._tenants.values() if company_id is None else [self.tenant(company_id)]
            for tenant in tenants:
                tenant.latency = seconds


def _ticket_view(ticket: TicketState, desk: ServiceDesk) -> dict[str, Any]:
    board = desk.board(ticket.board_id)
    ticket_type = next((t for t in board.types if t.id == ticket.type_id), None)
    return {
        "id": ticket.id,
        "summary": ticket.summary,
        "board": board.name,
        "status": board.status(ticket.status_id).name,
        "closedFlag": ticket.closed,
        "closedDate": ticket.closed_date,
        "closedBy": ticket.closed_by,
        "company": desk.company(ticket.company_id).identifier,
        "type": ticket_type.name if ticket_type else None,
        "priority": desk.priority(ticket.priority_id).name,
        "externalXRef": ticket.external_xref,
        "processNotifications": ticket.process_notifications,
        "initialDescription": ticket.initial_description,
        "initialInternalAnalysis": ticket.initial_internal_analysis,
        "initialResolution": ticket.initial_resolution,
        "_info": dict(ticket.info),
        "notes": [
            {
                "id": note.id,
                "text": note.text,
                "detailDescriptionFlag": note.detail,
                "internalAnalysisFlag": note.internal,
                "resolutionFlag": note.resolution,
                "processNotifications": note.process_notifications,
                "createdBy": note.member_identifier,
                "dateCreated": note.created,
            }
            for note in ticket.notes
        ],
    }
