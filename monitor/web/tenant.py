"""The tenant page: what fails and how to fix it, what is accepted or muted, what changed and
who last edited it, why the last check failed; now, or as it all was at ``?at=``.

Its JSON twin has the keys of ``cwdrift show --tenant T --at ... --json`` (tenant, at,
observed_at, credential_mode, settings, unknown, findings) and adds name, tags, status, score,
open_findings (with the baseline's fix), waivers, silences, changes, last_check and next_run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.core.findings import Severity, Status
from monitor.core.snapshot import Snapshot, section_of
from monitor.settings import TenantConfig
from monitor.store import Session
from monitor.store.daemon_tables import daemon_status
from monitor.store.history import (
    FindingAt,
    findings_at,
    keys_by_rule,
    recent_changes,
    snapshot_at,
)
from monitor.store.silences import list_silences, silence_dict
from monitor.store.waivers import StoredWaiver, list_waivers
from monitor.store.web_reads import FleetStatus, LastRun, last_run
from monitor.web.render import PageError, View
from monitor.web.site import Site

RECENT_CHANGES = 25
SECTION_TITLES = {
    "member": "API member",
    "role": "Security role",
    "permission": "Role permissions",
    "customize": "Table Setup customize list",
    "accounting": "Accounting package setup",
    "gl": "GL captions",
}


def moment(value: str | None) -> datetime | None:
    """``?at=``: an ISO date or date and time (what a date picker sends); naive is UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PageError(
            400,
            f"at={value!r} is not a date or a time",
            fix="use ISO 8601, e.g. at=2026-11-20 or at=2026-11-20T14:30:00Z",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OpenFinding:
    rule_id: str
    label: str
    severity: str
    status: str
    expected: str
    actual: str | None
    since: datetime
    fix: str
    rationale: str
    keys: tuple[str, ...]
    last_editor: str | None  # ConnectWise's last editor of the record of the first setting read
    last_edited: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "label": self.label,
            "severity": self.severity,
            "status": self.status,
            "expected": self.expected,
            "actual": self.actual,
            "since": self.since.isoformat(),
            "fix": self.fix,
            "settings": list(self.keys),
            "last_edited_by": self.last_editor,
            "last_edited_at": self.last_edited,
        }


def tenant_view(site: Site, session: Session, tenant: TenantConfig, at: datetime | None) -> View:
    now = site.clock()
    shown = min(at, now) if at is not None else now
    snapshot = snapshot_at(session, tenant.id, shown)
    findings = findings_at(session, tenant.id, shown)
    read = keys_by_rule(session, tenant.id)
    run = last_run(session, tenant.id, shown)
    changes = recent_changes(session, tenant.id, until=shown, limit=RECENT_CHANGES)
    waivers = [w for w in list_waivers(session, [tenant], tenant.id) if _waiver_in_force(w, shown)]
    silences = [
        s
        for s in list_silences(session, now=shown)
        if s.tenant in (None, tenant.id) and s.created_at <= shown
    ]
    config_silences = [
        s
        for s in site.config().config.notify.silences
        if s.tenant in (None, tenant.id) and s.expires > shown
    ]
    next_run = daemon_status(session, now).next_runs.get(tenant.id) if at is None else None
    failing = [_open(site, f, read.get(rule_id, ()), snapshot) for rule_id, f in findings.items()
               if f.status in (Status.FAIL, Status.WAIVED)]  # fmt: skip
    failing.sort(key=lambda f: (f.status != Status.FAIL.value, -Severity(f.severity).rank, f.since))
    unknown_findings = [
        (rule_id, f) for rule_id, f in findings.items() if f.status is Status.UNKNOWN
    ]
    passing, applicable = _score(findings)
    status = _status(run)
    data: dict[str, Any] = {
        "tenant": tenant.id,
        "name": tenant.name,
        "tags": list(tenant.tags),
        "at": shown.isoformat(),
        "status": status.value,
        "score": {
            "passing": passing,
            "applicable": applicable,
            "percent": None if applicable == 0 else round(100.0 * passing / applicable, 1),
        },
        "last_check": run.to_dict() if run else None,
        "next_run": next_run.isoformat() if next_run else None,
    }
    if snapshot is None:
        data["snapshot"] = None
    else:
        data |= {
            "observed_at": snapshot.collected_at.isoformat(),
            "credential_mode": snapshot.credential_mode.value,
            "settings": {key: setting.to_dict() for key, setting in snapshot.settings.items()},
            "unknown": dict(snapshot.unknown),
        }
    data |= {
        "findings": {rule_id: f.to_dict() for rule_id, f in findings.items()},
        "open_findings": [f.to_dict() for f in failing if f.status == Status.FAIL.value],
        "waivers": [w.to_dict(shown) for w in waivers],
        "silences": [silence_dict(s) for s in silences]
        + [silence_dict(s) for s in config_silences],
        "changes": [c.to_dict() for c in changes],
    }
    context = {
        "tenant": tenant,
        "at": at,
        "shown": shown,
        "now": now,
        "status": status,
        "score": data["score"],
        "run": run,
        "next_run": next_run,
        "snapshot": snapshot,
        "sections": _sections(snapshot),
        "failing": [f for f in failing if f.status == Status.FAIL.value],
        "waived": [f for f in failing if f.status == Status.WAIVED.value],
        "unknown_findings": unknown_findings,
        "waivers": waivers,
        "silences": data["silences"],
        "changes": changes,
        "at_value": shown.strftime("%Y-%m-%dT%H:%M"),
    }
    return View("web/tenant.html.j2", context, data, title=tenant.name)


