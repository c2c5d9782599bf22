"""Fix drift: plan, apply what ConnectWise lets us write, verify by re-reading, record it all.

    plan_tenant     read the tenant with its read keys, evaluate, plan each failing rule: the
                    PATCH (endpoint, record, from -> to), or the numbered steps for a person
    apply_plans     send the PATCHes with the tenant's fix keys (never retried blindly), then a
                    full check re-reads everything and decides, per rule, fixed or not fixed
    approve         apply one pending plan, only if the fresh read still starts from its "from"
    check_and_fix   the daemon's check: check, then by each rule's mode plan it (approve) or
                    apply it at once (auto: one try per check; a fix that does not hold stops
                    further automatic tries and alerts, until a person resumes or it passes)

Nothing here writes to ConnectWise unless a person asked (``cwdrift fix --apply``, an approval)
or put the rule in ``auto`` mode. Every write is recorded before it is sent (the plan, as
``applying``), when it is answered (the attempt), and when the re-read verified it.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import socket
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.alerts.model import FixNote
from monitor.connectwise.client import ConnectWiseClient, Json
from monitor.connectwise.normalize import normalize
from monitor.connectwise.raw import RawTenant
from monitor.connectwise.records import SecurityRole, find_member, record_in_force
from monitor.core.evaluate import evaluate
from monitor.core.findings import Finding, Status
from monitor.core.remediation import RulePlan, fixing_modes, modes_for, plan_fixes, plan_moved
from monitor.core.remedy import (
    ROLES_INQUIRE,
    FixMode,
    RemedyContext,
    RoleOption,
    Targets,
    Write,
    permissions_needed,
)
from monitor.core.rules.role import MemberRoleRequirement
from monitor.core.snapshot import Snapshot
from monitor.errors import ConfigError, ConnectWiseError, CwdriftError, PermissionDenied
from monitor.jobs.check import TenantResult, check_tenant, collect
from monitor.jobs.runtime import Runtime
from monitor.settings import TenantConfig
from monitor.store.fix_tables import PlanSource, PlanStatus, Verification
from monitor.store.fixes import (
    StoredPlan,
    get_plan,
    held_rules,
    new_plan,
    record_attempt,
    record_verification,
    save_pending,
    set_status,
    settle,
)
from monitor.store.silences import active_silences
from monitor.store.waivers import effective_waivers

log = logging.getLogger("cwdrift.fix")

ANSWER_LIMIT = 500  # characters of ConnectWise's answer kept per attempt


@dataclass(frozen=True)
class Operator:
    """Who asked for a write, and from where (recorded on every plan and attempt)."""

    name: str
    host: str
    automatic: bool = False

    @classmethod
    def current(cls, by: str | None = None) -> Operator:
        """``--by``, else the OS user, on this host."""
        return cls(name=by or _os_user(), host=socket.gethostname())

    @classmethod
    def daemon(cls) -> Operator:
        return cls(name="cwdrift daemon", host=socket.gethostname(), automatic=True)

    @property
    def label(self) -> str:
        suffix = " (automatic)" if self.automatic else ""
        return f"{self.name} on {self.host}{suffix}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's numeric uid)
        return "unknown user"


class RuleOutcome(StrEnum):
    PLANNED = "planned"  # dry run: what would be written
    FIXED = "fixed"  # written, and the re-read shows the rule passing
    NOT_FIXED = "not_fixed"  # written or refused, and the rule still fails (or is unverified)
    NEEDS_PERSON = "needs_person"  # ConnectWise's API cannot write it, or no safe value
    REFUSED = "refused"  # an approval whose starting point moved: nothing written
    OBSOLETE = "obsolete"  # an approval whose rule no longer fails: nothing written


@dataclass
class TenantPlan:
    """A fresh read of one tenant and the plan for each failing rule."""

    tenant: TenantConfig
    snapshot: Snapshot
    findings: list[Finding]
    plans: list[RulePlan]

    @property
    def writes(self) -> list[RulePlan]:
        return [plan for plan in self.plans if plan.write is not None]

    @property
    def permissions(self) -> tuple[str, ...]:
        """What the fix key's role must grant for this plan's writes."""
        writes = [plan.write for plan in self.plans if plan.write is not None]
        return permissions_needed(writes)

    def finding(self, rule_id: str) -> Finding | None:
        return next((f for f in self.findings if f.rule_id == rule_id), None)


@dataclass
class RuleResult:
    plan: RulePlan
    outcome: RuleOutcome
    answer: str = ""  # ConnectWise's answer to the write, or why nothing was written
    actual_after: str | None = None  # the re-read's value
    plan_id: int | None = None
    error: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "result": self.outcome.value,
            "answer": self.answer or None,
            "actual_after": self.actual_after,
            "plan_id": self.plan_id,
            "error": self.error,
        }


@dataclass
class FixReport:
    """What ``cwdrift fix`` did for one tenant, rule by rule."""

    tenant_id: str
    applied: bool
    results: list[RuleResult] = field(default_factory=list)
    verify_run_id: int | None = None
    verify_error: dict[str, str] | None = None
    still_failing: list[str] = field(default_factory=list)  # rules failing after the re-read

    @property
    def exit_code(self) -> int:
        """0 nothing left failing; 1 something still fails (or, in a dry run, was planned)."""
        if not self.applied:  # a dry run, or an approval that wrote nothing
            return 0 if all(r.outcome is RuleOutcome.OBSOLETE for r in self.results) else 1
        if self.verify_error is not None or self.still_failing:
            return 1
        return 0 if all(r.outcome is RuleOutcome.FIXED for r in self.results) else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "applied": self.applied,
            "rules": [r.to_json() for r in self.results],
            "verify_run": self.verify_run_id,
            "verify_error": self.verify_error,
            "still_failing": self.still_failing,
        }


# -- planning ----------------------------------------------------------------------------------


async def plan_tenant(
    rt: Runtime, tenant: TenantConfig, rules: Collection[str] | None = None
) -> TenantPlan:
    """Read the tenant now and plan each failing rule (only ``rules`` when given).

    Raises the typed ConnectWise error when the tenant cannot be read: nothing is planned on a
    partial or failed read.
    """
    started = rt.clock()
    raw = await collect(rt, tenant)
    snapshot = normalize(raw, started)
    findings = await asyncio.to_thread(_evaluate, rt, tenant, snapshot)
    return await _plan(rt, tenant, raw, snapshot, findings, rules)


def _evaluate(rt: Runtime, tenant: TenantConfig, snapshot: Snapshot) -> list[Finding]:
    now = rt.clock()
    with rt.db.session() as session:
        waivers = effective_waivers(session, tenant, now, in_database=True)
    return evaluate(rt.baseline, snapshot, tenant.options, waivers, now)


async def _plan(
    rt: Runtime,
    tenant: TenantConfig,
    raw: RawTenant,
    snapshot: Snapshot,
    findings: list[Finding],
    rules: Collection[str] | None,
) -> TenantPlan:
    targets = _targets(raw)
    if _needs_roles(rt, tenant, findings, rules):
        targets = await _with_roles(rt, tenant, targets)
    modes = modes_for(rt.baseline, tenant.fix_modes)
    ctx = RemedyContext(snapshot=snapshot, options=tenant.options, targets=targets)
    plans = plan_fixes(rt.baseline, findings, ctx, rules=rules, modes=modes)
    return TenantPlan(tenant=tenant, snapshot=snapshot, findings=findings, plans=plans)


def _targets(raw: RawTenant) -> Targets:
    """The ids of the records a write would change, from the read (None: not read)."""
    setup = record_in_force(raw.accounting_setup)
    captions = record_in_force(raw.gl_captions)
    member = find_member(raw.api_members, raw.integration_member)
    return Targets(
        accounting_setup_id=setup.id if setup is not None else None,
        gl_captions_id=captions.id if captions is not None else None,
        api_member_id=member.id if member is not None else None,
    )


def _needs_roles(
    rt: Runtime, tenant: TenantConfig, findings: Sequence[Finding], rules: Collection[str] | None
) -> bool:
    """Only a failing member-role rule with an ``expected_role`` needs the list of roles."""
    if tenant.options.expected_role is None:
        return False
    role_rules = {r.id for r in rt.baseline if isinstance(r.requirement, MemberRoleRequirement)}
    return any(
        f.rule_id in role_rules
        and f.status is Status.FAIL
        and (rules is None or f.rule_id in rules)
        for f in findings
    )


async def _with_roles(rt: Runtime, tenant: TenantConfig, targets: Targets) -> Targets:
    """The security roles, read with the fix keys (else the read keys), to find the id of the
    tenant's ``expected_role``. A refusal is not an error: the rule then needs a person."""
    which = "fix" if tenant.can_write else "read"
    try:
        async with rt.client(tenant, write=tenant.can_write) as client:
            rows = await client.get_list("/system/securityroles")
    except PermissionDenied:
        return _replace_roles(
            targets, None, f"the {which} keys' role does not grant {ROLES_INQUIRE}"
        )
    except ConnectWiseError as exc:
        return _replace_roles(targets, None, f"reading the security roles failed: {exc.message}")
    endpoint = "/system/securityroles"
    parsed = [SecurityRole.parse(row, endpoint=endpoint, row=i) for i, row in enumerate(rows)]
    roles = tuple(role for record in parsed if (role := _role_option(record)) is not None)
    return _replace_roles(targets, roles, "")


