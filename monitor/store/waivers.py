"""Accepted deviations (waivers) kept in the database, merged with the config file's.

A waiver accepts that one rule of one tenant fails with exactly one actual value, until it
expires; the engine then reports the finding as *waived*. If the actual value moves to anything
else, or the waiver expires, the finding fails again (and alerts, as any new failure does).

Waivers come from two places: the config file (``tenants[].waivers``, versioned with the file)
and ``cwdrift waive`` (this module, rows in ``waiver``). Every change made here is appended to
``waiver_event`` so an auditor can see who accepted what, when, and who withdrew it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import Row, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from monitor.clock import ensure_utc
from monitor.core.options import FROM_CONFIG, FROM_DATABASE, Waiver
from monitor.errors import ConfigError
from monitor.store.waiver_tables import WaiverEventRow, WaiverRow

# Read on every check, and usually empty: built once, since building cost more than running it.
_TENANT_WAIVERS = (
    sa_select(
        col(WaiverRow.rule),
        col(WaiverRow.value),
        col(WaiverRow.reason),
        col(WaiverRow.accepted_by),
        col(WaiverRow.expires),
    )
    .where(col(WaiverRow.tenant_id) == bindparam("tenant_id"))
    .order_by(col(WaiverRow.rule))
)


class TenantWaivers(Protocol):
    """What :func:`effective_waivers` needs of a tenant (``monitor.settings.TenantConfig`` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def waivers(self) -> Sequence[Waiver]: ...


@dataclass(frozen=True, slots=True)
class StoredWaiver:
    """A waiver with where it comes from, for listings and the report."""

    tenant_id: str
    waiver: Waiver
    source: str  # FROM_CONFIG | FROM_DATABASE
    created_at: datetime | None  # database waivers only

    def expired(self, now: datetime) -> bool:
        return self.waiver.expires <= now

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "rule": self.waiver.rule,
            "value": self.waiver.value,
            "reason": self.waiver.reason,
            "accepted_by": self.waiver.accepted_by,
            "expires": self.waiver.expires.isoformat(),
            "expired": self.expired(now),
            "source": self.source,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class WaiverEvent:
    at: datetime
    tenant_id: str
    rule: str
    action: str  # "added" | "replaced" | "removed"
    actor: str
    waiver: Waiver
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "tenant": self.tenant_id,
            "rule": self.rule,
            "action": self.action,
            "actor": self.actor,
            "value": self.waiver.value,
            "reason": self.waiver.reason,
            "accepted_by": self.waiver.accepted_by,
            "expires": self.waiver.expires.isoformat(),
            "note": self.note,
        }


def add_waiver(
    session: Session,
    *,
    tenant_id: str,
    rule: str,
    value: str | None,
    reason: str,
    accepted_by: str,
    expires: datetime,
    now: datetime,
    known_rules: Collection[str] | None = None,
) -> Waiver:
    """Accept ``value`` for ``rule`` until ``expires``; replaces this tenant's earlier DB waiver.

    ``known_rules`` (the baseline's rule ids) catches typos, which would otherwise waive nothing.
    Not committed: the caller owns the transaction.
    """
    if known_rules is not None and rule not in known_rules:
        raise ConfigError(
            f"no rule {rule!r} in the baseline",
            location="--rule",
            fix="`cwdrift baseline validate` lists the rule ids (e.g. "
            "transfer-expenses-as-bill-is-off)",
        )
    waiver = _validated(rule=rule, value=value, reason=reason, by=accepted_by, expires=expires)
    if waiver.expires <= now:
        raise ConfigError(
            f"the waiver would already have expired ({waiver.expires.isoformat()})",
            location="--expires",
            fix="give an expiry in the future: a duration such as --expires 90d, or a date",
        )
    row = _row(session, tenant_id, rule)
    action = "added" if row is None else "replaced"
    if row is None:
        row = WaiverRow(
            tenant_id=tenant_id,
            rule=rule,
            reason=waiver.reason,
            accepted_by=waiver.accepted_by,
            expires=waiver.expires,
            created_at=now,
        )
    row.value = waiver.value
    row.reason = waiver.reason
    row.accepted_by = waiver.accepted_by
    row.expires = waiver.expires
    row.created_at = now
    session.add(row)
    session.add(_event(now, tenant_id, action, actor=waiver.accepted_by, waiver=waiver, note=""))
    session.flush()
    return waiver


