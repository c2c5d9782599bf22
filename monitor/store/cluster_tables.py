"""The cluster's own table (revision 0005_cluster), and every query cluster mode makes.

    cluster_node   one row per node process in cluster mode, refreshed every leadership ping

Procrastinate's tables (``procrastinate_jobs``, ``procrastinate_workers``, ...) are created by
the same revision on PostgreSQL; they belong to Procrastinate and are read here only through
their documented columns. The leader lock's holder is read from ``pg_locks``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, text
from sqlmodel import Field, Session, SQLModel, col, select

from monitor.clock import ensure_utc
from monitor.store.daemon_tables import TenantSchedule
from monitor.store.tables import UTCDateTime


class ClusterNodeRow(SQLModel, table=True):
    """One cluster node. ``worker_id`` is its Procrastinate worker's id (None before it starts)."""

    __tablename__ = "cluster_node"

    node_id: str = Field(primary_key=True, sa_type=String(300))
    hostname: str = Field(sa_type=String(255))
    pid: int
    worker_id: int | None = Field(default=None, sa_type=BigInteger)
    is_leader: bool = False
    started_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def cluster_nodes(session: Session) -> list[ClusterNodeRow]:
    """Every node row, oldest start first."""
    return list(session.exec(select(ClusterNodeRow).order_by(col(ClusterNodeRow.started_at))))


def record_node(
    session: Session,
    *,
    node_id: str,
    hostname: str,
    pid: int,
    started_at: datetime,
    worker_id: int | None,
    is_leader: bool,
    now: datetime,
    stopped: bool = False,
) -> None:
    """Create or refresh this node's row (a stopped node keeps its row, marked stopped)."""
    row = session.get(ClusterNodeRow, node_id)
    if row is None:
        row = ClusterNodeRow(
            node_id=node_id, hostname=hostname, pid=pid, started_at=started_at, last_seen_at=now
        )
    row.worker_id = worker_id
    row.is_leader = is_leader and not stopped
    row.last_seen_at = now
    row.stopped_at = now if stopped else None
    session.add(row)


def advisory_lock_holder(session: Session, key: int) -> str | None:
    """The ``application_name`` of the session holding advisory lock ``key``, if any."""
    holder: str | None = session.execute(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :high AND l.objid = :low AND l.objsubid = 1"
        ),
        {"high": key >> 32, "low": key & 0xFFFFFFFF},
    ).scalar()
    return holder


def pending_jobs(session: Session, task_name: str) -> list[tuple[str, int | None, str | None]]:
    """``(status, worker_id, tenant_id)`` of every queued (todo) or running (doing) job."""
    rows = session.execute(
        text(
            "SELECT status, worker_id, args->>'tenant_id' FROM procrastinate_jobs "
            "WHERE task_name = :task AND status IN ('todo', 'doing')"
        ),
        {"task": task_name},
    ).all()
    return [(str(status), worker_id, tenant_id) for status, worker_id, tenant_id in rows]


def recorded_next_runs(session: Session) -> dict[str, datetime]:
    """Tenant id -> next run, as the leader last wrote them (``tenant_schedule``)."""
    return {
        row.tenant_id: ensure_utc(row.next_run_at)
        for row in session.exec(select(TenantSchedule))
        if row.next_run_at is not None
    }


def check_recorded_since_job_start(session: Session, job_id: int, tenant_id: str) -> bool:
    """Whether ``tenant_id`` has a check run that started after Procrastinate started ``job_id``.

    The job's start is the database's clock (``procrastinate_events``); the run's is the node's.
    A node whose clock lags could make a finished check look older, which only costs a repeat.
    """
    found = session.execute(
        text(
            "SELECT 1 FROM check_run r WHERE r.tenant_id = :tenant AND r.started_at >= "
            "(SELECT max(e.at) FROM procrastinate_events e "
            "WHERE e.job_id = :job AND e.type = 'started') LIMIT 1"
        ),
        {"tenant": tenant_id, "job": job_id},
    ).first()
    return found is not None
