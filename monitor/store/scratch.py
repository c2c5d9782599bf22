"""Throw-away PostgreSQL databases for tests and benchmarks: created fresh, dropped after.

Concurrent test runs and benchmarks share one server; a uniquely named database each keeps them
from ever seeing each other's rows (and lets Procrastinate and advisory locks stay isolated too).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def scratch_postgres(server_url: str, *, prefix: str = "cwdrift_scratch") -> Iterator[str]:
    """Yield the URL of a new, empty database on ``server_url``'s server; drop it afterwards."""
    base = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
