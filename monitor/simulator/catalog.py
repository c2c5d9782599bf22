"""The security-role permission rows and setup-table catalogue a ConnectWise tenant shows.

Module and function *names* are the ones shown in the UI (System > Security Roles), taken from
vendor permission guides (Gozynta, Cyberfox, MSPbackups, n-able). The *identifiers*
(``moduleIdentifier``, ``moduleFunctionIdentifier``) are not published anywhere: they are
invented CamelCase forms of the names (see ../shared/connectwise-api.md §3.2, open question 4).
The flags follow the documented guesses: ``myAllFlag`` = the row offers the "My" level,
``reportFlag`` = a report function, ``customFlag`` = the row has a "Customize" link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def identifier_of(name: str) -> str:
    """'Time & Expense' -> 'TimeAndExpense', 'Picking/Shipping' -> 'PickingShipping'."""
    words = re.split(r"[^A-Za-z0-9]+", name.replace("&", " And "))
    return "".join(word[:1].upper() + word[1:] for word in words if word)


@dataclass(frozen=True, slots=True)
class ModuleFunction:
    """One row of a security role: a function within a module."""

    module: str
    function: str
    sort_order: int
    my_all: bool = False
    report: bool = False
    custom: bool = False

    @property
    def module_identifier(self) -> str:
        return identifier_of(self.module)

    @property
    def function_identifier(self) -> str:
        return identifier_of(self.function)

    @property
    def label(self) -> str:
        return f"{self.module} > {self.function}"


# Per module: (function name, flags). "m" = myAllFlag, "r" = reportFlag, "c" = customFlag.
_MODULES: dict[str, list[tuple[str, str]]] = {
    "Companies": [
        ("Company Maintenance", "m"),
        ("Company/Contact Group Maintenance", ""),
        ("Company Finance", ""),
        ("Company Merge", ""),
        ("Configurations", "mc"),
        ("Contacts", "m"),
        ("Contact Merge", ""),
        ("CRM Reports", "rc"),
        ("Manage Attachments", "m"),
        ("Notes", "m"),
        ("Team Members", ""),
        ("Tracks", "m"),
    ],
    "Finance": [
        ("Accounting Interface", ""),
        ("Agreement Invoicing", ""),
        ("Agreement Sales", ""),
        ("Agreements", "c"),
        ("Billing View Time & Expense", ""),
        ("Closed Invoices", ""),
        ("Finance Reports", "rc"),
        ("Invoice Approval", ""),
        ("Invoicing", ""),
        ("Invoice Templates", ""),
        ("Payments", ""),
        ("Transactions", ""),
        ("Agreement Approval", ""),
        ("Billing Reconciliation", ""),
    ],
    "Marketing": [
        ("Campaigns", "m"),
        ("Groups", "m"),
        ("Marketing Manager", ""),
        ("Marketing Reports", "rc"),
        ("Email Marketing", ""),
        ("Survey Maintenance", ""),
        ("Lead Management", "m"),
    ],
    "Procurement": [
        ("Adjustments", ""),
        ("Bundles", ""),
        ("Inventory", ""),
        ("Picking/Shipping", ""),
        ("Pricing Schedules", ""),
        ("Procurement Reports", "rc"),
        ("Product Catalog", ""),
        ("Products", "m"),
        ("Purchase Orders", "m"),
        ("Purchasing Approvals", ""),
        ("Receiving", ""),
        ("RMA", ""),
        ("Warehouse Transfers", ""),
        ("Vendor Maintenance", ""),
    ],
    "Project": [
        ("Close Projects", "m"),
        ("Project Finance", ""),
        ("Project Headers", "m"),
        ("Project Manager", ""),
        ("Project Notes", "m"),
        ("Project Phases", "m"),
        ("Project Reports", "rc"),
        ("Project Scheduling", "mc"),
        ("Project Team", "m"),
        ("Project Templates", ""),
        ("Project Tickets", "m"),
    ],
    "Sales": [
        ("Activities", "m"),
        ("Close Opportunities", "m"),
        ("Commissions", "m"),
        ("Forecasting", "m"),
        ("Opportunities", "m"),
        ("Quota", ""),
        ("Sales Funnel", "m"),
        ("Sales Manager Dashboard", ""),
        ("Sales Orders", "m"),
        ("Sales Reports", "rc"),
        ("Quotes", "m"),
    ],
    "Schedule": [
        ("Calendar", "m"),
        ("Dispatch Portal", ""),
        ("Reminders", "m"),
        ("Resource Scheduling", "mc"),
        ("Schedule Entries", "m"),
        ("Schedule Reports", "r"),
        ("Schedule Holidays", ""),
    ],
    "Service Desk": [
        ("Close Service Tickets", "m"),
        ("Customer Portal", ""),
        ("Knowledge Base", "m"),
        ("Knowledge Base Approval", ""),
        ("Resolution Time", "m"),
        ("Service Board Teams", ""),
        ("Service Reports", "rc"),
        ("Service Ticket Templates", ""),
        ("Service Tickets", "m"),
        ("Service Tickets - Finance", "m"),
        ("SLA", ""),
        ("Ticket Merge", ""),
        ("Ticket Time Entries", "m"),
    ],
    "System": [
        ("API Reports", "r"),
        ("Audit Trail", ""),
        ("Custom Menu Entry", "c"),
        ("Custom Reports", "r"),
        ("Dashboard", "m"),
        ("Email Connector", ""),
        ("Integrator Login", ""),
        ("Manage Hosted API", "c"),
        ("Mass Maintenance", "c"),
        ("Member Maintenance", ""),
        ("My Account", "c"),
        ("My Company", ""),
        ("Portal Configuration", ""),
        ("Report Writer", "r"),
        ("Security Roles", ""),
        ("System Reports", "rc"),
        ("Table Setup", "c"),
        ("Templates", ""),
        ("Workflow Rules", ""),
        ("Document Templates", ""),
        ("Member Templates", ""),
    ],
    "Time & Expense": [
        ("Expense Approval", "m"),
        ("Expense Report Entry", "m"),
        ("Expense Reports", "rc"),
        ("Member Hours", "m"),
        ("Time Entry", "m"),
        ("Time Sheet Approval", "m"),
        ("Time Sheets", "m"),
        ("Time Reports", "r"),
        ("Expense Entry Finance", ""),
    ],
}

MODULE_FUNCTIONS: tuple[ModuleFunction, ...] = tuple(
    ModuleFunction(
        module=module,
        function=function,
        sort_order=index,
        my_all="m" in flags,
        report="r" in flags,
        custom="c" in flags,
    )
    for module, functions in _MODULES.items()
    for index, (function, flags) in enumerate(functions, start=1)
)

_BY_NAME: dict[tuple[str, str], ModuleFunction] = {
    (mf.module.casefold(), mf.function.casefold()): mf for mf in MODULE_FUNCTIONS
}


def find_function(module: str, function: str) -> ModuleFunction | None:
    """Look a row up by its UI names (case-insensitive)."""
    return _BY_NAME.get((module.strip().casefold(), function.strip().casefold()))


@dataclass(frozen=True, slots=True)
class SetupScreen:
    """One row of ``/system/setupScreens``: a setup table, shown in the UI as "Category / Name"."""

    id: int
    category: str
    name: str
    description: str
    module: str

    @property
    def label(self) -> str:
        return f"{self.category} / {self.name}"


# (category, name, description, owning module). Ids are assigned in order from 1.
_SCREENS: list[tuple[str, str, str, str]] = [
    ("Accounting", "Accounting Package", "Accounting package and export options", "Finance"),
    ("Accounting", "GL Accounts", "General ledger account mappings", "Finance"),
    ("Accounting", "GL Paths", "Accounting package file paths", "Finance"),
    ("Company", "Company Status", "Company statuses", "Companies"),
    ("Company", "Company Type", "Company types", "Companies"),
    ("Company", "Configuration Type", "Configuration types and questions", "Companies"),
    ("Company", "Contact Type", "Contact types", "Companies"),
    ("Company", "Market Description", "Company markets", "Companies"),
    ("General", "Calendar Setup", "Business hours calendars", "System"),
    ("General", "Department", "Departments", "System"),
    ("General", "Holiday List", "Holiday lists", "System"),
    ("General", "Location", "Locations", "System"),
    ("General", "Manage Hosted API", "Pods and hosted API screens", "System"),
    ("General", "Time Zone", "Time zones", "System"),
    ("Invoicing", "Billing Cycle", "Billing cycles", "Finance"),
    ("Invoicing", "Billing Status", "Invoice statuses", "Finance"),
    ("Invoicing", "Billing Terms", "Payment terms", "Finance"),
    ("Invoicing", "Currency", "Currencies", "Finance"),
    ("Invoicing", "Invoice Template", "Invoice layouts", "Finance"),
    ("Invoicing", "Tax Code", "Sales tax codes and levels", "Finance"),
    ("Marketing", "Campaign Status", "Campaign statuses", "Marketing"),
    ("Marketing", "Campaign Type", "Campaign types", "Marketing"),
    ("Procurement", "Manufacturer", "Product manufacturers", "Procurement"),
    ("Procurement", "Product Category", "Product categories", "Procurement"),
    ("Procurement", "Product Type", "Product types", "Procurement"),
    ("Procurement", "Shipment Method", "Shipment methods", "Procurement"),
    ("Procurement", "Warehouse", "Warehouses and bins", "Procurement"),
    ("Project", "Project Board", "Project boards", "Project"),
    ("Project", "Project Status", "Project statuses", "Project"),
    ("Project", "Project Type", "Project types", "Project"),
    ("Sales", "Opportunity Status", "Opportunity statuses", "Sales"),
    ("Sales", "Opportunity Type", "Opportunity types", "Sales"),
    ("Sales", "Sales Probability", "Close probabilities", "Sales"),
    ("Service", "Service Board", "Service boards, statuses and types", "Service Desk"),
    ("Service", "Service Priority", "Ticket priorities", "Service Desk"),
    ("Service", "Service Source", "Ticket sources", "Service Desk"),
    ("Service", "SLA", "Service level agreements", "Service Desk"),
    ("Time", "Charge Codes", "Charge codes", "Time & Expense"),
    ("Time", "Expense Type", "Expense types", "Time & Expense"),
    ("Time", "Time Period Setup", "Time sheet periods", "Time & Expense"),
    ("Time", "Work Role", "Work roles", "Time & Expense"),
    ("Time", "Work Type", "Work types", "Time & Expense"),
]

SETUP_SCREENS: tuple[SetupScreen, ...] = tuple(
    SetupScreen(id=index, category=category, name=name, description=description, module=module)
    for index, (category, name, description, module) in enumerate(_SCREENS, start=1)
)

_SCREENS_BY_LABEL: dict[str, SetupScreen] = {s.label.casefold(): s for s in SETUP_SCREENS}


def version_of(codebase: str) -> str:
    """'v2025_1/' -> '2025.1'; on-premise 'v4_6_release/' has no version in it: report 2025.1."""
    match = re.fullmatch(r"v(\d{4})_(\d+)/", codebase)
    return f"{match.group(1)}.{match.group(2)}" if match else "2025.1"


def api_version_of(codebase: str) -> str:
    """The ``api-current-version`` header a tenant on ``codebase`` answers with (§1.3; the real
    format is unpublished: the release, as the Accept header names it)."""
    return version_of(codebase)


def parse_item_label(label: str) -> tuple[str, str] | None:
    """'Invoicing / Billing Status' -> ('Invoicing', 'Billing Status'); None if not in that form."""
    category, sep, name = label.partition("/")
    if not sep or not category.strip() or not name.strip():
        return None
    return category.strip(), name.strip()


def find_screen(label: str) -> SetupScreen | None:
    """Look a setup table up by its UI label "Category / Name" (case- and spacing-tolerant)."""
    parts = parse_item_label(label)
    if parts is None:
        return None
    return _SCREENS_BY_LABEL.get(f"{parts[0]} / {parts[1]}".casefold())


ACCOUNTING_PACKAGES: tuple[tuple[int, str, str], ...] = (
    # (id, identifier, name): identifiers are the spec's enum; names follow the UI dropdown.
    (1, "QB99", "QuickBooks"),
    (2, "Mas200", "Sage ERP 100"),
    (3, "GPlains", "Microsoft Dynamics GP"),
    (4, "SBA", "Small Business Accounting"),
    (5, "Mas200v4", "Sage ERP 100 v4"),
    (6, "Other", "Other"),
)
