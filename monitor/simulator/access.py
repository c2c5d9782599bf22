"""Who is calling, and what their security role lets them do.

A request's permissions are its member's role rows (``System > Security Roles`` in the UI), as
ConnectWise applies them: a 403 when the row's level for the operation is "None". Assumptions
(undocumented): level "My" allows the operation (the simulator does not track record
ownership), and an admin role (``adminFlag``) passes every check.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.simulator.state import MemberState, RoleState, TenantState


@dataclass(frozen=True)
class Permission:
    """One operation on one role row, named as in the UI: ``Finance > Accounting Interface``."""

    module: str
    function: str
    op: str = "inquire"  # add | edit | delete | inquire

    @property
    def label(self) -> str:
        return f"{self.module} > {self.function}: {self.op.capitalize()}"


@dataclass(frozen=True)
class Caller:
    """The authenticated request's tenant, member and that member's role."""

    tenant: TenantState
    member: MemberState
    role: RoleState
    api_base: str  # absolute ``.../apis/3.0`` root, for ``_info.*_href`` links

    def may(self, permission: Permission) -> bool:
        level = self.role.level(permission.module, permission.function, permission.op)
        return self.role.admin or level in ("My", "All")

    def may_any(self, permissions: tuple[Permission, ...]) -> bool:
        """True when ``permissions`` is empty (any member may) or one of them is granted."""
        return not permissions or any(self.may(p) for p in permissions)