def _replace_roles(targets: Targets, roles: tuple[RoleOption, ...] | None, why: str) -> Targets:
    return Targets(
        accounting_setup_id=targets.accounting_setup_id,
        gl_captions_id=targets.gl_captions_id,
        api_member_id=targets.api_member_id,
        roles=roles,
        roles_unread=why or targets.roles_unread,
    )


def _role_option(role: SecurityRole) -> RoleOption | None:
    if role.id is None or role.name is None:
        return None  # a role we cannot name is never chosen
    # A flag sent as something other than a boolean is not trusted to mean "no": such a role
    # counts as Admin (never given) and inactive (never chosen).
    admin = role.adminFlag is True or _sent_wrong(role, "adminFlag")
    inactive = role.inactiveFlag is True or _sent_wrong(role, "inactiveFlag")
    return RoleOption(id=role.id, name=role.name, admin=admin, inactive=inactive)


def _sent_wrong(role: SecurityRole, field: str) -> bool:
    problem = role.problem(field)
    return problem is not None and problem.kind == "wrong"


# -- applying ----------------------------------------------------------------------------------


@dataclass
class _Sent:
    plan: RulePlan
    stored: StoredPlan
    attempt_id: int
    answer: str
    error: CwdriftError | None


async def apply_plans(
    rt: Runtime,
    tenant_plan: TenantPlan,
    operator: Operator,
    *,
    source: PlanSource,
    stored: Mapping[str, StoredPlan] | None = None,
    scope: Collection[str] | None = None,
) -> FixReport:
    """Send each planned write, re-read with a full check, and record what came of each.

    ``stored`` are plans already recorded (an approval) by rule id; the others are recorded
    now, as ``applying``, before their write is sent. Person-only rules are reported as such.
    ``scope`` limits "still failing" to the rules asked about (all when None).
    """
    tenant = tenant_plan.tenant
    if not tenant.can_write:
        raise no_write_keys(tenant, tenant_plan.permissions)
    report = FixReport(tenant_id=tenant.id, applied=True)
    sent: list[_Sent] = []
    async with rt.client(tenant, write=True) as client:
        for plan in tenant_plan.writes:
            sent.append(await _send(rt, client, tenant, plan, operator, source, stored or {}))
    notes = {
        s.plan.rule_id: FixNote(
            operator=operator.label,
            automatic=operator.automatic,
            answer=s.answer,
            resume=resume_command(tenant.id, s.plan.rule_id),
        )
        for s in sent
    }
    verified = await check_tenant(rt, tenant, fixes=notes)
    report.verify_run_id = verified.run_id
    if verified.error is not None:
        report.verify_error = verified.error.as_dict()
    after = {f.rule_id: f for f in verified.findings}
    report.still_failing = [
        f.rule_id for f in verified.findings if f.is_drift and (scope is None or f.rule_id in scope)
    ]
    outcomes = await asyncio.to_thread(_verify, rt, tenant, sent, verified, operator)
    results = {s.plan.rule_id: outcome for s, outcome in zip(sent, outcomes, strict=True)}
    for plan in tenant_plan.plans:
        if plan.write is None:
            report.results.append(
                RuleResult(plan, RuleOutcome.NEEDS_PERSON, answer=plan.person_reason)
            )
            continue
        report.results.append(results[plan.rule_id])
        finding = after.get(plan.rule_id)
        report.results[-1].actual_after = finding.actual if finding is not None else None
    return report


