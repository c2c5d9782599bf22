"""Builders shared by the alert tests: findings, tenants, policies and a scenario runner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.alerts.config import NotifyConfig, Silence
from monitor.alerts.lifecycle import Plan, plan_alerts
from monitor.alerts.model import AlertState, TenantRef
from monitor.core.findings import Finding, Severity, Status
from monitor.errors import AuthenticationFailed, CwdriftError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = TenantRef(id="acme", name="Acme MSP", tags=("accounting",))

EXPENSE_RULE = "accounting.expenses_not_transferred_as_bill"
INVOICING_RULE = "permission.finance.invoicing.edit_all"


def finding(
    status: Status = Status.FAIL,
    *,
    rule: str = EXPENSE_RULE,
    severity: Severity = Severity.CRITICAL,
    label: str = "Transfer Expenses as a Bill is off",
    expected: str = "off",
    actual: str | None = "on",
    keys: tuple[str, ...] = ("accounting.transferExpensesAsBillFlag",),
    remediation: str = "Finance > Accounting Interface > Setup: clear 'Transfer Expenses'",
) -> Finding:
    return Finding(
        rule_id=rule,
        label=label,
        severity=severity,
        status=status,
        expected=expected,
        actual=actual if status is not Status.PASS else expected,
        keys=keys,
        remediation=remediation,
    )


def revoked_keys() -> CwdriftError:
    return AuthenticationFailed(
        "ConnectWise rejected the API keys of member GozyntaAPI",
        endpoint="/system/info",
        status=401,
        fix="generate new API keys for the member and update private_key in the config",
    )


def policy(**changes: Any) -> NotifyConfig:
    return NotifyConfig.model_validate(changes)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@dataclass
class Step:
    """One check: at ``at``, either findings or an error; ``expect`` lists (kind, alert key)."""

    at: datetime
    findings: Sequence[Finding] | None = None
    error: CwdriftError | None = None
    expect: list[tuple[str, str]] = field(default_factory=list)


def run_steps(
    steps: Sequence[Step],
    *,
    config: NotifyConfig | None = None,
    silences: Sequence[Silence] = (),
    tenant: TenantRef = ACME,
    previous: Sequence[AlertState] = (),
) -> tuple[list[Plan], list[AlertState]]:
    """Chain checks through the lifecycle; assert each step's events; return plans and states."""
    states: list[AlertState] = list(previous)
    plans: list[Plan] = []
    for index, step in enumerate(steps):
        plan = plan_alerts(
            tenant=tenant,
            previous=states,
            findings=step.findings,
            error=step.error,
            policy=config or NotifyConfig(),
            now=step.at,
            silences=silences,
        )
        got = [] if plan.group is None else [(e.kind.value, e.alert_key) for e in plan.group.events]
        assert got == step.expect, f"step {index} at {step.at.isoformat()}"
        states = list(plan.states)
        plans.append(plan)
    return plans, states
