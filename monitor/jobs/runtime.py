"""What checks share within one process: config, baseline, database, host limits, HTTP pool, and
the read cache (ConnectWise answers that change only with an upgrade, kept in the store so a
one-off ``cwdrift check`` profits as the daemon does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.clock import utcnow
from monitor.connectwise.client import MEGABYTE, ConnectWiseClient, RetryPolicy
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.read_cache import ReadCache
from monitor.connectwise.session import SharedHttp
from monitor.core.baseline import Baseline, load_baseline
from monitor.settings import Config, LoadedConfig, TenantConfig
from monitor.store.database import Database
from monitor.store.read_cache import StoredReads

Clock = Callable[[], datetime]


@dataclass
class Runtime:
    """What checks share within one process: config, baseline, database, host limits, the
    pooled HTTP connections (``aclose`` when done with ConnectWise) and the read cache (in
    memory unless ``open`` backs it with the store)."""

    loaded: LoadedConfig
    baseline: Baseline
    db: Database
    limits: HostLimits
    http: SharedHttp = field(default_factory=SharedHttp)
    read_cache: ReadCache = field(default_factory=ReadCache)
    clock: Clock = utcnow

    @classmethod
    def open(
        cls,
        loaded: LoadedConfig,
        *,
        http: SharedHttp | None = None,
        clock: Clock = utcnow,
        migrate: bool = True,
    ) -> Runtime:
        # Checks read ConnectWise and send alerts: a config loaded for database-only commands
        # (values left unresolved) must not get this far.
        loaded.require_complete()
        db = Database(loaded.config.database)
        if migrate:
            db.migrate()
        cw = loaded.config.connectwise
        baseline = load_baseline(loaded.baseline_path)
        loaded.check_against(baseline)
        return cls(
            loaded=loaded,
            baseline=baseline,
            db=db,
            limits=HostLimits(
                concurrency=cw.concurrency_per_host, per_minute=cw.requests_per_minute
            ),
            http=http or SharedHttp(),
            read_cache=ReadCache(StoredReads(db), clock=clock),
            clock=clock,
        )

    async def aclose(self) -> None:
        """Close the pooled ConnectWise connections (the database stays usable)."""
        await self.http.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *_: object) -> None:
        # ``async with runtime:`` around checks run under their own asyncio.run, so the pooled
        # connections are closed while their event loop still runs.
        await self.aclose()

    @property
    def config(self) -> Config:
        return self.loaded.config

    def client(self, tenant: TenantConfig, *, write: bool = False) -> ConnectWiseClient:
        """A client for the tenant's read keys, or (``write``) its fix keys, on the shared pool.

        Use it as ``async with rt.client(tenant) as cw:``.
        """
        cw = self.config.connectwise
        public, private = tenant.public_key, tenant.private_key
        if write:
            if tenant.fix_public_key is None or tenant.fix_private_key is None:
                raise ValueError(f"tenant {tenant.id} has no fix keys")
            public, private = tenant.fix_public_key, tenant.fix_private_key
        return ConnectWiseClient(
            tenant.site,
            tenant.company_id,
            public,
            private,
            tenant.client_id,
            http=self.http.client(),
            read_cache=self.read_cache,
            limits=self.limits,
            retry=RetryPolicy(attempts=cw.max_attempts),
            timeout=cw.timeout_seconds,
            max_response_bytes=cw.max_response_mb * MEGABYTE,
            tenant=tenant.id,
        )


def select_tenants(loaded: LoadedConfig, tenant_ids: Sequence[str] | None) -> list[TenantConfig]:
    """The tenants named (each must exist), or all of them."""
    config = loaded.config
    if not tenant_ids:
        return list(config.tenants)
    return [config.tenant(tenant_id) for tenant_id in tenant_ids]
