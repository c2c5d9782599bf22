"""Where each web page lives: one home for the paths the web app routes and for the links that
alerts, e-mails and the weekly report carry when ``web.base_url`` is configured.

    /                                  the fleet
    /tenants/{tenant}                  one tenant (``?at=`` a past moment)
    /tenants/{tenant}/settings/{key}   one setting's timeline
    /tenants/{tenant}/rules/{rule}     the timelines of the settings a rule reads
    /alerts                            deliveries, channel health, silences
    /reports                           the weekly report (``?week=2026-W47``)

A leaf: the web app, the alert message builders and the report templates all import it, and
it imports nothing of ours. Every path segment is percent-encoded, so an odd tenant id, rule id
or setting key can never break out of its segment (or of an HTML attribute).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

# Starlette route patterns (``{name}`` one segment; ``{name:path}`` may hold "/").
FLEET = "/"
TENANT = "/tenants/{tenant}"
SETTING = "/tenants/{tenant}/settings/{key:path}"
RULE = "/tenants/{tenant}/rules/{rule}"
ALERTS = "/alerts"
REPORTS = "/reports"
REPORT_EMAIL = "/reports/email"  # the report exactly as the e-mail renders it
LOGIN = "/login"
STATIC = "/static"


def _segment(text: str) -> str:
    return quote(text, safe="")


def _with_query(path: str, **params: str | None) -> str:
    given = {name: value for name, value in params.items() if value}
    return f"{path}?{urlencode(given)}" if given else path


def tenant_path(tenant: str, at: datetime | str | None = None) -> str:
    when = at.isoformat() if isinstance(at, datetime) else at
    return _with_query(f"/tenants/{_segment(tenant)}", at=when)


def setting_path(tenant: str, key: str, at: datetime | str | None = None) -> str:
    when = at.isoformat() if isinstance(at, datetime) else at
    return _with_query(f"/tenants/{_segment(tenant)}/settings/{_segment(key)}", at=when)


def rule_path(tenant: str, rule: str) -> str:
    return f"/tenants/{_segment(tenant)}/rules/{_segment(rule)}"


def report_path(week: str | None = None) -> str:
    return _with_query(REPORTS, week=week)


@dataclass(frozen=True, slots=True)
class WebLinks:
    """Absolute links to the pages, from ``web.base_url`` (e.g. ``https://cwdrift.example/``)."""

    base_url: str

    def _absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def fleet(self) -> str:
        return self._absolute(FLEET)

    def tenant(self, tenant: str) -> str:
        return self._absolute(tenant_path(tenant))

    def setting(self, tenant: str, key: str) -> str:
        return self._absolute(setting_path(tenant, key))

    def rule(self, tenant: str, rule: str) -> str:
        return self._absolute(rule_path(tenant, rule))

    def report(self, week: str | None = None) -> str:
        return self._absolute(report_path(week))


def links_for(base_url: str | None) -> WebLinks | None:
    """The links of a configured ``web.base_url``; None (no links) when it is not set."""
    return WebLinks(base_url) if base_url else None


__all__ = [
    "ALERTS",
    "FLEET",
    "LOGIN",
    "REPORTS",
    "REPORT_EMAIL",
    "RULE",
    "SETTING",
    "STATIC",
    "TENANT",
    "WebLinks",
    "links_for",
    "report_path",
    "rule_path",
    "setting_path",
    "tenant_path",
]
