"""Alembic migrations, shipped inside the package so ``Database.migrate()`` works from a wheel.

``HEAD`` is the newest revision's id, kept here so a process whose database is already there
skips Alembic entirely (importing it and reading the scripts costs ~0.1 s on every check). A test
asserts it equals Alembic's own head: adding a migration means updating it.
"""

HEAD = "0010_read_cache"