async def _send(
    rt: Runtime,
    client: ConnectWiseClient,
    tenant: TenantConfig,
    plan: RulePlan,
    operator: Operator,
    source: PlanSource,
    stored: Mapping[str, StoredPlan],
) -> _Sent:
    write = plan.write
    assert write is not None  # only writes are sent
    row = await asyncio.to_thread(_applying, rt, tenant, plan, write, operator, source, stored)
    at = rt.clock()
    error: CwdriftError | None = None
    status: int | None
    try:
        answered = await client.patch(write.path, write.body())
        status, answer = 200, _describe_answer(write, answered)
    except ConnectWiseError as exc:
        error, status, answer = exc, exc.status, str(exc)[:ANSWER_LIMIT]
    log.info(
        "fix tenant=%s rule=%s PATCH %s -> %s",
        tenant.id,
        plan.rule_id,
        write.path,
        status if status is not None else "no answer",
        extra={"tenant": tenant.id},
    )
    attempt_id = await asyncio.to_thread(
        _record_attempt, rt, row, at, operator, write, status, answer, error
    )
    return _Sent(plan, row, attempt_id, answer, error)


def _applying(
    rt: Runtime,
    tenant: TenantConfig,
    plan: RulePlan,
    write: Write,
    operator: Operator,
    source: PlanSource,
    stored: Mapping[str, StoredPlan],
) -> StoredPlan:
    """The plan recorded as ``applying`` and committed, before its write leaves this host."""
    now = rt.clock()
    with rt.db.session() as session:
        existing = stored.get(plan.rule_id)
        if existing is not None:
            set_status(session, existing.id, PlanStatus.APPLYING, now=now, note="")
            return existing
        return new_plan(
            session,
            tenant_id=tenant.id,
            rule_id=plan.rule_id,
            label=plan.label,
            source=source,
            status=PlanStatus.APPLYING,
            write=write,
            now=now,
            by=operator.name,
            host=operator.host,
        )