def remove_waiver(
    session: Session, *, tenant_id: str, rule: str, by: str, now: datetime, note: str = ""
) -> Waiver:
    """Withdraw the tenant's database waiver for ``rule``; the finding fails again next check."""
    if not by.strip():
        raise ConfigError("who removes the waiver is required", location="--by", fix="give --by")
    row = _row(session, tenant_id, rule)
    if row is None:
        raise ConfigError(
            f"tenant {tenant_id!r} has no database waiver for rule {rule!r}",
            location="--rule",
            fix="see `cwdrift waivers --tenant "
            f"{tenant_id}`; waivers in the config file are removed by editing the file",
        )
    waiver = _from_row(row)
    session.delete(row)
    session.add(_event(now, tenant_id, "removed", actor=by, waiver=waiver, note=note))
    session.flush()
    return waiver


def database_waivers(session: Session, tenant_id: str | None = None) -> list[StoredWaiver]:
    query = select(WaiverRow).order_by(col(WaiverRow.tenant_id), col(WaiverRow.rule))
    if tenant_id is not None:
        query = query.where(WaiverRow.tenant_id == tenant_id)
    return [
        StoredWaiver(
            tenant_id=row.tenant_id,
            waiver=_from_row(row),
            source=FROM_DATABASE,
            created_at=ensure_utc(row.created_at),
        )
        for row in session.exec(query)
    ]


def list_waivers(
    session: Session, tenants: Sequence[TenantWaivers], tenant_id: str | None = None
) -> list[StoredWaiver]:
    """Config and database waivers (expired ones included), by tenant, rule, source."""
    stored = [
        StoredWaiver(tenant_id=t.id, waiver=w, source=FROM_CONFIG, created_at=None)
        for t in tenants
        if tenant_id in (None, t.id)
        for w in t.waivers
    ]
    stored += database_waivers(session, tenant_id)
    return sorted(stored, key=lambda s: (s.tenant_id, s.waiver.rule, s.source))


def effective_waivers(
    session: Session, tenant: TenantWaivers, now: datetime, *, in_database: bool = True
) -> list[Waiver]:
    """Every waiver of ``tenant`` to hand to ``engine.evaluate``: config first, then database.

    Expired waivers are included on purpose: the engine covers nothing with them but uses them
    to say "waiver expired on ..." in the failing finding's note. ``now`` is accepted so a
    caller's intent is explicit and for future filtering; the engine applies the expiry.
    ``in_database=False`` says the caller already knows the tenant has no database waivers
    (``store.checks.stored_tenant`` tells), so none are read.
    """
    del now  # the engine decides expiry at evaluation time
    if not in_database:
        return list(tenant.waivers)
    rows = session.connection().execute(_TENANT_WAIVERS, {"tenant_id": tenant.id})
    return [*tenant.waivers, *(_from_row(row) for row in rows)]


def waiver_events(session: Session, tenant_id: str | None = None) -> list[WaiverEvent]:
    """The change log of database waivers, oldest first."""
    query = select(WaiverEventRow).order_by(col(WaiverEventRow.at), col(WaiverEventRow.id))
    if tenant_id is not None:
        query = query.where(WaiverEventRow.tenant_id == tenant_id)
    return [
        WaiverEvent(
            at=ensure_utc(row.at),
            tenant_id=row.tenant_id,
            rule=row.rule,
            action=row.action,
            actor=row.actor,
            waiver=Waiver(
                rule=row.rule,
                value=row.value,
                reason=row.reason,
                accepted_by=row.accepted_by,
                expires=row.expires,
            ),
            note=row.note,
        )
        for row in session.exec(query)
    ]


def _validated(*, rule: str, value: str | None, reason: str, by: str, expires: datetime) -> Waiver:
    try:
        return Waiver(rule=rule, value=value, reason=reason, accepted_by=by, expires=expires)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"invalid waiver: {problems}",
            location="cwdrift waive",
            fix="give --rule, --value, a non-empty --reason, --by and --expires",
        ) from None


def _row(session: Session, tenant_id: str, rule: str) -> WaiverRow | None:
    return session.exec(
        select(WaiverRow).where(WaiverRow.tenant_id == tenant_id, WaiverRow.rule == rule)
    ).first()


def _from_row(row: WaiverRow | Row[str, str | None, str, str, datetime]) -> Waiver:
    return Waiver(
        rule=row.rule,
        value=row.value,
        reason=row.reason,
        accepted_by=row.accepted_by,
        expires=row.expires,
    )


def _event(
    at: datetime, tenant_id: str, action: str, *, actor: str, waiver: Waiver, note: str
) -> WaiverEventRow:
    return WaiverEventRow(
        at=at,
        tenant_id=tenant_id,
        rule=waiver.rule,
        action=action,
        actor=actor,
        value=waiver.value,
        reason=waiver.reason,
        accepted_by=waiver.accepted_by,
        expires=waiver.expires,
        note=note,
    )
