"""Render simulator records as the JSON ConnectWise returns (names and shapes per spec 2025.8).

Callers hold ``SimulatorState.locked()`` while rendering. ``api_base`` is the absolute URL of the
tenant's ``.../apis/3.0`` root, used for ``_info.*_href`` links as ConnectWise does.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.simulator.catalog import ACCOUNTING_PACKAGES, SETUP_SCREENS, SetupScreen, identifier_of
from monitor.simulator.scenario import GL_FIELDS
from monitor.simulator.state import MemberState, RoleState, SettingState, TenantState

Json = dict[str, Any]

_BUILD = "10431"  # an invented build number, stable so that version strings are deterministic


def version_of(codebase: str) -> str:
    """'v2025_1/' -> '2025.1'; on-premise 'v4_6_release/' has no version in it: report 2025.1."""
    match = re.fullmatch(r"v(\d{4})_(\d+)/", codebase)
    return f"{match.group(1)}.{match.group(2)}" if match else "2025.1"


def company_info(tenant: TenantState) -> Json:
    """``/login/companyinfo/{id}``: PascalCase keys, IsCloud a string, Codebase ends in "/"."""
    return {
        "CompanyName": tenant.name,
        "Codebase": tenant.codebase,
        "VersionCode": f"v{version_of(tenant.codebase)}",
        "VersionNumber": f"v4.6.{_BUILD}",
        "CompanyID": tenant.company_id,
        "IsCloud": "True" if tenant.cloud else "False",
    }


def system_info(tenant: TenantState) -> Json:
    return {
        "version": f"v{version_of(tenant.codebase)}.{_BUILD}",
        "isCloud": tenant.cloud,
        "serverTimeZone": "Eastern Standard Time",
        "licenseBits": [
            {"name": "Procurement", "activeFlag": True},
            {"name": "Project", "activeFlag": True},
            {"name": "Sales", "activeFlag": True},
        ],
        "cloudRegion": "NA" if tenant.cloud else "",
        "maxWorkFlowRecordsAllowed": 500,
    }


def role(record: RoleState) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "roleType": record.role_type,
        "adminFlag": record.admin,
        "inactiveFlag": record.inactive,
        "_info": dict(record.info),
    }


def role_reference(record: RoleState, api_base: str) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "_info": {"securityRole_href": f"{api_base}/system/securityroles/{record.id}"},
    }


def setting(record: SettingState, owner: RoleState) -> Json:
    """A SecurityRoleSetting row. An admin role reads "All" everywhere, as in the UI."""
    mf = record.function
    levels = {op: ("All" if owner.admin else level) for op, level in record.levels.items()}
    return {
        "id": record.id,
        "addLevel": levels["add"],
        "editLevel": levels["edit"],
        "deleteLevel": levels["delete"],
        "inquireLevel": levels["inquire"],
        "moduleFunctionName": mf.function,
        "moduleFunctionDescription": mf.function,
        "myAllFlag": mf.my_all,
        "moduleFunctionIdentifier": mf.function_identifier,
        "reportFlag": mf.report,
        "restrictFlag": False,
        "customFlag": mf.custom,
        "moduleDescription": mf.module,
        "moduleIdentifier": mf.module_identifier,
        "moduleName": mf.module,
        "sortOrder": mf.sort_order,
        "_info": dict(record.info),
    }


def member_reference(member: MemberState, api_base: str) -> Json:
    return {
        "id": member.id,
        "identifier": member.identifier,
        "name": member.name,
        "_info": {"member_href": f"{api_base}/system/members/{member.id}"},
    }


def my_security(record: SettingState, owner: RoleState, caller: MemberState, api_base: str) -> Json:
    """A MySecurity row: the setting fields, then ``member`` (the caller), then ``_info``."""
    row = setting(record, owner)
    info = row.pop("_info")
    row["member"] = member_reference(caller, api_base)
    row["_info"] = info
    return row


def item_identifier(screen: SetupScreen, item_format: str) -> str:
    """The real format is undocumented: each tenant picks one (``customize_item_format``)."""
    if item_format == "id":
        return str(screen.id)
    if item_format == "category_name":
        return screen.label
    return screen.name


def customize_items(owner: RoleState, item_format: str) -> list[Json]:
    return [
        {
            "id": owner.id * 1000 + screen.id,
            "customizeIdentifier": "SystemTableSetup",
            "itemIdentifier": item_identifier(screen, item_format),
        }
        for screen in SETUP_SCREENS
        if screen.id in owner.customize
    ]


def setup_screen(screen: SetupScreen) -> Json:
    return {
        "id": screen.id,
        "category": screen.category,
        "name": screen.name,
        "description": screen.description,
        "moduleDescription": screen.module,
        "moduleIdentifier": identifier_of(screen.module),
        "moduleName": screen.module,
        "_info": {"lastUpdated": "2024-01-01T00:00:00Z", "updatedBy": "ConnectWise"},
    }


def api_member(member: MemberState, tenant: TenantState, api_base: str) -> Json:
    row: Json = {
        "id": member.id,
        "identifier": member.identifier,
        "name": member.name,
        "emailAddress": f"{member.identifier.lower()}@{tenant.company_id.lower()}.example",
        "inactiveFlag": member.inactive,
        "securityRole": role_reference(tenant.roles[member.role_id], api_base),
        "notes": "",
        "excludedServiceBoardIds": [],
        "blockPriceFlag": False,
        "blockCostFlag": False,
        "_info": dict(member.info),
    }
    if member.inactive_date is not None:
        row["inactiveDate"] = member.inactive_date
    return row


def member(record: MemberState, tenant: TenantState, api_base: str) -> Json:
    """A Member row: API members are licence class "A"."""
    owner = tenant.roles[record.role_id]
    row: Json = {
        "id": record.id,
        "identifier": record.identifier,
        "licenseClass": "A",
        "firstName": record.name,
        "lastName": "",
        "inactiveFlag": record.inactive,
        "adminFlag": owner.admin,
        "defaultEmail": "Office",
        "defaultPhone": "Office",
        "securityRole": role_reference(owner, api_base),
        "_info": dict(record.info),
    }
    if record.inactive_date is not None:
        row["inactiveDate"] = record.inactive_date
    return row


def accounting_package(identifier: str, api_base: str) -> Json:
    for package_id, package_identifier, name in ACCOUNTING_PACKAGES:
        if package_identifier == identifier:
            return {
                "id": package_id,
                "identifier": package_identifier,
                "name": name,
                "_info": {
                    "accountingPackage_href": f"{api_base}/finance/accountingPackages/{package_id}"
                },
            }
    raise ValueError(f"unknown accounting package {identifier!r}")


def accounting_packages() -> list[Json]:
    return [{"id": i, "identifier": ident, "name": name} for i, ident, name in ACCOUNTING_PACKAGES]


def accounting_setup(tenant: TenantState, api_base: str) -> Json:
    return {
        "id": 1,
        "accountingPackage": accounting_package(tenant.package, api_base),
        **tenant.accounting,
        "_info": dict(tenant.accounting_info),
    }


def gl_captions(tenant: TenantState) -> Json:
    """Unset captions and types are omitted (ConnectWise omits null fields)."""
    row: Json = {"id": 1}
    for key in GL_FIELDS:  # spec order, whatever order the scenario or mutators used
        value = tenant.gl.get(key)
        if value:
            row[key] = value
    row["_info"] = dict(tenant.gl_info)
    return row
