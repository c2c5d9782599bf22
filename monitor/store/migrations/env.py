"""Alembic environment. Run by ``Database.migrate()`` with a connection, or by the alembic CLI.

``Database.migrate()`` passes its connection (already inside a locked transaction) through
``config.attributes["connection"]``; the CLI path builds an engine from ``sqlalchemy.url``.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from monitor.store import register_tables

register_tables()  # every table module (TABLE_MODULE_NAMES) on the metadata compared below
target_metadata = SQLModel.metadata

# Tables that live in our database but are not ours: Procrastinate creates and migrates its own
# (revision 0005_cluster applies its schema), so autogenerate must neither drop nor diff them.
FOREIGN_TABLE_PREFIXES = ("procrastinate_",)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate's filter: compare only our tables (and their indexes and columns)."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", "")
    return not (table_name or "").startswith(FOREIGN_TABLE_PREFIXES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode recreates the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit(
            "set sqlalchemy.url (alembic -x or alembic.ini) or use `cwdrift db migrate`"
        )
    engine = create_engine(url)
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