def _record_attempt(
    rt: Runtime,
    stored: StoredPlan,
    at: datetime,
    operator: Operator,
    write: Write,
    status: int | None,
    answer: str,
    error: CwdriftError | None,
) -> int:
    with rt.db.session() as session:
        return record_attempt(
            session,
            plan=stored,
            at=at,
            operator=operator.name,
            host=operator.host,
            write=write,
            status_code=status,
            answer=answer,
            error_kind=error.kind if error is not None else None,
        )


def _describe_answer(write: Write, answered: Json) -> str:
    """ConnectWise's 200, with the written fields as its answer shows them (not the record)."""
    shown = []
    for operation in write.operations:
        value = answered.get(operation.path)
        if isinstance(value, dict):  # a reference: its id and name say enough
            value = {k: value[k] for k in ("id", "identifier", "name") if k in value}
        shown.append(f"{operation.path}={json.dumps(value)}")
    return f"200 OK ({', '.join(shown)})"[:ANSWER_LIMIT]


def _verify(
    rt: Runtime,
    tenant: TenantConfig,
    sent: Sequence[_Sent],
    verified: TenantResult,
    operator: Operator,
) -> list[RuleResult]:
    """Per write: fixed when the re-read shows its rule passing, else not fixed; recorded."""
    now = rt.clock()
    after = {f.rule_id: f for f in verified.findings}
    results = []
    with rt.db.session() as session:
        for item in sent:
            finding = after.get(item.plan.rule_id)
            if verified.error is not None or finding is None:
                verification = Verification.UNVERIFIED
            elif finding.status is Status.PASS:
                verification = Verification.FIXED
            else:
                verification = Verification.NOT_FIXED
            actual = finding.actual if finding is not None else None
            record_verification(
                session,
                item.attempt_id,
                verification,
                at=now,
                run_id=verified.run_id,
                value=actual,
            )
            outcome, status, note = _judge(item, verification, actual, verified, operator)
            set_status(session, item.stored.id, status, now=now, note=note)
            error = item.error.as_dict() if item.error is not None else None
            results.append(RuleResult(item.plan, outcome, note, actual, item.stored.id, error))
        if verified.error is None:
            failing = {f.rule_id for f in verified.findings if f.status is Status.FAIL}
            passing = {f.rule_id for f in verified.findings if f.status is Status.PASS}
            settle(session, tenant.id, failing=failing, passing=passing, now=now)
    return results


