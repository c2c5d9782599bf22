"""Preview a baseline change on the stored snapshots: which tenant x rule would flip.

No ConnectWise request is made: every tenant's stored configuration (its latest, or the one in
force at a past time) is evaluated under the baseline in force and under the proposed one, and
``monitor.core.preview`` compares the two. Waivers apply as they would at that time.

``cwdrift baseline preview`` prints the result; the daemon calls :func:`preview_reload` on
SIGHUP so a reload whose baseline would newly fail tenants says so in the log before it applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from monitor.core.baseline import Baseline, load_baseline
from monitor.core.evaluate import evaluate
from monitor.core.options import Waiver
from monitor.core.preview import BaselinePreview, Flip, diff_baselines, flips
from monitor.jobs.runtime import Runtime
from monitor.settings import LoadedConfig, TenantConfig
from monitor.store.history import snapshots_in_force
from monitor.store.waivers import database_waivers

log = logging.getLogger("cwdrift.jobs")


def preview_baseline(
    session: Session,
    *,
    current: Baseline,
    proposed: Baseline,
    tenants: Sequence[TenantConfig],
    now: datetime,
    at: datetime | None = None,
    current_name: str | None = None,
    proposed_name: str | None = None,
) -> BaselinePreview:
    """Evaluate each tenant's stored snapshot (at ``at``, else its latest) under both baselines."""
    rules = diff_baselines(current, proposed)
    added = {r.rule_id for r in rules if r.change == "added"}
    removed = {r.rule_id for r in rules if r.change == "removed"}
    when = at or now  # waivers expire, and database ones begin, as of the snapshot's time
    stored_waivers: dict[str, list[Waiver]] = defaultdict(list)
    for row in database_waivers(session):
        if row.created_at is None or row.created_at <= when:
            stored_waivers[row.tenant_id].append(row.waiver)
    by_id = {t.id: t for t in tenants}
    found: list[Flip] = []
    previewed: list[str] = []
    for stored in snapshots_in_force(session, list(by_id), at):
        tenant = by_id[stored.tenant_id]
        waivers = [*tenant.waivers, *stored_waivers[tenant.id]]
        before = evaluate(current, stored.snapshot, tenant.options, waivers, when)
        after = evaluate(proposed, stored.snapshot, tenant.options, waivers, when)
        found += flips(tenant.id, before, after, added=added, removed=removed)
        previewed.append(tenant.id)
    done = set(previewed)
    return BaselinePreview(
        current=current_name or str(current.source),
        proposed=proposed_name or str(proposed.source),
        at=at,
        rules=tuple(rules),
        flips=tuple(found),
        tenants=tuple(previewed),
        without_snapshot=tuple(t for t in by_id if t not in done),
    )


async def preview_reload(rt: Runtime, loaded: LoadedConfig) -> BaselinePreview | None:
    """Before a reload applies: load its baseline (a bad one raises ``ConfigError``, and the
    daemon keeps the old config) and, if its rules differ from those in force (``rt``), log the
    preview's summary: a warning when any tenant would newly fail. None when nothing changed."""
    proposed = load_baseline(loaded.baseline_path)
    loaded.check_rules_exist(proposed.ids)
    if not diff_baselines(rt.baseline, proposed):
        return None
    now = rt.clock()

    def run() -> BaselinePreview:
        with rt.db.session() as session:
            return preview_baseline(
                session,
                current=rt.baseline,
                proposed=proposed,
                tenants=loaded.config.tenants,
                now=now,
            )

    preview = await asyncio.to_thread(run)
    if preview.new_failures:
        log.warning("new baseline on reload: %s", preview.summary)
    else:
        log.info("new baseline on reload: %s", preview.summary)
    return preview
