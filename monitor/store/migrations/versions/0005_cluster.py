"""Cluster mode: the ``cluster_node`` table everywhere, and Procrastinate's schema on PostgreSQL.

Procrastinate's schema is applied here, as one more migration step, so every node's start-up
``migrate()`` (serialised by an advisory lock) creates it exactly once and upgrades stay in one
place. It is the schema of the pinned Procrastinate (3.10); a Procrastinate upgrade that ships
schema migrations gets its own revision applying them (see deploy/OPERATIONS.md).

Revision ID: 0005_cluster
Revises: 0004_waivers
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_cluster"
down_revision: str | None = "0004_waivers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_node",
        sa.Column("node_id", sa.String(300), primary_key=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=True),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        _execute_raw(bind, SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _execute_raw(
            bind,
            """
            DO $$
            DECLARE item record;
            BEGIN
                FOR item IN SELECT tablename FROM pg_tables
                            WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%'
                LOOP EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename); END LOOP;
                FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                            JOIN pg_namespace n ON n.oid = p.pronamespace
                            WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
                LOOP EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature); END LOOP;
                FOR item IN SELECT t.typname FROM pg_type t
                            JOIN pg_namespace n ON n.oid = t.typnamespace
                            WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%'
                              AND t.typtype = 'e'
                LOOP EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname); END LOOP;
            END $$;
            """,
        )
    op.drop_table("cluster_node")


def _execute_raw(bind: sa.Connection, sql: str) -> None:
    """Run SQL on psycopg's own connection, in the migration's transaction, with no parameters.

    The schema's function bodies contain ':' and '%' that SQLAlchemy's text() and a
    parameterised execute would both read as placeholders.
    """
    driver = bind.connection.driver_connection
    assert driver is not None  # an open connection always has one
    driver.execute(sql)
