"""Read everything one tenant check needs, in one pass, into a :class:`RawTenant`.

A snapshot is complete or it is not a snapshot: any failed read raises the typed error from
:mod:`monitor.errors` and nothing is returned. The only gaps allowed are the designed ones,
recorded in ``RawTenant.unknown`` with the reason:

* ``customize`` in auditor mode: ConnectWise only exposes the *caller's* Table Setup customize
  list (``/system/mySecurity/customizeItems/``); there is no per-role endpoint
  (../shared/connectwise-api.md §2, §10 question 1);
* ``role`` in integration mode when the role record answers 403: the Mobius role does not grant
  System > Security Roles, and it should not have to.

Credential modes (see monitor.core.snapshot.CredentialMode): the keys belong either to the monitored
integration member itself (integration mode: its permissions are ``/system/mySecurity``), or to a
separate read-only auditor member (auditor mode: the member's role is read by id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from monitor.connectwise.client import ConnectWiseClient
from monitor.connectwise.conditions import UnsafeCondition, equals
from monitor.connectwise.normalize import find_member
from monitor.connectwise.raw import Json, RawTenant
from monitor.core.snapshot import CredentialMode
from monitor.errors import ConfigError, CwdriftError, MalformedResponse, PermissionDenied

log = logging.getLogger("cwdrift.connectwise")

AUDITOR_CUSTOMIZE_REASON = (
    "auditor credentials cannot read another member's Table Setup customize list "
    "(ConnectWise has no per-role endpoint); use the integration member's keys to verify it"
)


async def collect_tenant(
    client: ConnectWiseClient, *, tenant_id: str, integration_member: str
) -> RawTenant:
    """One complete read of a tenant, or a typed error (never a partial RawTenant)."""
    conditions = member_condition(integration_member, tenant_id=tenant_id)
    my_security, api_members, accounting, gl_captions = await _together(
        client.get_list("/system/mySecurity"),
        client.get_list("/system/apiMembers", {"conditions": conditions}),
        client.get_list("/finance/accountingPackageSetup"),
        client.get_list("/finance/glCaptions"),
    )
    caller = caller_of(my_security)
    mode = (
        CredentialMode.INTEGRATION
        if caller.casefold() == integration_member.strip().casefold()
        else CredentialMode.AUDITOR
    )
    member = find_member(api_members, integration_member)
    role_id = _role_id(member)
    _warn_if_several(tenant_id, "/finance/accountingPackageSetup", accounting)
    _warn_if_several(tenant_id, "/finance/glCaptions", gl_captions)
    log.debug("tenant %s: caller %s, %s mode", tenant_id, caller, mode.value)

    unknown: dict[str, str] = {}
    role: Json | None = None
    customize_items: list[Json] | None = None
    setup_screens: list[Json] | None = None
    if mode is CredentialMode.INTEGRATION:
        role_settings = my_security
        customize_items, setup_screens, role = await _together(
            client.get_list("/system/mySecurity/customizeItems/"),
            client.get_list("/system/setupScreens"),
            _role_if_readable(client, role_id, unknown),
        )
    else:
        unknown["customize"] = AUDITOR_CUSTOMIZE_REASON
        role_settings = []
        if role_id is not None:
            role, role_settings = await _together(
                client.get_one(f"/system/securityroles/{role_id}"),
                client.get_list(f"/system/securityRoles/{role_id}/settings"),
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


def caller_of(rows: list[Json]) -> str:
    """The identifier of the member whose keys made the request (every mySecurity row names it)."""
    callers: set[str] = set()
    for row in rows:
        member = row.get("member")
        identifier = member.get("identifier") if isinstance(member, dict) else None
        if isinstance(identifier, str) and identifier.strip():
            callers.add(identifier.strip())
    if len({c.casefold() for c in callers}) != 1:
        found = "no member" if not callers else f"several members ({', '.join(sorted(callers))})"
        raise MalformedResponse(
            f"/system/mySecurity named {found}, so it is unknown whose keys these are",
            endpoint="/system/mySecurity",
            fix="check that the keys belong to an API member with a security role",
        )
    return callers.pop()


def _role_id(member: Json | None) -> int | None:
    if member is None:
        return None
    reference = member.get("securityRole")
    role_id = reference.get("id") if isinstance(reference, dict) else None
    return role_id if isinstance(role_id, int) and not isinstance(role_id, bool) else None


async def _role_if_readable(
    client: ConnectWiseClient, role_id: int | None, unknown: dict[str, str]
) -> Json | None:
    """The role record in integration mode; a 403 is expected and recorded as unknown."""
    if role_id is None:
        return None
    try:
        return await client.get_one(f"/system/securityroles/{role_id}")
    except PermissionDenied as exc:
        permission = exc.permission or "System > Security Roles: Inquire"
        unknown["role"] = (
            f"the integration member's keys cannot read its role record ({permission} is "
            "not granted, and Mobius does not need it); its permissions were read from "
            "/system/mySecurity instead"
        )
        return None


def _warn_if_several(tenant_id: str, endpoint: str, records: list[Json]) -> None:
    if len(records) > 1:
        ids = sorted(str(r.get("id")) for r in records)
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
