"""The cluster's own table (revision 0005_cluster): which node is alive, leads, runs which worker.

    cluster_node   one row per node process in cluster mode, refreshed every leadership ping

Procrastinate's tables (``procrastinate_jobs``, ``procrastinate_workers``, ...) are created by
the same revision on PostgreSQL; they belong to Procrastinate and are read only through its
documented columns in :mod:`monitor.daemon.cluster.status`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlmodel import Field, SQLModel

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
