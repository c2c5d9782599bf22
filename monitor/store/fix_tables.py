"""Fixing drift (revision 0008_remediation): every plan, and every write cwdrift sent.

    fix_plan      one fix of one rule for one tenant: the PATCH (endpoint, record, operations,
                  from -> to), where it came from (``cwdrift fix``, an approval, automatic), and
                  where it stands (pending ... fixed / not fixed / held)
    fix_attempt   one write sent for a plan: who (operator), from where (host), when, the
                  request, ConnectWise's answer (scrubbed), and the re-read's verdict with the
                  check run that verified it (history and reports join on ``verify_run_id``)

A pending plan is one row per tenant and rule, refreshed in place by each check that plans it.
A plan ``held`` stops automatic fixes of its rule until a person resumes them or the rule
passes. No foreign key to ``tenant``: a plan may be made before the tenant's first stored run.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from monitor.store.tables import UTCDateTime


class PlanSource(StrEnum):
    CLI = "cli"  # cwdrift fix --apply
    APPROVE = "approve"  # planned by the daemon, applied by cwdrift fix --approve
    AUTO = "auto"  # planned and applied by the daemon


class PlanStatus(StrEnum):
    PENDING = "pending"  # waiting for `cwdrift fix --approve ID`
    APPLYING = "applying"  # the write is being sent (a crash leaves it here, visibly)
    FIXED = "fixed"  # written and verified by a re-read
    NOT_FIXED = "not_fixed"  # written (or refused) and the rule still fails
    HELD = "held"  # an automatic fix that did not hold: no more automatic tries until cleared
    REFUSED = "refused"  # not applied: the value moved since the plan was made
    OBSOLETE = "obsolete"  # not applied: the rule passes (or is waived) now
    CLEARED = "cleared"  # a held plan a person resumed, or whose rule passes again


class Verification(StrEnum):
    FIXED = "fixed"  # the re-read shows the rule passing
    NOT_FIXED = "not_fixed"  # the re-read shows it still failing
    UNVERIFIED = "unverified"  # the re-read failed: nobody knows yet


class FixPlanRow(SQLModel, table=True):
    __tablename__ = "fix_plan"
    __table_args__ = (Index("ix_fix_plan_tenant_rule_status", "tenant_id", "rule_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(sa_type=String(200))
    rule_id: str = Field(sa_type=String(200))
    label: str = Field(sa_type=Text)
    source: str = Field(sa_type=String(16))  # PlanSource
    status: str = Field(sa_type=String(16))  # PlanStatus
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(sa_type=String(200))  # the operator, or "cwdrift daemon"
    host: str = Field(sa_type=String(255))
    endpoint: str = Field(sa_type=String(300))  # documented: /finance/accountingPackageSetup/{id}
    record_id: int = Field(sa_type=Integer)
    write: str = Field(sa_type=Text)  # JSON of Write.to_json(): operations, from -> to
    note: str = Field(default="", sa_type=Text)  # why refused, held, obsolete or cleared


class FixAttemptRow(SQLModel, table=True):
    __tablename__ = "fix_attempt"
    __table_args__ = (Index("ix_fix_attempt_tenant_at", "tenant_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column_args=[ForeignKey("fix_plan.id")], index=True)
    tenant_id: str = Field(sa_type=String(200))
    rule_id: str = Field(sa_type=String(200))
    at: datetime = Field(sa_type=UTCDateTime)
    operator: str = Field(sa_type=String(200))  # who ran it: --by, the OS user, or the daemon
    host: str = Field(sa_type=String(255))  # where it ran
    source: str = Field(sa_type=String(16))  # PlanSource
    method: str = Field(sa_type=String(8))
    path: str = Field(sa_type=String(300))
    request: str = Field(sa_type=Text)  # JSON of the operations sent
    keys: str = Field(sa_type=Text)  # JSON list of the snapshot keys the write changes
    status_code: int | None = Field(default=None)  # None: no HTTP answer
    answer: str = Field(sa_type=Text)  # ConnectWise's answer, scrubbed and short
    error_kind: str | None = Field(default=None, sa_type=String(40))
    verification: str = Field(sa_type=String(16))  # Verification
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verify_run_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("check_run.id")], index=True
    )
    verified_value: str | None = Field(default=None, sa_type=Text)  # the re-read's actual value
