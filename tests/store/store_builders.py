"""Small builders for store tests: snapshots, findings, changes at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.core.evaluate import diff
from monitor.core.findings import Finding, Severity, Status
from monitor.core.snapshot import CredentialMode, Setting, Snapshot, Value
from monitor.errors import ConnectionFailed
from monitor.store.database import Database
from monitor.store.runs import RunRecord, latest_snapshot, record_run

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TENANT = "acme"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def snapshot(
    when: datetime,
    values: dict[str, Value],
    *,
    tenant: str = TENANT,
    who: dict[str, str] | None = None,
    unknown: dict[str, str] | None = None,
) -> Snapshot:
    who = who or {}
    return Snapshot.build(
        tenant_id=tenant,
        collected_at=when,
        credential_mode=CredentialMode.INTEGRATION,
        settings=[
            Setting(
                key=key,
                label=LABELS.get(key, key),
                value=value,
                updated_by=who.get(key),
                last_updated=when.isoformat() if key in who else None,
            )
            for key, value in values.items()
        ],
        unknown=unknown,
    )


LABELS = {
    "accounting.transferExpensesAsBillFlag": "Transfer Expenses as Bill",
    "accounting.package": "Accounting Package",
    "gl.segment1type": "GL Segment 1 Type",
    "permission.finance.accounting_interface.add": "Accounting Interface: Add",
}

BASE: dict[str, Value] = {
    "accounting.package": "Other",
    "accounting.transferExpensesAsBillFlag": True,
    "gl.segment1type": "Account",
    "permission.finance.accounting_interface.add": "All",
}


def changed(base: dict[str, Value], **updates: Value) -> dict[str, Value]:
    return {**base, **{k.replace("__", "."): v for k, v in updates.items()}}


def finding(
    rule_id: str, status: Status, *, severity: Severity = Severity.HIGH, actual: str = "x"
) -> Finding:
    return Finding(
        rule_id=rule_id,
        label=f"label of {rule_id}",
        severity=severity,
        status=status,
        expected="All",
        actual=actual,
        keys=("permission.finance.accounting_interface.add",),
    )


def read_error() -> ConnectionFailed:
    return ConnectionFailed(
        "cannot reach acme.example.com", endpoint="/system/info", fix="check the site"
    )


def check(
    db: Database,
    minute: int,
    snap: Snapshot | None,
    findings: list[Finding] | None = None,
    *,
    name: str = "Acme",
    tenant: str = TENANT,
) -> RunRecord:
    """Record one check the way jobs do: diff against the latest snapshot, one transaction."""
    with db.session() as session:
        changes = diff(latest_snapshot(session, tenant), snap) if snap else []
        return record_run(
            session,
            tenant_id=tenant,
            tenant_name=name,
            started_at=at(minute),
            finished_at=at(minute) + (at(1) - at(0)) / 2,
            snapshot=snap,
            changes=changes,
            findings=findings if snap else None,
            error=None if snap else read_error(),
        )
