"""The daemon's liveness and per-tenant schedule (revision 0003_daemon), and queries over them.

``cwdrift status`` reads these to show whether a daemon is running and when each tenant is
next checked, without talking to the daemon process:

    daemon_node       one row per daemon process, its heartbeat refreshed every ~15 s
    tenant_schedule   one row per scheduled tenant: the next run, and which node owns it

They share ``SQLModel.metadata`` with the store's tables. No foreign key to ``tenant``: a tenant
is scheduled before its first check writes its ``tenant`` row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, delete, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, select

from monitor.clock import ensure_utc
from monitor.store.dialects import upsert_insert
from monitor.store.tables import CheckRunTable, UTCDateTime

# How often a running daemon refreshes its row; a node is alive while its beat is this fresh x2.
BEAT_INTERVAL = timedelta(seconds=15)


class DaemonNode(SQLModel, table=True):
    """One daemon process. ``node_id`` is ``hostname:pid:uuid`` so restarts never collide."""

    __tablename__ = "daemon_node"

    node_id: str = Field(primary_key=True, sa_type=String(300))
    hostname: str = Field(sa_type=String(255))
    pid: int
    started_at: datetime = Field(sa_type=UTCDateTime)
    last_beat_at: datetime = Field(sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: str = Field(sa_type=String(40))
    role: str = Field(sa_type=String(40))  # "single" today; "scheduler"/"worker" when multi-node


class TenantSchedule(SQLModel, table=True):
    """When a tenant is next checked, as the scheduler last reported it."""

    __tablename__ = "tenant_schedule"

    tenant_id: str = Field(primary_key=True, sa_type=String(200))
    next_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    node_id: str = Field(sa_type=String(300))
    updated_at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class NodeStatus:
    node_id: str
    hostname: str
    pid: int
    started_at: datetime
    last_beat_at: datetime
    stopped_at: datetime | None
    version: str
    role: str
    alive: bool


@dataclass(frozen=True)
class DaemonStatus:
    """What ``cwdrift status`` shows about the daemon: its nodes and each tenant's next run."""

    nodes: tuple[NodeStatus, ...]
    next_runs: Mapping[str, datetime | None]

    @property
    def alive(self) -> bool:
        """True when at least one daemon process beat recently."""
        return any(node.alive for node in self.nodes)


def record_beat(
    session: Session,
    *,
    node_id: str,
    hostname: str,
    pid: int,
    started_at: datetime,
    version: str,
    role: str,
    now: datetime,
) -> None:
    """Insert or refresh this node's row."""
    values = {
        "node_id": node_id,
        "hostname": hostname,
        "pid": pid,
        "started_at": started_at,
        "last_beat_at": now,
        "version": version,
        "role": role,
    }
    _upsert(session, DaemonNode, values, key="node_id", update_columns=("last_beat_at",))


def record_stop(session: Session, node_id: str, now: datetime) -> None:
    """Mark a node stopped on a clean shutdown, so status says "stopped", not "unresponsive"."""
    session.execute(
        update(DaemonNode)
        .where(col(DaemonNode.node_id) == node_id)
        .values(stopped_at=now, last_beat_at=now)
    )


def write_next_runs(
    session: Session,
    *,
    node_id: str,
    next_runs: Mapping[str, datetime | None],
    now: datetime,
    keep_only: Iterable[str] | None = None,
) -> None:
    """Upsert each tenant's next run; with ``keep_only``, drop rows of tenants not in it."""
    for tenant_id, next_run_at in next_runs.items():
        values = {
            "tenant_id": tenant_id,
            "next_run_at": next_run_at,
            "node_id": node_id,
            "updated_at": now,
        }
        _upsert(
            session,
            TenantSchedule,
            values,
            key="tenant_id",
            update_columns=("next_run_at", "node_id", "updated_at"),
        )
    if keep_only is not None:
        kept = list(keep_only)
        session.execute(delete(TenantSchedule).where(col(TenantSchedule.tenant_id).not_in(kept)))


def _upsert(
    session: Session,
    table: type[SQLModel],
    values: dict[str, Any],
    *,
    key: str,
    update_columns: tuple[str, ...],
) -> None:
    """One INSERT .. ON CONFLICT statement, never read-then-write.

    On SQLite a transaction that reads first and writes later fails at once with "database is
    locked" when another connection wrote in between (the busy timeout does not apply to that
    upgrade); a statement that writes first waits for the lock instead.
    """
    statement = upsert_insert(session.get_bind().dialect.name, table).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[key], set_={name: statement.excluded[name] for name in update_columns}
        )
    )


def prune_nodes(session: Session, before: datetime) -> None:
    """Forget nodes silent since ``before``: every restart adds a row, so old ones pile up."""
    session.execute(delete(DaemonNode).where(col(DaemonNode.last_beat_at) < before))


def last_check_times(session: Session) -> dict[str, datetime]:
    """Tenant id -> when its latest check started (any outcome): where its schedule resumes."""
    latest = func.max(col(CheckRunTable.started_at))
    rows = session.execute(
        sa_select(col(CheckRunTable.tenant_id), latest).group_by(col(CheckRunTable.tenant_id))
    ).all()
    return {tenant_id: ensure_utc(started) for tenant_id, started in rows if started is not None}


def daemon_status(
    session: Session, now: datetime, *, beat_interval: timedelta = BEAT_INTERVAL
) -> DaemonStatus:
    """Nodes (alive = beat within 2 x the beat interval and not stopped) and next runs."""
    stale_before = now - 2 * beat_interval
    nodes = tuple(
        NodeStatus(
            node_id=n.node_id,
            hostname=n.hostname,
            pid=n.pid,
            started_at=n.started_at,
            last_beat_at=n.last_beat_at,
            stopped_at=n.stopped_at,
            version=n.version,
            role=n.role,
            alive=n.stopped_at is None and n.last_beat_at >= stale_before,
        )
        for n in session.exec(select(DaemonNode).order_by(col(DaemonNode.last_beat_at).desc()))
    )
    next_runs = {
        row.tenant_id: row.next_run_at
        for row in session.exec(select(TenantSchedule).order_by(col(TenantSchedule.tenant_id)))
    }
    return DaemonStatus(nodes=nodes, next_runs=next_runs)
