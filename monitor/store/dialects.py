"""The dialect's own ``INSERT .. ON CONFLICT`` builder, imported on first use.

SQLAlchemy's generic ``insert`` has no ON CONFLICT; PostgreSQL's and SQLite's do. Importing
PostgreSQL's dialect costs ~60 ms, which a check on SQLite (the single-node default) never pays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def upsert_insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """``insert(table)`` for ``dialect`` (``postgresql``, else SQLite), with ON CONFLICT."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
