"""How each tenant's checks stand, for ``/metrics``: its newest outcome and its last success.

One query over all tenants, each column a correlated subquery that reads one entry of the
``(tenant_id, started_at)`` index backwards (the newest run, the newest good run), so the
node's once-a-minute refresh stays cheap with thousands of tenants and years of runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from monitor.clock import ensure_utc
from monitor.store.runs import Outcome
from monitor.store.tables import CheckRunTable, TenantTable


@dataclass(frozen=True, slots=True)
class TenantCheckHealth:
    tenant_id: str
    last_outcome: Outcome | None  # None: never checked
    last_success_at: datetime | None  # when its newest good (non-error) check finished


def check_health(session: Session) -> list[TenantCheckHealth]:
    """Every known tenant's newest outcome and newest successful check, by tenant id."""
    tenant = TenantTable
    newest = aliased(CheckRunTable)
    newest_outcome = (
        select(newest.outcome)
        .where(newest.tenant_id == tenant.id)
        .order_by(col(newest.started_at).desc(), col(newest.id).desc())
        .limit(1)
        .correlate(tenant)
        .scalar_subquery()
    )
    good = aliased(CheckRunTable)
    last_good_finished = (
        select(good.finished_at)
        .where(good.tenant_id == tenant.id, good.outcome != Outcome.ERROR.value)
        .order_by(col(good.started_at).desc(), col(good.id).desc())
        .limit(1)
        .correlate(tenant)
        .scalar_subquery()
    )
    query = sa_select(col(tenant.id), newest_outcome, last_good_finished).order_by(col(tenant.id))
    return [
        TenantCheckHealth(
            tenant_id=tenant_id,
            last_outcome=Outcome(outcome) if outcome else None,
            last_success_at=ensure_utc(finished) if finished is not None else None,
        )
        for tenant_id, outcome, finished in session.connection().execute(query)
    ]
