"""The raw payloads of one tenant read, as handed from ``collect`` (I/O) to ``normalize`` (pure).

Every list here is complete (all pages followed). Values are the JSON ConnectWise returned,
untouched, so normalizer tests can be table-driven on real payload shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.core.snapshot import CredentialMode

Json = dict[str, Any]


@dataclass(frozen=True)
class RawTenant:
    tenant_id: str
    integration_member: str  # identifier of the monitored API member, from the tenant config
    mode: CredentialMode
    caller: str | None  # identifier of the member whose keys we used (from /system/mySecurity)
    api_members: list[Json]  # GET /system/apiMembers?conditions=identifier="..."
    role: Json | None  # GET /system/securityroles/{id}; None if not readable in integration mode
    role_settings: list[Json]  # integration: GET /system/mySecurity; auditor: role settings
    customize_items: list[Json] | None  # GET /system/mySecurity/customizeItems/ (None = auditor)
    setup_screens: list[Json] | None  # GET /system/setupScreens (None = not needed / auditor)
    accounting_setup: list[Json]  # GET /finance/accountingPackageSetup
    gl_captions: list[Json]  # GET /finance/glCaptions
    unknown: dict[str, str] = field(default_factory=dict)  # section -> why it was not read
