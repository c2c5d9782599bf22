"""What ``cwdrift status`` shows in cluster mode: each node, whether it leads, what it runs.

Read from the database only (no node is asked): ``cluster_node`` rows, the leader lock's
holder in ``pg_locks``, and Procrastinate's ``procrastinate_jobs`` (its documented columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from monitor.daemon.cluster.leader import LEADER_LOCK_KEY, application_name
from monitor.daemon.cluster.queue import TASK_NAME
from monitor.store.cluster_tables import advisory_lock_holder, cluster_nodes, pending_jobs

# A node that has not refreshed its row for this long is shown as not alive.
STALE_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class ClusterNodeStatus:
    node_id: str
    hostname: str
    pid: int
    alive: bool
    leader: bool  # holds the leader lock right now (from pg_locks, not from its own row)
    worker_id: int | None
    running: tuple[str, ...]  # tenants whose check this node's worker is running
    last_seen_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True)
class ClusterStatus:
    nodes: tuple[ClusterNodeStatus, ...]
    queued: int  # checks waiting for a worker
    running: int  # checks running on any worker
    leader: str | None  # node id holding the clock, None when no node does


def cluster_status(
    session: Session, now: datetime, *, stale_after: timedelta = STALE_AFTER
) -> ClusterStatus:
    """The cluster as the database sees it (PostgreSQL; the tables exist after migration)."""
    holder = advisory_lock_holder(session, LEADER_LOCK_KEY)
    jobs = pending_jobs(session, TASK_NAME)
    running_by_worker: dict[int, list[str]] = {}
    for status, worker_id, tenant_id in jobs:
        if status == "doing" and worker_id is not None:
            running_by_worker.setdefault(int(worker_id), []).append(str(tenant_id))
    nodes = []
    leader: str | None = None
    for row in cluster_nodes(session):
        is_leader = holder is not None and holder == application_name(row.node_id)
        if is_leader:
            leader = row.node_id
        nodes.append(
            ClusterNodeStatus(
                node_id=row.node_id,
                hostname=row.hostname,
                pid=row.pid,
                alive=row.stopped_at is None and row.last_seen_at >= now - stale_after,
                leader=is_leader,
                worker_id=row.worker_id,
                running=tuple(sorted(running_by_worker.get(row.worker_id or -1, []))),
                last_seen_at=row.last_seen_at,
                stopped_at=row.stopped_at,
            )
        )
    return ClusterStatus(
        nodes=tuple(nodes),
        queued=sum(1 for status, _, _ in jobs if status == "todo"),
        running=sum(1 for status, _, _ in jobs if status == "doing"),
        leader=leader,
    )
