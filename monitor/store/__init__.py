"""The store: every table and every query, and the Alembic migrations of the whole schema.

    database.Database        engine, session(), migrate(), current_revision(), ping()
    runs.record_run          one check run of one tenant, in the caller's transaction
    history                  changes, snapshot_at, findings_at, open findings, summaries
    outbox, silences, waivers, report_reads, daemon_tables, cluster_tables, tickets
                             the queries of alerting, reports, the daemon and cluster mode
    fixes                    fix plans and the writes cwdrift sent (``cwdrift fix``)
    read_cache               ConnectWise answers that change only with an upgrade (StoredReads)

Every query module imports the table modules it queries. :func:`register_tables` imports every
module that defines tables (``TABLE_MODULE_NAMES``), so the whole schema is on
``SQLModel.metadata``: the Alembic environment calls it before it compares or migrates
(autogenerate compares against exactly this), ``migrate_to`` before it copies, and the test
suite's conftest before any test freezes time (which would otherwise leak freezegun's datetime
into the models). Importing the package does not: ``cwdrift history`` needs three table
modules, not the alert, daemon, cluster and ticket ones too. A new table module is one name in
``TABLE_MODULE_NAMES``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sqlmodel import Session

from monitor.store.database import Database

TABLE_MODULE_NAMES: tuple[str, ...] = (
    "tables",  # tenant, check_run, snapshot, setting_change, finding_state, finding_transition
    "alert_tables",  # alert_state, outbox, channel_status, silence
    "daemon_tables",  # daemon_node, tenant_schedule
    "waiver_tables",  # waiver, waiver_event
    "cluster_tables",  # cluster_node
    "fix_tables",  # fix_plan, fix_attempt
    "ticket_tables",  # ticket_incident
    "read_cache_tables",  # read_cache
)


def register_tables() -> tuple[ModuleType, ...]:
    """Import every module that defines tables (once; later calls are dictionary lookups)."""
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in TABLE_MODULE_NAMES)


# Session is the type of what Database.session() yields: readers outside the store (the web
# pages) take one without importing the ORM themselves.
__all__ = ["TABLE_MODULE_NAMES", "Database", "Session", "register_tables"]
