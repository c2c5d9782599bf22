"""Leader election: whoever holds a PostgreSQL session advisory lock runs the cluster's clock.

The lock lives on a dedicated connection, outside any pool: PostgreSQL releases it the moment
that session ends, so a node killed with SIGKILL hands the clock over as soon as another node
tries again (under a second with a 1 s ping). The holder pings its session; when a ping fails
it must assume the lock is gone (another node may already hold it) and stop its clock.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

log = logging.getLogger("cwdrift.cluster.leader")

# An arbitrary constant shared by every cwdrift node ("cwdrclk"); distinct from the migration
# lock in monitor.store.database.
LEADER_LOCK_KEY = 0x63776472_636C6B
APPLICATION_PREFIX = "cwdrift-clock "


def application_name(node_id: str) -> str:
    """What ``pg_stat_activity`` shows for the lock's session (PostgreSQL keeps 63 bytes)."""
    return (APPLICATION_PREFIX + node_id)[:63]


class LeaderLock:
    """``pg_try_advisory_lock`` on a connection of its own."""

    def __init__(
        self, conninfo: str, node_id: str, *, key: int = LEADER_LOCK_KEY, timeout: float = 5.0
    ) -> None:
        self._conninfo = conninfo
        self._node_id = node_id
        self._key = key
        self._timeout = timeout
        self._connection: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        """True when this node now holds (or still holds) the lock."""
        try:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name=application_name(self._node_id),
                    connect_timeout=max(1, int(self._timeout)),
                )
            cursor = await asyncio.wait_for(
                self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)),
                self._timeout,
            )
            row = await cursor.fetchone()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("leader lock not reachable: %s", type(exc).__name__)
            await self.release()
            return False
        self.held = bool(row and row[0])
        return self.held

    async def ping(self) -> bool:
        """True while the lock's session answers; False (and released) once it does not."""
        if self._connection is None or self._connection.closed:
            self.held = False
            return False
        try:
            await asyncio.wait_for(self._connection.execute("SELECT 1"), self._timeout)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("leader session lost (%s): stopping the clock", type(exc).__name__)
            await self.release()
            return False
        return True

    async def release(self) -> None:
        """Close the session; PostgreSQL drops the lock with it."""
        self.held = False
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            try:
                await connection.close()
            except (psycopg.Error, OSError):
                log.debug("closing the leader session failed; the server drops it anyway")
