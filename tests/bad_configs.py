"""Bad config files, one per way a file can be wrong, with where the error must point.

Shared by the CLI tests (``config validate``, ``check``, ``run``) and the daemon's SIGHUP reload
tests: every case must end in one line naming ``file:line: field``, exit 2, no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


def tenant(tenant_id: str = "acme", *, site: str = "na.myconnectwise.net", extra: str = "") -> str:
    """One valid tenant entry (a list item under ``tenants:``), plus ``extra`` lines."""
    return (
        f"  - id: {tenant_id}\n"
        f"    name: Tenant {tenant_id}\n"
        f"    site: {site}\n"
        f"    company_id: {tenant_id}\n"
        f"    public_key: pub-{tenant_id}\n"
        "    private_key: ${CWDRIFT_TEST_UNSET_KEY:-not-a-real-key}\n"
        "    client_id: client\n"
        f"    integration_member: GozyntaAPI\n{extra}"
    )


def config(head: str = "", tenants: str | None = None) -> str:
    """A config: the database, ``head`` (other sections), and the tenants (one by default)."""
    body = tenant() if tenants is None else tenants
    return f"database: sqlite:///cwdrift.db\n{head}tenants:\n{body}"


def alias_bomb() -> str:
    """ "Billion laughs": each list holds ten aliases of the previous one."""
    lines = ["b0: &b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        lines.append(f"b{level}: &b{level} [" + ", ".join([f"*b{level - 1}"] * 10) + "]")
    return config("\n".join(lines) + "\n")


@dataclass(frozen=True)
class BadConfig:
    name: str
    content: str | bytes
    at: str  # text on the line the error must name (its first occurrence)
    field: str  # the dotted field the error must name
    words: str  # words of the problem

    @property
    def line(self) -> int:
        content = self.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        if not text:
            return 1  # an empty file: the error names its first line
        for number, line in enumerate(text.splitlines(), start=1):
            if self.at in line:
                return number
        raise AssertionError(f"{self.name}: {self.at!r} is not in the file")


CASES = [
    BadConfig("alias-bomb", alias_bomb(), "b5:", "b5", "alias bomb"),
    BadConfig(
        "alias-to-itself", config("loop: &loop [1, *loop]\n"), "loop:", "loop", "alias refers"
    ),
    BadConfig(
        "python-tag",
        "database: !!python/object/apply:os.system ['true']\ntenants:\n" + tenant(),
        "database:",
        "database",
        "unsupported YAML tag",
    ),
    BadConfig(
        "custom-tag",
        config(tenants=tenant(extra="    tags: !env [a]\n")),
        "tags:",
        "tenants[0].tags",
        "unsupported YAML tag",
    ),
    BadConfig(
        "not-utf-8",
        config(tenants=tenant().replace("Tenant acme", "Tenant \xe9")).encode("latin-1"),
        "name:",
        "tenants[0].name",
        "not UTF-8",
    ),
    BadConfig(
        "overflowing-duration",
        config("daemon:\n  schedule:\n    every: 99999999999d\n"),
        "every:",
        "daemon.schedule.every",
        "longer than 10 years",
    ),
    BadConfig(
        "overflowing-seconds",
        config("daemon:\n  schedule:\n    every: 1e300\n"),
        "every:",
        "daemon.schedule.every",
        "timedelta",
    ),
    BadConfig(
        "cron-field-value",
        config(tenants=tenant(extra="    schedule: {cron: '0 25 * * *'}\n")),
        "schedule:",
        "tenants[0].schedule.cron",
        "(25)",
    ),
    BadConfig(
        "cron-never-fires",
        config("daemon:\n  schedule:\n    cron: '0 0 30 2 *'\n"),
        "cron:",
        "daemon.schedule.cron",
        "never fires",
    ),
    BadConfig(
        "negative-jitter",
        config("daemon:\n  schedule:\n    jitter: -5m\n"),
        "jitter:",
        "daemon.schedule.jitter",
        "negative",
    ),
    BadConfig(
        "negative-jitter-seconds",
        config("daemon:\n  schedule:\n    jitter: -300\n"),
        "jitter:",
        "daemon.schedule.jitter",
        "negative",
    ),
    BadConfig(
        "unknown-timezone",
        config("report:\n  timezone: Europe/Atlantis\n"),
        "timezone:",
        "report.timezone",
        "unknown time zone",
    ),
    BadConfig(
        "unknown-report-channel",
        config("report:\n  channels: [finance]\n"),
        "channels:",
        "report.channels[0]",
        "unknown channel 'finance'",
    ),
    BadConfig(
        "plain-http-site",
        config(tenants=tenant(site="http://cw.example.com")),
        "site:",
        "tenants[0].site",
        "plain http",
    ),
    BadConfig(
        "cluster-on-sqlite",
        config("daemon:\n  mode: cluster\n"),
        "mode:",
        "daemon.mode",
        "PostgreSQL",
    ),
    BadConfig(
        "unsupported-database",
        "database: mysql://cwdrift@db.example/cwdrift\ntenants:\n" + tenant(),
        "database:",
        "database",
        "not supported",
    ),
    BadConfig(
        "unset-variable",
        config(tenants=tenant(site="${CWDRIFT_TEST_NEVER_SET_SITE}")),
        "site:",
        "tenants[0].site",
        "CWDRIFT_TEST_NEVER_SET_SITE is not set",
    ),
    BadConfig(
        "duplicate-key",
        config("report:\n  timezone: UTC\n  timezone: Europe/London\n"),
        "Europe/London",
        "report.timezone",
        "duplicate key",
    ),
    BadConfig(
        "unknown-setting",
        config("report:\n  time_zone: UTC\n"),
        "time_zone:",
        "report.time_zone",
        "not a known setting",
    ),
    BadConfig("empty-tenant-list", config(tenants="  []\n"), "tenants:", "tenants", "no tenants"),
    BadConfig("empty-file", "", "", "tenants", "no tenants"),
]

# Several problems in one file: each is reported, on its own line.
MANY_PROBLEMS = config(
    "daemon:\n  schedule: {cron: '61 * * * *', jitter: -1m}\n"
    "report:\n  timezone: Nowhere/Land\n  channels: [ops]\n",
    tenants=tenant(site="http://cw.example.com", extra="    shedule: {every: 1h}\n")
    + tenant("acme"),
)
MANY_FIELDS = [
    "daemon.schedule.cron",
    "daemon.schedule.jitter",
    "report.timezone",
    "report.channels[0]",
    "tenants[0].site",
    "tenants[0].shedule",
    "tenants[1].id",
]
