"""What every page reads from: the database, the config in force, the baseline, the clock.

The node passes its daemon's config in force (a SIGHUP reload shows at once); ``cwdrift web``
the config it loaded. Pages read the database in a worker thread (:meth:`Site.read`), never on
the event loop, which in a node also runs the checks.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Lock
from typing import TypeVar

from monitor.clock import utcnow
from monitor.core.baseline import Baseline, Rule, load_baseline
from monitor.settings import LoadedConfig, TenantConfig
from monitor.store import Database, Session
from monitor.store.web_reads import EncodedFleet, FleetTenant, encode_fleet, fleet_scores_at
from monitor.web.render import PageError

T = TypeVar("T")

# A past week's score only moves if a check finishes late; re-read it now and then anyway.
TREND_CACHE_FOR = timedelta(minutes=10)


@dataclass
class Site:
    db: Database
    config: Callable[[], LoadedConfig]
    clock: Callable[[], datetime] = utcnow
    _baseline_for: tuple[LoadedConfig, Baseline] | None = field(default=None, repr=False)
    _scores: dict[tuple[str, datetime], tuple[tuple[int, int], datetime]] = field(
        default_factory=dict, repr=False
    )
    _fleet_for: tuple[LoadedConfig, list[FleetTenant], EncodedFleet] | None = field(
        default=None, repr=False
    )
    _lock: Lock = field(default_factory=Lock, repr=False)

    async def read(self, build: Callable[[Session], T]) -> T:
        """``build(session)`` in a worker thread, in a session of its own."""

        def run() -> T:
            with self.db.session() as session:
                return build(session)

        return await asyncio.to_thread(run)

    def tenant(self, tenant_id: str) -> TenantConfig:
        for tenant in self.config().config.tenants:
            if tenant.id == tenant_id:
                return tenant
        raise PageError(
            404,
            f"no tenant {tenant_id!r} in the config",
            fix="the fleet page lists every configured tenant",
        )

    def fleet(self) -> list[FleetTenant]:
        """The configured tenants (built once per config in force)."""
        return self._fleet()[0]

    def encoded_fleet(self) -> EncodedFleet:
        """The same, as the fleet query's parameter (encoded once per config in force)."""
        return self._fleet()[1]

    def _fleet(self) -> tuple[list[FleetTenant], EncodedFleet]:
        loaded = self.config()
        with self._lock:
            if self._fleet_for is None or self._fleet_for[0] is not loaded:
                tenants = [FleetTenant(t.id, t.name, tuple(t.tags)) for t in loaded.config.tenants]
                self._fleet_for = (loaded, tenants, encode_fleet(tenants))
            return self._fleet_for[1], self._fleet_for[2]

    def baseline(self) -> Baseline:
        """The baseline of the config in force, loaded once per config (a reload reloads it)."""
        loaded = self.config()
        with self._lock:
            # The config itself is kept with it (not its id, which a new config could reuse).
            if self._baseline_for is None or self._baseline_for[0] is not loaded:
                self._baseline_for = (loaded, load_baseline(loaded.baseline_path))
            return self._baseline_for[1]

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.baseline().rules if rule.id == rule_id), None)

    def fleet_scores(
        self, session: Session, tenant_ids: list[str], moments: list[datetime]
    ) -> list[tuple[int, int]]:
        """:func:`~monitor.store.web_reads.fleet_scores_at`, remembered for a while per fleet
        and moment: past weeks do not change, and the fleet page shows twelve of them."""
        now = self.clock()
        fleet = hashlib.sha256("\n".join(sorted(tenant_ids)).encode()).hexdigest()
        with self._lock:
            known = {
                moment: cached[0]
                for moment in moments
                if (cached := self._scores.get((fleet, moment))) is not None
                and now - cached[1] < TREND_CACHE_FOR
            }
        missing = [moment for moment in moments if moment not in known]
        if missing:
            found = fleet_scores_at(session, tenant_ids, missing)
            with self._lock:
                if len(self._scores) > 1000:
                    self._scores.clear()
                for moment, score in zip(missing, found, strict=True):
                    known[moment] = score
                    self._scores[(fleet, moment)] = (score, now)
        return [known[moment] for moment in moments]
