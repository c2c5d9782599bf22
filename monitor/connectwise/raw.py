"""One tenant read, as handed from ``collect`` (I/O) to ``normalize`` (pure): typed records.

Every list here is complete (all pages followed) and every body was parsed into the strict
records of :mod:`monitor.connectwise.records`, which remember each field ConnectWise left out,
sent as ``null`` or sent with the wrong type, so the normalizer can make exactly those settings
unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.connectwise.records import (
    AccountingPackageSetup,
    ApiMember,
    CustomizeItem,
    GLCaption,
    SecurityRole,
    SecurityRoleSetting,
    SetupScreen,
)
from monitor.core.snapshot import CredentialMode


@dataclass(frozen=True)
class RawTenant:
    tenant_id: str
    integration_member: str  # identifier of the monitored API member, from the tenant config
    mode: CredentialMode
    caller: str | None  # identifier of the member whose keys we used (from /system/mySecurity)
    api_members: tuple[ApiMember, ...]  # GET /system/apiMembers?conditions=identifier="..."
    role: SecurityRole | None  # GET /system/securityroles/{id}; None if not read
    # integration: GET /system/mySecurity (MySecurity rows); auditor: the role's settings
    role_settings: tuple[SecurityRoleSetting, ...]
    customize_items: tuple[CustomizeItem, ...] | None  # None = not readable (auditor)
    setup_screens: tuple[SetupScreen, ...] | None  # None = not needed (auditor)
    accounting_setup: tuple[AccountingPackageSetup, ...]  # GET /finance/accountingPackageSetup
    gl_captions: tuple[GLCaption, ...]  # GET /finance/glCaptions
    unknown: dict[str, str] = field(default_factory=dict)  # section -> why it was not read
    settings_endpoint: str = "/system/mySecurity"  # where role_settings came from, for reasons
