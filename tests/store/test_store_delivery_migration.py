"""Revision 0006_delivery on both engines: up with an outbox in use, and back down."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from monitor.store.database import Database, alembic_config

ROW = (
    "INSERT INTO outbox (tenant_id, channel, kind, summary, created_at, next_attempt_at,"
    " attempts, status, payload) VALUES ('acme', 'ops', 'slack', 's',"
    " '2026-03-02 09:00:00+00:00', '2026-03-02 09:00:00+00:00', 1, :status, '{}')"
)


def migrate(db: Database, revision: str, *, down: bool = False) -> None:
    with db.engine.connect() as connection, connection.begin():
        config = alembic_config(connection)
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


def statuses(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.execute(text("SELECT status FROM outbox ORDER BY id")).scalars())


def test_messages_failed_before_the_upgrade_wait_for_an_explicit_retry(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate(db, "0005_cluster")
        with db.engine.begin() as connection:
            for status in ("failed", "sent", "pending"):
                connection.execute(text(ROW), {"status": status})

        migrate(db, "0006_delivery")
        # No group to rebuild them from, perhaps weeks old: not sent by the next success.
        assert statuses(db) == ["rejected", "sent", "pending"]
        columns = {c["name"] for c in inspect(db.engine).get_columns("outbox")}
        assert {"failed_at", "notification"} <= columns

        with db.engine.begin() as connection:
            connection.execute(text(ROW), {"status": "superseded"})
        migrate(db, "0005_cluster", down=True)
        assert statuses(db) == ["failed", "sent", "pending", "failed"]
        columns = {c["name"] for c in inspect(db.engine).get_columns("outbox")}
        assert not {"failed_at", "notification"} & columns
    finally:
        db.dispose()
