"""Rule kind ``member_role``: the API member has the custom security role (or, accepted, Admin).

The vendor page: 'The "Role ID" field must be set to the custom security role that you created
(STRONGLY RECOMMENDED). Or to "Admin" role.' So an Admin role is not drift, but it is reported as a
least-privilege ``warning``. ``TenantOptions.expected_role`` pins the exact role name instead.
"""

from __future__ import annotations

from monitor.core.findings import Severity, Status
from monitor.core.rules.base import NOT_SET, Context, Outcome, Requirement

CUSTOM = "a custom security role (or Admin)"
KEYS = ("member.role", "member.role_id", "role.name", "role.admin", "role.inactive")


class MemberRoleRequirement(Requirement):
    kind = "member_role"

    def evaluate(self, ctx: Context) -> Outcome:
        expected = ctx.options.expected_role or CUSTOM
        snapshot = ctx.snapshot
        reason = ctx.unknown_reason(("member.role",))
        if reason is not None:
            return ctx.unknown(expected, KEYS, reason)
        if snapshot.value("member.found") is not True:
            return Outcome(Status.FAIL, expected, NOT_SET, KEYS, "the API member was not found")
        name = snapshot.value("member.role") or snapshot.value("role.name")
        if not isinstance(name, str) or not name.strip():
            return Outcome(
                Status.FAIL, expected, NOT_SET, KEYS, "the API member has no security role"
            )
        inactive_unknown = snapshot.unknown_reason("role.inactive")
        if inactive_unknown is not None and snapshot.unknown_section("role") is None:
            # The role record was read but not its inactive flag: do not pass on a guess. (When
            # the whole record is unreadable by design, the member's reference is the evidence.)
            return ctx.unknown(expected, KEYS, inactive_unknown)
        if inactive_unknown is None and snapshot.value("role.inactive") is True:
            return Outcome(
                Status.FAIL, expected, f"{name} (inactive)", KEYS, "the role is inactive"
            )
        if ctx.options.expected_role is not None:
            if name.strip().casefold() == ctx.options.expected_role.strip().casefold():
                return Outcome(Status.PASS, expected, name, KEYS)
            required = ctx.options.expected_role
            note = f"this tenant requires the role {required!r} (options.expected_role)"
            return Outcome(Status.FAIL, expected, name, KEYS, note)
        if ctx.admin.is_admin:
            note = (
                "the Admin role is accepted by the vendor page, but a custom role with only the "
                "required permissions is strongly recommended (least privilege)"
            )
            if ctx.admin.judged_by:
                note += f"; {ctx.admin.judged_by}"
            return Outcome(
                Status.FAIL, "a custom security role", name, KEYS, note, severity=Severity.WARNING
            )
        return Outcome(Status.PASS, expected, name, KEYS)