def _judge(
    item: _Sent,
    verification: Verification,
    actual: str | None,
    verified: TenantResult,
    operator: Operator,
) -> tuple[RuleOutcome, PlanStatus, str]:
    """The outcome, the plan's new status and the sentence that explains it."""
    if verification is Verification.FIXED:
        return RuleOutcome.FIXED, PlanStatus.FIXED, f"{item.answer}; the re-read shows it fixed"
    if verification is Verification.UNVERIFIED:
        why = verified.error.message if verified.error is not None else "the rule was not checked"
        note = f"{item.answer}; the re-read failed, so whether it held is unknown: {why}"
    else:
        note = f"{item.answer}; but the re-read still shows {actual!r}"
    status = PlanStatus.HELD if operator.automatic else PlanStatus.NOT_FIXED
    return RuleOutcome.NOT_FIXED, status, note


def no_write_keys(tenant: TenantConfig, permissions: Sequence[str]) -> ConfigError:
    needed = ", ".join(permissions) or "Edit on what the fix changes"
    return ConfigError(
        f"tenant {tenant.id} has no write credentials, so cwdrift fix stays a dry run",
        location=f"tenant {tenant.id}: fix_public_key / fix_private_key",
        fix=(
            "add fix_public_key and fix_private_key (or fix_private_key_file) of an API member "
            f"whose role grants {needed}"
        ),
    )


def resume_command(tenant_id: str, rule_id: str) -> str:
    return f"cwdrift fix --tenant {tenant_id} --rule {rule_id} --resume"


# -- approving ---------------------------------------------------------------------------------


async def approve(rt: Runtime, plan_id: int, operator: Operator) -> FixReport:
    """Apply pending plan ``plan_id`` if a fresh read still starts from its "from" values.

    Refused (recorded, nothing written) when the value moved; obsolete when the rule passes.
    """
    stored = await asyncio.to_thread(_pending_plan, rt, plan_id)
    tenant = rt.config.tenant(stored.tenant_id)
    if not tenant.can_write:
        raise no_write_keys(tenant, (stored.write.permission,))
    fresh = await plan_tenant(rt, tenant, rules=[stored.rule_id])
    finding = fresh.finding(stored.rule_id)
    current = next((p for p in fresh.plans if p.rule_id == stored.rule_id), None)
    report = FixReport(tenant_id=tenant.id, applied=False)
    if finding is None or finding.status is Status.UNKNOWN:
        why = finding.note if finding is not None else "the rule is not evaluated for this tenant"
        raise ConfigError(
            f"plan {plan_id}: {stored.rule_id} cannot be judged now ({why})",
            location="--approve",
            fix="approve it again once the tenant can be read",
        )
    if current is None:  # passes, or waived: nothing to write
        note = f"not applied: the rule is {finding.status.value} now"
        await asyncio.to_thread(_close, rt, stored, PlanStatus.OBSOLETE, note)
        placeholder = _stored_as_plan(stored, finding)
        report.results.append(RuleResult(placeholder, RuleOutcome.OBSOLETE, note, plan_id=plan_id))
        return report
    moved = (
        plan_moved(stored.write, current.write)
        if current.write is not None
        else f"cwdrift can no longer write it: {current.person_reason}"
    )
    if moved is not None:
        note = f"refused by {operator.name}: {moved}"
        await asyncio.to_thread(_close, rt, stored, PlanStatus.REFUSED, note)
        report.results.append(RuleResult(current, RuleOutcome.REFUSED, note, plan_id=plan_id))
        return report
    only = TenantPlan(tenant, fresh.snapshot, fresh.findings, [current])
    return await apply_plans(
        rt,
        only,
        operator,
        source=PlanSource.APPROVE,
        stored={stored.rule_id: stored},
        scope=[stored.rule_id],
    )


def _pending_plan(rt: Runtime, plan_id: int) -> StoredPlan:
    with rt.db.session() as session:
        stored = get_plan(session, plan_id)
    if stored is None:
        raise ConfigError(
            f"there is no fix plan {plan_id}",
            location="--approve",
            fix="cwdrift fix --pending lists the plans waiting for approval",
        )
    if stored.status is not PlanStatus.PENDING:
        raise ConfigError(
            f"plan {plan_id} is {stored.status.value}, not pending"
            + (f" ({stored.note})" if stored.note else ""),
            location="--approve",
            fix="cwdrift fix --pending lists the plans waiting for approval",
        )
    return stored


def _close(rt: Runtime, stored: StoredPlan, status: PlanStatus, note: str) -> None:
    with rt.db.session() as session:
        set_status(session, stored.id, status, now=rt.clock(), note=note)