def _open(
    site: Site, finding: FindingAt, keys: tuple[str, ...], snapshot: Snapshot | None
) -> OpenFinding:
    rule = site.rule(finding.rule_id)
    editor = edited = None
    if snapshot is not None:
        for key in keys:
            setting = snapshot.get(key)
            if setting is not None and setting.updated_by:
                editor, edited = setting.updated_by, setting.last_updated
                break
    return OpenFinding(
        rule_id=finding.rule_id,
        label=finding.label,
        severity=finding.severity.value,
        status=finding.status.value,
        expected=finding.expected,
        actual=finding.actual,
        since=finding.at,
        fix=rule.remediation if rule is not None else "",
        rationale=rule.rationale if rule is not None else "",
        keys=keys,
        last_editor=editor,
        last_edited=edited,
    )


def _score(findings: Mapping[str, FindingAt]) -> tuple[int, int]:
    """As the weekly report scores: pass and waived pass; unknown and warnings are not judged."""
    judged = [
        f
        for f in findings.values()
        if f.severity is not Severity.WARNING
        and f.status in (Status.PASS, Status.FAIL, Status.WAIVED)
    ]
    return sum(1 for f in judged if f.status is not Status.FAIL), len(judged)


def _status(run: LastRun | None) -> FleetStatus:
    if run is None:
        return FleetStatus.NEVER_CHECKED
    if run.outcome.value == "error":
        return FleetStatus.CANNOT_VERIFY
    return FleetStatus.DRIFT if run.outcome.value == "drift" else FleetStatus.COMPLIANT


def _waiver_in_force(waiver: StoredWaiver, at: datetime) -> bool:
    started = waiver.created_at is None or waiver.created_at <= at
    return started and not waiver.expired(at)


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    keys: list[str]
    unknown: str | None


def _sections(snapshot: Snapshot | None) -> list[Section]:
    """The configuration in force, by section, in the order a person checks it."""
    if snapshot is None:
        return []
    by_section: dict[str, list[str]] = {}
    for key in snapshot.settings:
        by_section.setdefault(section_of(key), []).append(key)
    for section in snapshot.unknown:
        by_section.setdefault(section_of(section), [])
    order = [*SECTION_TITLES, *sorted(set(by_section) - set(SECTION_TITLES))]
    return [
        Section(
            name=name,
            title=SECTION_TITLES.get(name, name),
            keys=by_section[name],
            unknown=snapshot.unknown_section(name),
        )
        for name in order
        if name in by_section
    ]
