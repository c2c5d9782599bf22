"""The store: SQLModel tables, Alembic migrations, recording checks and querying history.

Database(url)                 engine, session(), migrate(), current_revision(), ping()
checks.record_check(...)      one check of one tenant, in the caller's transaction
history.*                     changes, snapshot_at, findings_at, open_findings, summaries

Every ``monitor/store/<name>_tables.py`` is imported here, once, when the store is first imported:
the whole schema is then on ``SQLModel.metadata`` before any session or migration needs it (and
before a test freezes time, which would otherwise leak freezegun's datetime into the models).
"""

import importlib
import pkgutil

import monitor.store.tables  # noqa: F401  (registers the core tables)
from monitor.store.database import Database

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_tables"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Database"]
