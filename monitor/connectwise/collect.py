"""Read everything one tenant check needs, in one pass, into a :class:`RawTenant`.

A snapshot is complete or it is not a snapshot: any failed read raises the typed error from
:mod:`monitor.errors` and nothing is returned. The only gaps allowed are the designed ones,
recorded in ``RawTenant.unknown`` with the reason:

* ``customize`` in auditor mode: ConnectWise only exposes the *caller's* Table Setup customize
  list (``/system/mySecurity/customizeItems/``); there is no per-role endpoint
  (../shared/connectwise-api.md §2, §10 question 1);
* ``role`` in integration mode when the role record answers 403: the Mobius role does not grant
  System > Security Roles, and it should not have to;
* ``role`` (and in auditor mode ``permission``, read through the role) when the API member is
  not found or its security role id was not returned.

Everything else ConnectWise left out or sent in an unexpected form is decided by the typed
records (monitor/connectwise/records.py): a body of the wrong shape or an unidentifiable row is
a MalformedResponse here; a defective field becomes one unknown setting in ``normalize``.

Only the reads that can change a verdict are made (../shared/connectwise-api.md §4 for
``fields=``; ``read_cache.py`` for what is remembered and what makes a check read it again):

* lists of records ask for just the fields the typed records read (``fields_of``); permission
  rows are never filtered (least privilege is judged on every row), only trimmed to the columns
  the records read (98 % of a steady check's bytes are the caller's permission rows);
* the setup-screen catalogue comes from the client's memory when it holds one; a Table Setup
  customize item the remembered catalogue does not know makes this check read it again and
  judge with the fresh one;
* in integration mode, a role record refused (403) before for the same role id is not asked
  for again while the caller's own rows still deny System > Security Roles: Inquire; the
  ``role`` unknown is recorded exactly as when refused.

Credential modes (see monitor.core.snapshot.CredentialMode): the keys belong either to the monitored
integration member itself (integration mode: its permissions are ``/system/mySecurity``), or to a
separate read-only auditor member (auditor mode: the member's role is read by id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from monitor import permissions
from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.conditions import UnsafeCondition, equals
from monitor.connectwise.normalize import unresolved_items
from monitor.connectwise.raw import RawTenant
from monitor.connectwise.read_cache import ROLE_REFUSED as ROLE_REFUSED_KIND
from monitor.connectwise.read_cache import SCREENS as SCREENS_KIND
from monitor.connectwise.read_cache import RoleRefusal, TenantMemory
from monitor.connectwise.records import (
    ACCOUNTING_SETUP,
    API_MEMBERS,
    CUSTOMIZE_ITEMS,
    GL_CAPTIONS,
    MY_SECURITY,
    SETUP_SCREENS,
    AccountingPackageSetup,
    ApiMember,
    CustomizeItem,
    GLCaption,
    MySecurity,
    Record,
    SecurityRole,
    SecurityRoleSetting,
    SetupScreen,
    fields_of,
    find_member,
    parse_one,
    parse_rows,
)
from monitor.core.snapshot import CredentialMode
from monitor.errors import ConfigError, CwdriftError, MalformedResponse, PermissionDenied

log = logging.getLogger("cwdrift.connectwise")

# ``fields=`` of each list, derived from its typed record: every row, only the columns read.
PERMISSION_FIELDS = fields_of(MySecurity)
SETTING_FIELDS = fields_of(SecurityRoleSetting)
MEMBER_FIELDS = fields_of(ApiMember)
ACCOUNTING_FIELDS = fields_of(AccountingPackageSetup)
GL_FIELDS = fields_of(GLCaption)
SCREEN_FIELDS = fields_of(SetupScreen)

AUDITOR_CUSTOMIZE_REASON = (
    "auditor credentials cannot read another member's Table Setup customize list "
    "(ConnectWise has no per-role endpoint); use the integration member's keys to verify it"
)


async def collect_tenant(
    client: ConnectWiseClient, *, tenant_id: str, integration_member: str
) -> RawTenant:
    """One complete read of a tenant, or a typed error (never a partial RawTenant).

    Each body is parsed into typed records (monitor/connectwise/records.py) as it arrives: a
    body of the wrong shape, or rows that cannot be identified, raise MalformedResponse here.
    """
    conditions = member_condition(integration_member, tenant_id=tenant_id)
    my_security_body, members_body, accounting_body, gl_body = await _together(
        client.get_list(MY_SECURITY, {"fields": PERMISSION_FIELDS}),
        client.get_list(API_MEMBERS, {"conditions": conditions, "fields": MEMBER_FIELDS}),
        client.get_list(ACCOUNTING_SETUP, {"fields": ACCOUNTING_FIELDS}),
        client.get_list(GL_CAPTIONS, {"fields": GL_FIELDS}),
    )
    my_security = parse_rows(my_security_body, MySecurity, endpoint=MY_SECURITY)
    api_members = parse_rows(members_body, ApiMember, endpoint=API_MEMBERS)
    accounting = parse_rows(accounting_body, AccountingPackageSetup, endpoint=ACCOUNTING_SETUP)
    gl_captions = parse_rows(gl_body, GLCaption, endpoint=GL_CAPTIONS)
    caller = caller_of(my_security)
    mode = (
        CredentialMode.INTEGRATION
        if caller.casefold() == integration_member.strip().casefold()
        else CredentialMode.AUDITOR
    )
    member = find_member(api_members, integration_member)
    role_id, no_role = _role_id(member, integration_member)
    _warn_if_several(tenant_id, ACCOUNTING_SETUP, accounting)
    _warn_if_several(tenant_id, GL_CAPTIONS, gl_captions)
    log.debug("tenant %s: caller %s, %s mode", tenant_id, caller, mode.value)

    unknown: dict[str, str] = {}
    if no_role and member is not None:
        unknown["role"] = no_role
    role: SecurityRole | None = None
    role_settings: tuple[SecurityRoleSetting, ...] = my_security
    settings_endpoint = MY_SECURITY
    customize_items: tuple[CustomizeItem, ...] | None = None
    setup_screens: tuple[SetupScreen, ...] | None = None
    if mode is CredentialMode.INTEGRATION:
        memory = client.memory
        remembered = memory.screens()
        items_body, screens, role = await _together(
            client.get_list(CUSTOMIZE_ITEMS),
            _read_screens(client) if remembered is None else _given(remembered),
            _role_if_readable(client, role_id, unknown, may_read=_may_read_roles(my_security)),
        )
        customize_items = parse_rows(items_body, CustomizeItem, endpoint=CUSTOMIZE_ITEMS)
        if remembered is not None and unresolved_items(customize_items, screens):
            # An item the remembered catalogue does not know: a table added since. Read it
            # again and judge with the fresh one (still unknown, it stays unknown).
            log.info("tenant %s: a customize item is not in the remembered catalogue", tenant_id)
            memory.forget(SCREENS_KIND)
            screens = await _read_screens(client)
        setup_screens = screens
    else:
        unknown["customize"] = AUDITOR_CUSTOMIZE_REASON
        role_settings = ()
        if role_id is None:
            # The role's permissions are read through the member: without it they are unknown.
            unknown["role"] = unknown["permission"] = no_role
        else:
            role_endpoint = f"/system/securityroles/{role_id}"
            settings_endpoint = f"/system/securityRoles/{role_id}/settings"
            role_body, settings_body = await _together(
                client.get_one(role_endpoint),
                client.get_list(settings_endpoint, {"fields": SETTING_FIELDS}),
            )
            role = parse_one(role_body, SecurityRole, endpoint=role_endpoint)
            role_settings = parse_rows(
                settings_body, SecurityRoleSetting, endpoint=settings_endpoint
            )
    return RawTenant(
        tenant_id=tenant_id,
        integration_member=integration_member,
        mode=mode,
        caller=caller,
        api_members=api_members,
        role=role,
        role_settings=role_settings,
        customize_items=customize_items,
        setup_screens=setup_screens,
        accounting_setup=accounting,
        gl_captions=gl_captions,
        unknown=unknown,
        settings_endpoint=settings_endpoint,
    )


def member_condition(identifier: str, *, tenant_id: str) -> str:
    """``identifier="X"`` for ``conditions``; refuses characters that would change the query."""
    try:
        return equals("identifier", identifier.strip())
    except UnsafeCondition as exc:
        raise ConfigError(
            f"integration_member {identifier!r} is not a valid ConnectWise member identifier "
            f"({exc})",
            location=f"tenant {tenant_id}: integration_member",
            fix="use the API member's identifier as shown in System > Members > API Members",
        ) from None


def caller_of(rows: tuple[MySecurity, ...]) -> str:
    """The identifier of the member whose keys made the request (every mySecurity row names it)."""
    callers: set[str] = set()
    for row in rows:
        identifier = row.member_identifier
        if identifier is not None and identifier.strip():
            callers.add(identifier.strip())
    if len({c.casefold() for c in callers}) != 1:
        found = "no member" if not callers else f"several members ({', '.join(sorted(callers))})"
        raise MalformedResponse(
            f"{MY_SECURITY} named {found}, so it is unknown whose keys these are",
            endpoint=MY_SECURITY,
            fix="check that the keys belong to an API member with a security role",
        )
    return callers.pop()


def _role_id(member: ApiMember | None, identifier: str) -> tuple[int | None, str]:
    """The member's security role id, or None and why it is not known."""
    if member is None:
        return None, (
            f"the API member {identifier!r} was not found, so its security role could not be read"
        )
    problem = member.problem("securityRole.id")
    role_id = member.value("securityRole.id")
    if problem is not None or not isinstance(role_id, int):
        why = problem.reason if problem else "the API member has no security role"
        return None, f"{why}, so the member's security role could not be read"
    return role_id, ""


