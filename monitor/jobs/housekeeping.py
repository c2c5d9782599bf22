"""Housekeeping: retention of redundant check rows, and the open-findings gauge."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from monitor.jobs.runtime import Runtime
from monitor.store.history import open_findings, prune_checks

log = logging.getLogger("cwdrift.jobs")


async def prune(rt: Runtime) -> int:
    """Retention: drop redundant check rows older than the horizon; changes stay forever."""
    cutoff = rt.clock() - rt.config.retention.check_rows

    def run() -> int:
        with rt.db.session() as session:
            return prune_checks(session, older_than=cutoff)

    deleted = await asyncio.to_thread(run)
    log.info("retention pruned %d check rows older than %s", deleted, cutoff.isoformat())
    return deleted


async def open_findings_by_severity(rt: Runtime) -> dict[str, int]:
    """Failing findings across the fleet by severity (the /metrics gauge)."""

    def run() -> dict[str, int]:
        with rt.db.session() as session:
            return dict(Counter(f.severity.value for f in open_findings(session)))

    return await asyncio.to_thread(run)
