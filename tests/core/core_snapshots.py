"""Snapshots for engine tests: a compliant tenant that each case mutates.

The permission table is the vendor page's, written out here on purpose (not read from the
baseline YAML) so the tests check the baseline against the page, not against itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from monitor.core.baseline import Baseline, load_baseline
from monitor.core.evaluate import evaluate
from monitor.core.findings import Finding
from monitor.core.options import TenantOptions, Waiver
from monitor.core.snapshot import (
    CredentialMode,
    Setting,
    Snapshot,
    Value,
    customize_key,
    permission_key,
    section_of,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# (module, function, operation) rows of "Configuration of Manage Login", each at "All".
VENDOR_PERMISSIONS: list[tuple[str, str, str]] = [
    ("Companies", "Company Maintenance", "inquire"),
    ("Companies", "Contacts", "inquire"),
    ("Finance", "Accounting Interface", "add"),
    ("Finance", "Accounting Interface", "edit"),
    ("Finance", "Accounting Interface", "delete"),
    ("Finance", "Accounting Interface", "inquire"),
    ("Finance", "Invoicing", "edit"),
    ("Finance", "Invoicing", "inquire"),
    ("Finance", "Invoicing", "delete"),
    ("Procurement", "Product Catalog", "inquire"),
    ("Procurement", "Products", "inquire"),
    ("Procurement", "Purchase Orders", "inquire"),
    ("System", "API Reports", "inquire"),
    ("System", "Member Maintenance", "inquire"),
    ("System", "Table Setup", "inquire"),
    ("Time & Expense", "Expense Report Entry", "inquire"),
    ("Time & Expense", "Time Entry", "inquire"),
]

# "System > Table Setup > Customize: Allow Access to" on the vendor page.
VENDOR_CUSTOMIZE: list[tuple[str, str]] = [
    ("Invoicing", "Billing Status"),
    ("Invoicing", "Tax code"),
]


def compliant_values() -> dict[str, Value]:
    values: dict[str, Value] = {
        "member.identifier": "GozyntaAPI",
        "member.found": True,
        "member.inactive": False,
        "member.role": "Gozynta API",
        "member.role_id": 27,
        "role.name": "Gozynta API",
        "role.id": 27,
        "role.admin": False,
        "role.inactive": False,
        "accounting.package": "Other",
        "accounting.includeSalesTaxFlag": True,
        "accounting.transferExpensesAsBillFlag": False,
        "accounting.inventorySOHFlag": True,
        "accounting.includeCogsEntriesFlag": True,
        "accounting.includeInvoicesFlag": True,
        "gl.segment1": "Account",
        "gl.segment1type": "Account",
        "gl.cogs1": "COGS",
    }
    for module, function, op in VENDOR_PERMISSIONS:
        values[permission_key(module, function, op)] = "All"
    for category, name in VENDOR_CUSTOMIZE:
        values[customize_key(category, name)] = True
    return values


class SnapshotBuilder:
    """A compliant snapshot to mutate with ``put`` (None drops a key) and ``unknown``."""

    def __init__(self, mode: CredentialMode = CredentialMode.INTEGRATION) -> None:
        self.values = compliant_values()
        self.unreadable: dict[str, str] = {}
        self.mode = mode
        self.who: dict[str, tuple[str, str]] = {}

    def put(self, values: Mapping[str, Value]) -> SnapshotBuilder:
        for key, value in values.items():
            if value is None:
                self.values.pop(key, None)
            else:
                self.values[key] = value
        return self

    def unknown(
        self, section: str, reason: str = "not readable with auditor keys"
    ) -> SnapshotBuilder:
        """``section`` (or the one setting, when given a key like ``accounting.x``) could not be
        read: it is listed as unknown and has no value."""
        self.unreadable[section] = reason
        self.values = {k: v for k, v in self.values.items() if section not in (k, section_of(k))}
        return self

    def changed_by(self, key: str, who: str, when: str) -> SnapshotBuilder:
        self.who[key] = (who, when)
        return self

    def build(self, tenant: str = "acme") -> Snapshot:
        settings = [
            Setting(key, key, value, *self.who.get(key, (None, None)))
            for key, value in self.values.items()
        ]
        return Snapshot.build(tenant, NOW, self.mode, settings, self.unreadable)


_BUNDLED: Baseline | None = None


def bundled() -> Baseline:
    global _BUNDLED
    if _BUNDLED is None:
        _BUNDLED = load_baseline()
    return _BUNDLED


def findings_by_rule(
    snapshot: Snapshot,
    options: TenantOptions | None = None,
    waivers: Sequence[Waiver] = (),
    now: datetime = NOW,
    baseline: Baseline | None = None,
) -> dict[str, Finding]:
    found = evaluate(baseline or bundled(), snapshot, options or TenantOptions(), waivers, now)
    return {f.rule_id: f for f in found}