async def _read_screens(client: ConnectWiseClient) -> tuple[SetupScreen, ...]:
    """The setup-screen catalogue from ConnectWise, remembered (an identical one is shared)."""
    body = await client.get_list(SETUP_SCREENS, {"fields": SCREEN_FIELDS})
    return client.memory.remember_screens(parse_rows(body, SetupScreen, endpoint=SETUP_SCREENS))


async def _given(screens: tuple[SetupScreen, ...]) -> tuple[SetupScreen, ...]:
    return screens


def _may_read_roles(my_security: tuple[MySecurity, ...]) -> bool:
    """Whether the caller's own rows could let it read a role record: unless a System >
    Security Roles row says Inquire is "None", it may (if in doubt, read)."""
    levels = {
        row.inquireLevel
        for row in my_security
        if (row.module or "").casefold() == "system"
        and (row.function or "").casefold() == "security roles"
    }
    return levels != {"None"}


async def _role_if_readable(
    client: ConnectWiseClient,
    role_id: int | None,
    unknown: dict[str, str],
    *,
    may_read: bool,
) -> SecurityRole | None:
    """The role record in integration mode; a 403 is expected and recorded as unknown.

    A refusal is remembered for the role id; while it is, and the caller's rows still deny the
    read (``may_read`` false), the record is not asked for again.
    """
    if role_id is None:
        return None
    memory: TenantMemory = client.memory
    refusal = None if may_read else memory.role_refusal(role_id)
    if refusal is not None:
        unknown["role"] = _refused_reason(refusal.permission)
        return None
    endpoint = f"/system/securityroles/{role_id}"
    try:
        role = parse_one(await client.get_one(endpoint), SecurityRole, endpoint=endpoint)
    except PermissionDenied as exc:
        permission = exc.permission or permissions.ROLES_INQUIRE
        memory.remember_refusal(RoleRefusal(role_id, permission))
        unknown["role"] = _refused_reason(permission)
        return None
    memory.forget(ROLE_REFUSED_KIND)
    return role


def _refused_reason(permission: str) -> str:
    return (
        f"the integration member's keys cannot read its role record ({permission} is "
        "not granted, and Mobius does not need it); its permissions were read from "
        "/system/mySecurity instead"
    )


def _warn_if_several(tenant_id: str, endpoint: str, records: tuple[Record, ...]) -> None:
    if len(records) > 1:
        ids = sorted(str(getattr(r, "id", None)) for r in records)
        log.warning(
            "tenant %s: %s returned %d records (ids %s); using the lowest id",
            tenant_id,
            endpoint,
            len(records),
            ", ".join(ids),
        )


async def _together(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
    """Run independent reads concurrently; the first failure cancels the rest and is raised.

    A TaskGroup rather than ``asyncio.gather``: gather would leave the other reads running
    after one fails, spending the host's rate budget on a check that is already lost.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
    except BaseExceptionGroup as failures:
        raise _first_error(failures) from None
    return [task.result() for task in tasks]


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Prefer our own typed errors; otherwise the first exception in the group."""
    flat: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = list(exc.exceptions)
        else:
            flat.append(exc)
    for exc in flat:
        if isinstance(exc, CwdriftError):
            return exc
    return flat[0]
