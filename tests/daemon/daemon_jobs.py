"""Small real stand-ins for monitor.jobs: a check that records an outcome in the real store at its
end (one transaction, like the real one), and a dispatch that counts its calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from monitor.errors import ConnectionFailed
from monitor.settings import LoadedConfig, TenantConfig
from monitor.store import Database


class StoreJobs:
    def __init__(self, clock: Callable[[], datetime], *, blocking: bool = False) -> None:
        self.clock = clock
        self.gate = asyncio.Event()
        if not blocking:
            self.gate.set()
        self.started = asyncio.Event()
        self.events: list[str] = []  # "start:a", "done:a", "cancelled:a", "fail:a", "dispatch"
        self.fail: set[str] = set()

    async def run_check(self, loaded: LoadedConfig, tenant: TenantConfig) -> None:
        self.events.append(f"start:{tenant.id}")
        self.started.set()
        started_at = self.clock()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.events.append(f"cancelled:{tenant.id}")
            raise
        if tenant.id in self.fail:
            self.events.append(f"fail:{tenant.id}")
            raise RuntimeError(f"bug while checking {tenant.id}")
        db = Database(loaded.config.database)
        try:
            await asyncio.to_thread(
                db.record_run,
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                started_at=started_at,
                finished_at=self.clock(),
                snapshot=None,
                changes=[],
                findings=None,
                error=ConnectionFailed("simulated outage", endpoint="/system/info"),
            )
        finally:
            db.dispose()
        self.events.append(f"done:{tenant.id}")

    async def dispatch(self, loaded: LoadedConfig) -> None:
        self.events.append("dispatch")

    def checks(self, kind: str = "done") -> list[str]:
        prefix = f"{kind}:"
        return [e[len(prefix) :] for e in self.events if e.startswith(prefix)]
