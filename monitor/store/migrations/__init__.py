"""Alembic migrations, shipped inside the package so ``Database.migrate()`` works from a wheel."""
