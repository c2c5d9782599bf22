"""Operations commands: ``cwdrift db migrate`` and ``cwdrift db migrate-to URL``."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli import render
from monitor.cli.common import JsonOpt, load

commands = typer.Typer()
db_app = typer.Typer(help="Database schema and moves between databases.", no_args_is_help=True)
commands.add_typer(db_app, name="db")


@db_app.command("migrate")
def db_migrate(as_json: JsonOpt = False) -> None:
    """Bring the database schema (and, on PostgreSQL, the cluster queue) to this version.

    Safe to run on every node at once: migrations are serialised by a database lock.

    Example: cwdrift --config cwdrift.yaml db migrate
    """
    from monitor.store.database import Database

    database = Database(load(connectwise=False).config.database)
    try:
        database.migrate()
        revision = database.current_revision()
        if as_json:
            render.print_json({"database": database.display_url, "revision": revision})
        else:
            render.out.print(f"{database.display_url}: schema at {revision}")
    finally:
        database.dispose()


@db_app.command("migrate-to")
def db_migrate_to(
    url: Annotated[
        str,
        typer.Argument(
            help="SQLAlchemy URL of the new, EMPTY database, e.g. "
            "postgresql+psycopg://cwdrift@db.internal/cwdrift (password via PGPASSWORD or .pgpass)."
        ),
    ],
) -> None:
    """Copy all history (every table, every row) from the configured database to URL.

    Stop the daemon first. The copy is one transaction on the target: on any failure the
    target is left empty and the command can be run again. Afterwards point 'database:' in
    the config at URL and start the daemon.

    Example: cwdrift --config cwdrift.yaml db migrate-to postgresql+psycopg://cwdrift@db/cwdrift
    """
    from monitor.store.database import Database
    from monitor.store.migrate_to import migrate_to

    source = Database(load(connectwise=False).config.database)
    try:

        def progress(table: str, rows: int) -> None:
            render.out.print(f"  {table}: {rows} rows", markup=False)

        report = migrate_to(source, url, progress=progress)
    finally:
        source.dispose()
    render.out.print(
        f"copied {report.total} rows from {report.source} to {report.target}; now set "
        f"'database: {report.target}' in the config (the password from the environment)",
        markup=False,
    )
