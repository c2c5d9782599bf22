"""The ConnectWise security-role permissions cwdrift names, in the UI's words (Module > Function:
Level), one home for every message that tells a person which checkbox a role lacks.

Read permissions are [INF] in ../shared/connectwise-api.md §9 (module of each endpoint); the
Service Desk ones are unverified on a real tenant (connectwise-audit-tickets.md §4.6).
"""

from __future__ import annotations

ROLES_INQUIRE = "System > Security Roles: Inquire"
MEMBERS_INQUIRE = "System > Member Maintenance: Inquire"
MEMBERS_EDIT = "System > Member Maintenance: Edit"
TABLE_SETUP_INQUIRE = "System > Table Setup: Inquire"
ACCOUNTING_INQUIRE = "Finance > Accounting Interface: Inquire"
ACCOUNTING_EDIT = "Finance > Accounting Interface: Edit"
COMPANIES_INQUIRE = "Companies > Company Maintenance: Inquire"
TICKETS_INQUIRE = "Service Desk > Service Tickets: Inquire"
TICKETS_ADD = "Service Desk > Service Tickets: Add"
TICKETS_EDIT = "Service Desk > Service Tickets: Edit"
