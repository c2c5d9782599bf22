"""Render simulator records as the JSON ConnectWise returns (names and shapes per spec 2025.8).

Callers hold ``SimulatorState.locked()`` while rendering. ``api_base`` is the absolute URL of the
tenant's ``.../apis/3.0`` root, used for ``_info.*_href`` links as ConnectWise does.
"""

from __future__ import annotations

from typing import Any

from monitor.simulator.catalog import ACCOUNTING_PACKAGES, SetupScreen, identifier_of, version_of
from monitor.simulator.desk import (
    BoardState,
    CompanyState,
    NamedState,
    NoteState,
    ServiceDesk,
    StatusState,
    TicketState,
)
from monitor.simulator.scenario import GL_FIELDS
from monitor.simulator.state import (
    SCENARIO_EPOCH,
    MemberState,
    RoleState,
    SettingState,
    TenantState,
)

Json = dict[str, Any]

_BUILD = "10431"  # an invented build number, stable so that version strings are deterministic


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


def customize_items(owner: RoleState, item_format: str, screens: list[SetupScreen]) -> list[Json]:
    return [
        {
            "id": owner.id * 1000 + screen.id,
            "customizeIdentifier": "SystemTableSetup",
            "itemIdentifier": item_identifier(screen, item_format),
        }
        for screen in screens
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
    """Flags cleared by a PATCH ``remove`` are omitted (ConnectWise omits null fields)."""
    return {
        "id": 1,
        "accountingPackage": accounting_package(tenant.package, api_base),
        **{key: value for key, value in tenant.accounting.items() if value is not None},
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


# -- the service desk (an MSP's own ConnectWise) ---------------------------------------------

_DESK_INFO = {"lastUpdated": SCENARIO_EPOCH, "updatedBy": "admin1"}


def _omit_none(row: Json) -> Json:
    return {key: value for key, value in row.items() if value is not None}


def company_reference(record: CompanyState, api_base: str) -> Json:
    return {
        "id": record.id,
        "identifier": record.identifier,
        "name": record.name,
        "_info": {"company_href": f"{api_base}/company/companies/{record.id}"},
    }


def company(record: CompanyState) -> Json:
    return {
        "id": record.id,
        "identifier": record.identifier,
        "name": record.name,
        "status": {"id": 1, "name": "Active"},
        "deletedFlag": False,
        "_info": dict(_DESK_INFO),
    }


def board_reference(record: BoardState, api_base: str) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "_info": {"board_href": f"{api_base}/service/boards/{record.id}"},
    }


def board(record: BoardState) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "location": {"id": 1, "name": "Main"},
        "department": {"id": 1, "identifier": "Services", "name": "Services"},
        "inactiveFlag": record.inactive,
        "projectFlag": False,
        "_info": dict(_DESK_INFO),
    }


def status_reference(record: StatusState, owner: BoardState, api_base: str) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "sort": record.sort_order,
        "_info": {"status_href": f"{api_base}/service/boards/{owner.id}/statuses/{record.id}"},
    }


def board_status(record: StatusState, owner: BoardState, api_base: str) -> Json:
    """A BoardStatus (note: ``inactive`` and ``closedStatus`` here, not ``*Flag``)."""
    return {
        "id": record.id,
        "name": record.name,
        "board": board_reference(owner, api_base),
        "sortOrder": record.sort_order,
        "displayOnBoard": True,
        "inactive": record.inactive,
        "closedStatus": record.closed,
        "timeEntryNotAllowed": False,
        "defaultFlag": record.default,
        "escalationStatus": "Resolved" if record.closed else "NotResponded",
        "customerPortalFlag": False,
        "_info": dict(_DESK_INFO),
    }


def service_type(record: NamedState, owner: BoardState, api_base: str) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "category": "Reactive",
        "defaultFlag": record.default,
        "inactiveFlag": False,
        "board": board_reference(owner, api_base),
        "_info": dict(_DESK_INFO),
    }


def type_reference(record: NamedState, owner: BoardState, api_base: str) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "_info": {"type_href": f"{api_base}/service/boards/{owner.id}/types/{record.id}"},
    }


def priority_reference(record: NamedState, api_base: str) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "sort": record.sort,
        "_info": {"priority_href": f"{api_base}/service/priorities/{record.id}"},
    }


def priority(record: NamedState) -> Json:
    return {
        "id": record.id,
        "name": record.name,
        "sortOrder": record.sort,
        "defaultFlag": record.default,
        "_info": dict(_DESK_INFO),
    }


def ticket(record: TicketState, desk: ServiceDesk, api_base: str) -> Json:
    """A Ticket. ``initial*`` and ``processNotifications`` are never returned (spec); null fields
    are omitted."""
    owner = desk.board(record.board_id)
    ticket_type = next((t for t in owner.types if t.id == record.type_id), None)
    return _omit_none(
        {
            "id": record.id,
            "summary": record.summary,
            "recordType": "ServiceTicket",
            "board": board_reference(owner, api_base),
            "status": status_reference(owner.status(record.status_id), owner, api_base),
            "company": company_reference(desk.company(record.company_id), api_base),
            "type": type_reference(ticket_type, owner, api_base) if ticket_type else None,
            "priority": priority_reference(desk.priority(record.priority_id), api_base),
            "severity": "Medium",
            "impact": "Medium",
            "externalXRef": record.external_xref,
            "closedDate": record.closed_date,
            "closedBy": record.closed_by,
            "closedFlag": record.closed,
            "_info": {
                **record.info,
                "notes_href": f"{api_base}/service/tickets/{record.id}/notes",
            },
        }
    )


def note(record: NoteState, api_base: str) -> Json:
    """A ServiceNote; ``processNotifications`` is never returned."""
    return {
        "id": record.id,
        "ticketId": record.ticket_id,
        "text": record.text,
        "detailDescriptionFlag": record.detail,
        "internalAnalysisFlag": record.internal,
        "resolutionFlag": record.resolution,
        "issueFlag": False,
        "member": {
            "id": record.member_id,
            "identifier": record.member_identifier,
            "name": record.member_name,
            "_info": {"member_href": f"{api_base}/system/members/{record.member_id}"},
        },
        "dateCreated": record.created,
        "createdBy": record.member_identifier,
        "internalFlag": record.internal,
        "externalFlag": record.detail or record.resolution,
        "_info": {"lastUpdated": record.created, "updatedBy": record.member_identifier},
    }
