"""The registry of rule kinds: the ``kind:`` of a baseline rule names one of these.

Adding a kind is one module defining a :class:`~monitor.rules.base.Check` subclass plus one line
here (STYLE.md habit 4).
"""

from __future__ import annotations

from monitor.rules.accounting import AccountingSettingCheck
from monitor.rules.base import Check, Context, Outcome
from monitor.rules.cogs import CogsSegmentsCheck
from monitor.rules.customize import CustomizeCheck
from monitor.rules.least_privilege import LeastPrivilegeCheck
from monitor.rules.member import MemberActiveCheck
from monitor.rules.permission import PermissionCheck
from monitor.rules.role import MemberRoleCheck
from monitor.rules.segments import AccountSegmentsCheck

KINDS: dict[str, type[Check]] = {
    check.kind: check
    for check in (
        PermissionCheck,
        CustomizeCheck,
        MemberActiveCheck,
        MemberRoleCheck,
        AccountingSettingCheck,
        AccountSegmentsCheck,
        CogsSegmentsCheck,
        LeastPrivilegeCheck,
    )
}

__all__ = ["KINDS", "Check", "Context", "Outcome"]
