"""Rule kind ``member_role``: the API member has the custom security role (or, accepted, Admin).

The vendor page: 'The "Role ID" field must be set to the custom security role that you created
(STRONGLY RECOMMENDED). Or to "Admin" role.' So an Admin role is not drift, but it is reported as a
least-privilege ``warning``. ``TenantOptions.expected_role`` pins the exact role name instead.

Fixed by ``PATCH /system/apiMembers/{id}`` replacing ``securityRole`` with ``{"id": N}`` (a shape
inferred from ConnectWise's PATCH rules, not confirmed: connectwise-api.md §7, §10 question 11),
and only to the configured ``expected_role``, found by name among the roles the credentials can
read; never to an Admin role. Without ``expected_role`` cwdrift cannot know the right role.
"""

from __future__ import annotations

from monitor.core.findings import Severity, Status
from monitor.core.remedy import (
    API_MEMBER,
    MEMBER_EDIT,
    FieldChange,
    PatchOperation,
    PersonNeeded,
    Remedy,
    RemedyContext,
    RoleOption,
    Write,
)
from monitor.core.rules.base import NOT_SET, Context, Outcome, Requirement

CUSTOM = "a custom security role (or Admin)"
KEYS = ("member.role", "member.role_id", "role.name", "role.admin", "role.inactive")
ROLE_SHAPE_INFERRED = (
    'the securityRole value {"id": N} is inferred from ConnectWise\'s PATCH rules, not '
    "confirmed; the re-read decides whether it held"
)


class MemberRoleRequirement(Requirement):
    kind = "member_role"
    writable = True

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

    def remedy(self, ctx: RemedyContext) -> Remedy:
        wanted = ctx.options.expected_role
        if wanted is None:
            return PersonNeeded(
                "no options.expected_role is configured for this tenant, so cwdrift does not "
                "know which role is right"
            )
        member_id = ctx.targets.api_member_id
        if member_id is None or ctx.snapshot.value("member.found") is not True:
            return PersonNeeded("the API member was not found")
        role = _choose_role(wanted, ctx.targets.roles, ctx.targets.roles_unread)
        if isinstance(role, PersonNeeded):
            return role
        changes = (
            FieldChange(
                "member.role",
                "securityRole",
                "API member security role",
                ctx.snapshot.value("member.role"),
                role.name,
            ),
            FieldChange(
                "member.role_id",
                "securityRole",
                "API member security role id",
                ctx.snapshot.value("member.role_id"),
                role.id,
            ),
        )
        operation = PatchOperation("replace", "securityRole", {"id": role.id})
        return Write(
            API_MEMBER, member_id, (operation,), changes, MEMBER_EDIT, inferred=ROLE_SHAPE_INFERRED
        )

    def automation_risk(self) -> str | None:
        return (
            "changing the member's role changes everything the integration may do, which "
            "cwdrift cannot see"
        )


def _choose_role(
    wanted: str, roles: tuple[RoleOption, ...] | None, unread: str
) -> RoleOption | PersonNeeded:
    """The one readable, active, non-Admin role named ``wanted``; otherwise why not."""
    if roles is None:
        return PersonNeeded(f"cwdrift could not look up the role {wanted!r}: {unread}")
    name = wanted.strip().casefold()
    found = [role for role in roles if role.name.strip().casefold() == name]
    if not found:
        return PersonNeeded(
            f"no security role named {wanted!r} among the {len(roles)} roles the credentials "
            "can read"
        )
    if len(found) > 1:
        ids = ", ".join(str(role.id) for role in found)
        return PersonNeeded(f"{len(found)} security roles are named {wanted!r} (ids {ids})")
    role = found[0]
    if role.admin or name == "admin":
        return PersonNeeded("cwdrift never gives the API member an Admin role")
    if role.inactive:
        return PersonNeeded(f"the role {wanted!r} is inactive")
    return role
