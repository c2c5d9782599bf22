"""The registry of rule kinds: the ``kind:`` of a baseline rule names one of these.

Adding a kind is one module defining a :class:`~monitor.core.rules.base.Check` subclass plus
one line here (STYLE.md habit 4).
"""

from __future__ import annotations

from monitor.core.rules.accounting import AccountingSettingCheck
from monitor.core.rules.base import Check, Context, Outcome
from monitor.core.rules.cogs import CogsSegmentsCheck
from monitor.core.rules.customize import CustomizeCheck
from monitor.core.rules.least_privilege import LeastPrivilegeCheck
from monitor.core.rules.member import MemberActiveCheck
from monitor.core.rules.permission import PermissionCheck
from monitor.core.rules.role import MemberRoleCheck
from monitor.core.rules.segments import AccountSegmentsCheck

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
