"""After `db migrate-to`, `status` counts only the nodes alive now, not the rows the SQLite
history brought along."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.clock import utcnow
from monitor.store.cluster_tables import ClusterNodeRow
from monitor.store.daemon_tables import record_beat, record_stop
from monitor.store.database import Database

pytestmark = pytest.mark.postgres


def status(config: Path, *extra: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), "status", *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_counts_live_nodes_only_after_migrate_to(
    tmp_path: Path, fresh_postgres: str
) -> None:
    old = utcnow() - timedelta(days=3)
    sqlite = tmp_path / "sqlite.yaml"
    sqlite.write_text(f"database: sqlite:///{tmp_path}/cwdrift.db\n", encoding="utf-8")
    source = Database(f"sqlite:///{tmp_path}/cwdrift.db")
    source.migrate()
    with source.session() as session:  # the single node that ran on SQLite, stopped for the move
        record_beat(
            session, node_id="laptop:1:a", hostname="laptop", pid=1, started_at=old,
            version="1", role="single", now=old,
        )  # fmt: skip
        record_stop(session, "laptop:1:a", old)
        session.add(
            ClusterNodeRow(
                node_id="laptop:1:a", hostname="laptop", pid=1, started_at=old, last_seen_at=old
            )
        )
        session.commit()
    source.dispose()
    copied = CliRunner().invoke(app, ["--config", str(sqlite), "db", "migrate-to", fresh_postgres])
    assert copied.exit_code == 0, copied.output

    postgres = tmp_path / "postgres.yaml"
    postgres.write_text(f"database: {fresh_postgres}\n", encoding="utf-8")
    out = status(postgres)
    assert "daemon: not running (0 live nodes; 1 stopped or silent, not counted)" in out
    assert "0 live worker nodes; 1 stopped or silent, not counted" in out
    assert "laptop" not in out

    target = Database(fresh_postgres)
    now = utcnow()
    with target.session() as session:  # a node of the new cluster, seen just now
        session.add(
            ClusterNodeRow(
                node_id="db1:7:b", hostname="db1", pid=7, started_at=now, last_seen_at=now
            )
        )
        session.commit()
    target.dispose()
    out = status(postgres)
    assert "1 live worker node; 1 stopped or silent, not counted" in out
    assert "node db1:7:b: running nothing" in out
    cluster = json.loads(status(postgres, "--json"))["cluster"]
    assert {n["node"]: n["alive"] for n in cluster["nodes"]} == {
        "laptop:1:a": False,
        "db1:7:b": True,
    }