def _stored_as_plan(stored: StoredPlan, finding: Finding) -> RulePlan:
    return RulePlan(
        rule_id=stored.rule_id,
        label=stored.label,
        severity=finding.severity,
        expected=finding.expected,
        actual=finding.actual,
        remedy=stored.write,
        steps=(),
        mode=FixMode.APPROVE,
    )


# -- the daemon's check ------------------------------------------------------------------------


async def check_and_fix(rt: Runtime, tenant: TenantConfig) -> TenantResult:
    """One scheduled check, then each failing rule in ``approve`` or ``auto`` mode handled.

    Tenants whose rules are all ``report`` (most) check exactly as ``check_tenant`` does. A
    problem while fixing is logged and never turns the check itself into a failure.
    """
    modes = fixing_modes(rt.baseline, tenant.fix_modes)
    if not modes:
        return await check_tenant(rt, tenant)
    result = await check_tenant(rt, tenant, keep_raw=True)
    raw, snapshot = result.raw, result.snapshot
    result.raw = result.snapshot = None  # not kept beyond this check
    if raw is None or snapshot is None:
        return result
    try:
        await _fix_by_mode(rt, tenant, result, raw, snapshot, modes)
    except CwdriftError as exc:
        log.warning(
            "tenant=%s: fixing by mode failed: %s", tenant.id, exc, extra={"tenant": tenant.id}
        )
    return result


async def _fix_by_mode(
    rt: Runtime,
    tenant: TenantConfig,
    result: TenantResult,
    raw: RawTenant,
    snapshot: Snapshot,
    modes: Mapping[str, FixMode],
) -> None:
    failing = {f.rule_id for f in result.findings if f.status is Status.FAIL}
    passing = {f.rule_id for f in result.findings if f.status is Status.PASS}
    blocked = await asyncio.to_thread(_settle_and_blocked, rt, tenant, failing, passing)
    wanted = sorted((failing & set(modes)) - blocked)
    if not wanted:
        return
    plan = await _plan(rt, tenant, raw, snapshot, result.findings, wanted)
    pending = [p for p in plan.writes if p.mode is FixMode.APPROVE]
    automatic = [p for p in plan.writes if p.mode is FixMode.AUTO]
    if automatic and not tenant.can_write:
        pending += automatic  # recorded for approval; the config warned at load
        automatic = []
    if pending:
        await asyncio.to_thread(_save_pending, rt, tenant, pending)
    if automatic:
        only = TenantPlan(tenant, plan.snapshot, plan.findings, automatic)
        report = await apply_plans(rt, only, Operator.daemon(), source=PlanSource.AUTO)
        for item in report.results:
            log.info(
                "tenant=%s rule=%s automatic fix: %s",
                tenant.id,
                item.plan.rule_id,
                item.outcome.value,
                extra={"tenant": tenant.id},
            )


def _settle_and_blocked(
    rt: Runtime, tenant: TenantConfig, failing: set[str], passing: set[str]
) -> set[str]:
    """Close what this check settled; return the rules not to fix now (held or silenced)."""
    now = rt.clock()
    with rt.db.session() as session:
        settle(session, tenant.id, failing=failing, passing=passing, now=now)
        blocked = held_rules(session, tenant.id)
        silences = [
            *rt.config.notify.silences,
            *active_silences(session, tenant_id=tenant.id, now=now),
        ]
    for silence in silences:
        if now < silence.expires and silence.tenant in (None, tenant.id):
            blocked |= failing if silence.rule is None else {silence.rule}
    return blocked


def _save_pending(rt: Runtime, tenant: TenantConfig, plans: Sequence[RulePlan]) -> None:
    now = rt.clock()
    host = socket.gethostname()
    with rt.db.session() as session:
        for plan in plans:
            assert plan.write is not None  # only writes are planned for approval
            note = (
                "auto mode, but the tenant has no fix keys: approve it once they are configured"
                if plan.mode is FixMode.AUTO
                else ""
            )
            stored, changed = save_pending(
                session,
                tenant_id=tenant.id,
                rule_id=plan.rule_id,
                label=plan.label,
                write=plan.write,
                now=now,
                host=host,
                note=note,
            )
            if changed:
                log.info(
                    "tenant=%s rule=%s fix plan %d pending approval",
                    tenant.id,
                    plan.rule_id,
                    stored.id,
                    extra={"tenant": tenant.id},
                )
