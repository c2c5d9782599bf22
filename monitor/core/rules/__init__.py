"""The registry of rule kinds: the ``kind:`` of a baseline rule names one of these.

Adding a kind is one module defining a :class:`~monitor.core.rules.base.Requirement` subclass plus
one line here (STYLE.md habit 4).
"""

from __future__ import annotations

from monitor.core.rules.accounting import AccountingSettingRequirement
from monitor.core.rules.base import Context, Outcome, Requirement
from monitor.core.rules.cogs import CogsSegmentsRequirement
from monitor.core.rules.customize import CustomizeRequirement
from monitor.core.rules.least_privilege import LeastPrivilegeRequirement
from monitor.core.rules.member import MemberActiveRequirement
from monitor.core.rules.permission import PermissionRequirement
from monitor.core.rules.role import MemberRoleRequirement
from monitor.core.rules.segments import AccountSegmentsRequirement

KINDS: dict[str, type[Requirement]] = {
    kind.kind: kind
    for kind in (
        PermissionRequirement,
        CustomizeRequirement,
        MemberActiveRequirement,
        MemberRoleRequirement,
        AccountingSettingRequirement,
        AccountSegmentsRequirement,
        CogsSegmentsRequirement,
        LeastPrivilegeRequirement,
    )
}

__all__ = ["KINDS", "Context", "Outcome", "Requirement"]
