"""The read cache's rows: loaded once per process, written when a check read something anew.

The persistence behind ``monitor.connectwise.read_cache.ReadCache`` (wired by
``monitor.jobs.runtime``). Blocking calls, made from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select, tuple_
from sqlmodel import col

from monitor.store.database import Database
from monitor.store.dialects import upsert_insert
from monitor.store.read_cache_tables import ReadCacheRow

LOAD_BATCH = 1000  # rows fetched at a time: the caller interns each catalogue as it comes


class EntryLike(Protocol):
    @property
    def tenant(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class StoredRead:
    tenant: str
    kind: str
    payload: str
    version: str | None
    expires_at: datetime


class StoredReads:
    """``load`` and ``apply`` over the ``read_cache`` table of ``db``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self, now: datetime) -> Iterator[StoredRead]:
        """Every entry not expired at ``now``, streamed in batches."""
        query = select(
            col(ReadCacheRow.tenant),
            col(ReadCacheRow.kind),
            col(ReadCacheRow.payload),
            col(ReadCacheRow.version),
            col(ReadCacheRow.expires_at),
        ).where(col(ReadCacheRow.expires_at) > now)
        with self._db.session() as session:
            result = session.connection().execution_options(yield_per=LOAD_BATCH).execute(query)
            for tenant, kind, payload, version, expires_at in result:
                yield StoredRead(tenant, kind, payload, version, expires_at)

    def apply(
        self, put: Sequence[EntryLike], drop: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        """Upsert ``put``, delete ``drop`` and every row expired at ``now``, in one transaction
        (a tenant no longer configured leaves no row behind for long)."""
        with self._db.session() as session:
            if drop:
                session.execute(
                    delete(ReadCacheRow).where(
                        tuple_(col(ReadCacheRow.tenant), col(ReadCacheRow.kind)).in_(drop)
                    )
                )
            if put:
                statement = upsert_insert(session.get_bind().dialect.name, ReadCacheRow).values(
                    [
                        {
                            "tenant": e.tenant,
                            "kind": e.kind,
                            "payload": e.payload,
                            "version": e.version,
                            "expires_at": e.expires_at,
                        }
                        for e in put
                    ]
                )
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["tenant", "kind"],
                        set_={
                            name: statement.excluded[name]
                            for name in ("payload", "version", "expires_at")
                        },
                    )
                )
            session.execute(delete(ReadCacheRow).where(col(ReadCacheRow.expires_at) <= now))
