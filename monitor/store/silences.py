"""Silences kept in the database (``cwdrift silence add|list|expire``).

Config-file silences live in ``notify.silences``; the lifecycle takes both. A silence only
mutes notifications: alert state keeps moving underneath it (see :mod:`monitor.alerts.lifecycle`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from monitor.alerts.config import Silence
from monitor.clock import ensure_utc
from monitor.errors import CwdriftError
from monitor.store.alert_tables import SilenceRow

# Read by every check that notifies: built once, since building cost more than running it.
_ACTIVE_SILENCES = sa_select(
    col(SilenceRow.tenant),
    col(SilenceRow.rule),
    col(SilenceRow.reason),
    col(SilenceRow.author),
    col(SilenceRow.expires),
).where(
    col(SilenceRow.expires) > bindparam("now"),
    or_(col(SilenceRow.tenant).is_(None), col(SilenceRow.tenant) == bindparam("tenant_id")),
)


def add_silence(
    session: Session,
    *,
    tenant: str | None,
    rule: str | None,
    reason: str,
    author: str,
    expires: datetime,
    now: datetime,
) -> SilenceRow:
    """Record a silence, validated like a config one; it must end in the future."""
    try:
        silence = Silence(tenant=tenant, rule=rule, reason=reason, author=author, expires=expires)
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise CwdriftError(
            f"invalid silence: {problems}",
            fix="give --tenant and/or --rule, a --reason, an --author and an --expires time",
        ) from None
    if silence.expires <= now:
        raise CwdriftError(
            f"silence would already be expired ({silence.expires.isoformat()})",
            fix="give an --expires time in the future, e.g. --expires 2d",
        )
    row = SilenceRow(
        tenant=silence.tenant,
        rule=silence.rule,
        reason=silence.reason,
        author=silence.author,
        created_at=now,
        expires=silence.expires,
    )
    session.add(row)
    session.flush()
    return row


def list_silences(
    session: Session, *, now: datetime, include_expired: bool = False
) -> list[SilenceRow]:
    """Silences by expiry time; only the active ones unless ``include_expired``."""
    query = select(SilenceRow).order_by(col(SilenceRow.expires), col(SilenceRow.id))
    if not include_expired:
        query = query.where(col(SilenceRow.expires) > now)
    return list(session.exec(query))


def expire_silence(session: Session, silence_id: int, *, now: datetime) -> SilenceRow:
    """End a silence now. The next check delivers what it was holding back."""
    row = session.get(SilenceRow, silence_id)
    if row is None:
        raise CwdriftError(
            f"no silence with id {silence_id}", fix="run `cwdrift silence list` to see the ids"
        )
    if ensure_utc(row.expires) > now:
        row.expires = now
        session.add(row)
        session.flush()
    return row


def silence_dict(row: SilenceRow | Silence) -> dict[str, Any]:
    """The shape of a silence in ``status --json`` and ``silence list|add|expire --json``;
    a config file's silence (``notify.silences``) has no id."""
    return {
        "id": row.id if isinstance(row, SilenceRow) else None,
        "tenant": row.tenant,
        "rule": row.rule,
        "reason": row.reason,
        "author": row.author,
        "expires": ensure_utc(row.expires).isoformat(),
    }


def active_silences(session: Session, *, tenant_id: str, now: datetime) -> list[Silence]:
    """The database's unexpired silences that can apply to ``tenant_id``, as lifecycle data."""
    rows = session.connection().execute(_ACTIVE_SILENCES, {"tenant_id": tenant_id, "now": now})
    return [
        Silence(
            tenant=row.tenant,
            rule=row.rule,
            reason=row.reason,
            author=row.author,
            expires=ensure_utc(row.expires),
        )
        for row in rows
    ]
