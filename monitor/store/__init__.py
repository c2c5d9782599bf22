"""The store: every table and every query, and the Alembic migrations of the whole schema.

    database.Database        engine, session(), migrate(), current_revision(), ping()
    runs.record_run          one check run of one tenant, in the caller's transaction
    history                  changes, snapshot_at, findings_at, open findings, summaries
    outbox, silences, waivers, report_reads, daemon_tables, cluster_tables, tickets
                             the queries of alerting, reports, the daemon and cluster mode
    fixes                    fix plans and the writes cwdrift sent (``cwdrift fix``)
    read_cache               ConnectWise answers that change only with an upgrade (StoredReads)

``TABLE_MODULES`` lists every module that defines tables. Importing the package imports them
all, once, so the whole schema is on ``SQLModel.metadata`` before any session or migration
needs it (Alembic's autogenerate compares against exactly this), and before a test freezes
time (which would otherwise leak freezegun's datetime into the models). A new table module is
one line here.
"""

from types import ModuleType

from sqlmodel import Session

from monitor.store import (
    alert_tables,
    cluster_tables,
    daemon_tables,
    fix_tables,
    read_cache_tables,
    tables,
    ticket_tables,
    waiver_tables,
)
from monitor.store.database import Database

TABLE_MODULES: tuple[ModuleType, ...] = (
    tables,  # tenant, check_run, snapshot, setting_change, finding_state, finding_transition
    alert_tables,  # alert_state, outbox, channel_status, silence
    daemon_tables,  # daemon_node, tenant_schedule
    waiver_tables,  # waiver, waiver_event
    cluster_tables,  # cluster_node
    fix_tables,  # fix_plan, fix_attempt
    ticket_tables,  # ticket_incident
    read_cache_tables,  # read_cache
)

# Session is the type of what Database.session() yields: readers outside the store (the web
# pages) take one without importing the ORM themselves.
__all__ = ["TABLE_MODULES", "Database", "Session"]
