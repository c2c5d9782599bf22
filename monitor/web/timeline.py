"""Setting timelines: one setting's values over time as a step chart, each change with when
cwdrift observed it and who ConnectWise says last edited the record; or, for a rule, the
timeline of every setting it reads (the link alerts and the weekly report carry).

The JSON twin of a setting is ``cwdrift timeline --json`` (tenant, setting, periods); of a
rule, the rule and one such timeline per setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.settings import TenantConfig
from monitor.store import Session
from monitor.store.history import Period, matching_settings, rule_keys, timeline
from monitor.web.charts import StepChart, show_value, step_chart
from monitor.web.render import PageError, View
from monitor.web.site import Site


@dataclass(frozen=True)
class SettingTimeline:
    key: str
    label: str
    periods: list[Period]
    chart: StepChart | None

    def to_dict(self, tenant_id: str) -> dict[str, Any]:
        return {
            "tenant": tenant_id,
            "setting": self.key,
            "periods": [p.to_dict() for p in self.periods],
        }

    @property
    def current(self) -> tuple[Period, str] | None:
        """The period in force now, with its value as people read it."""
        return self.changes[0] if self.periods else None

    @property
    def changes(self) -> list[tuple[Period, str]]:
        """Newest first, each period with its value as people read it."""
        return [
            (p, show_value(p.value, present=p.present, unknown=p.unknown))
            for p in reversed(self.periods)
        ]


def _timeline(site: Site, session: Session, tenant_id: str, key: str) -> SettingTimeline:
    periods = timeline(session, tenant_id, key)
    label = next((p.label for p in periods if p.label), key)
    return SettingTimeline(key, label, periods, step_chart(periods, site.clock()))


def setting_view(site: Site, session: Session, tenant: TenantConfig, key: str) -> View:
    found = _timeline(site, session, tenant.id, key)
    if not found.periods:
        known = matching_settings(session, tenant.id, key)
        hint = f"; did you mean {known[0][0]}?" if len(known) == 1 else ""
        raise PageError(
            404,
            f"no recorded setting {key!r} of {tenant.id}{hint}",
            fix="the tenant page lists every setting; follow a finding's timeline link",
        )
    context = {"tenant": tenant, "timelines": [found], "rule": None, "now": site.clock()}
    return View("web/timeline.html.j2", context, found.to_dict(tenant.id), title=f"{found.label}")


def rule_view(site: Site, session: Session, tenant: TenantConfig, rule_id: str) -> View:
    keys = rule_keys(session, tenant.id, rule_id)
    rule = site.rule(rule_id)
    if keys is None and rule is None:
        raise PageError(
            404,
            f"no rule {rule_id!r} in the baseline, and none evaluated for {tenant.id}",
            fix="the tenant page lists its findings with their rule ids",
        )
    timelines = [_timeline(site, session, tenant.id, key) for key in keys or ()]
    data = {
        "tenant": tenant.id,
        "rule": rule_id,
        "label": rule.label if rule else None,
        "settings": [t.to_dict(tenant.id) for t in timelines],
    }
    context = {"tenant": tenant, "timelines": timelines, "rule": rule, "rule_id": rule_id,
               "now": site.clock()}  # fmt: skip
    return View("web/timeline.html.j2", context, data, title=rule.label if rule else rule_id)
