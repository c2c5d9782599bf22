"""The config file: load, expand secrets, validate, and name the exact line of any mistake.

    database: sqlite:///cwdrift.db          # or postgresql+psycopg://user@host/db
    baseline: builtin                       # or a path to a baseline YAML
    tenants:
      - id: acme
        name: Acme MSP
        site: na.myconnectwise.net          # host (https implied) or URL
        company_id: acme
        public_key: ${ACME_PUBLIC_KEY}
        private_key_file: /run/secrets/acme  # or private_key: ${ACME_PRIVATE_KEY}
        client_id: ${CW_CLIENT_ID}
        integration_member: GozyntaAPI
        fix_public_key: ${ACME_FIX_PUBLIC_KEY}        # optional: a member that may write fixes
        fix_private_key_file: /run/secrets/acme-fix
        fix_modes: {transfer-expenses-as-bill-is-off: auto}   # report | approve | auto
        ticket_company: Acme                # the MSP's company for it (connectwise_ticket)
    notify: {slack: [...], email: [...], connectwise_ticket: [...], routes: [...]}

``${VAR}`` (or ``${VAR:-default}``) in any string expands from the environment; any key ``x_file``
reads the secret ``x`` from that file. Relative paths are relative to the config file. A literal
secret in the file is accepted with a warning, since config files end up in backups and repos.

Every problem of a file is reported at once, one line each (``file:line: field: problem (fix:
...)``), including what only ``run`` used to find: cron fields, time zones, report channels, plain
http sites, a database URL without its driver, cluster mode on SQLite.

Commands that only read the database load with ``connectwise=False``: a ``${VAR}`` or secret file
that only a ConnectWise read or an alert send uses may then be missing (a laptop without the keys
can still run ``report``); the problem is kept in ``LoadedConfig.deferred`` and raised, unchanged,
by :meth:`LoadedConfig.require_complete` if such a command ever reaches for ConnectWise.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from monitor.alerts.config import CompanyIdentifier, NotifyConfig
from monitor.alerts.model import TenantRef
from monitor.alerts.routing import match_routes
from monitor.configfile import Expander, invalid, relative_to, validation_problems
from monitor.connectwise.site import is_loopback, parse_site
from monitor.core.findings import Severity
from monitor.core.options import TenantOptions, Waiver
from monitor.core.remedy import FixMode
from monitor.crontab import check_cron
from monitor.durations import Duration
from monitor.errors import ConfigError, config_errors
from monitor.yamlfile import (
    LocatedYaml,
    PathKey,
    format_loc,
    parse_located,
    paused_gc,
    read_text,
)

if TYPE_CHECKING:  # the rule kinds load with a baseline, not with every config
    from monitor.core.baseline import Baseline

DEFAULT_CONFIG = Path("cwdrift.yaml")
CONFIG_ENV = "CWDRIFT_CONFIG"

# Keys holding secrets: a literal value gets a warning, and each accepts a ``<key>_file`` twin.
SECRET_KEYS = frozenset(
    {"private_key", "fix_private_key", "password", "bot_token", "webhook_url", "token"}
)

# What only a ConnectWise read uses, per tenant; with ``notify.slack``/``notify.email`` (only an
# alert send uses them) the values a database-only command may leave unresolved.
CONNECTWISE_FIELDS = frozenset(
    {
        "site",
        "company_id",
        "public_key",
        "private_key",
        "client_id",
        "integration_member",
        "fix_public_key",
        "fix_private_key",
    }
)
# Stand-ins that pass validation, for values left unresolved (reported, or deferred until
# require_complete); .invalid names never resolve (RFC 2606): a stray use reaches no server.
_STAND_INS = {
    "site": "unset.invalid",
    "webhook_url": "https://unset.invalid/",
    "base_url": "https://unset.invalid/",
    "host": "unset.invalid",
    "sender": "unset@unset.invalid",
    "recipients": "unset@unset.invalid",
    "port": "587",
}

MIN_WEB_TOKEN = 16  # characters; token_urlsafe(32) gives 43
_TENANT_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_LINE = re.compile(r":(\d+)(?=:|$)")
_DATABASE_BACKENDS = ("sqlite", "postgresql")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Strict):
    """When a tenant is checked: an interval (default hourly) or a cron expression, with jitter."""

    every: Duration | None = None
    cron: str | None = Field(default=None, description="5-field cron, e.g. '0 * * * *'")
    jitter: Duration = Field(
        default=timedelta(minutes=5),
        description="Random delay so tenants do not all hit the API at once.",
    )

    @field_validator("every")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(minutes=1):
            raise invalid(
                "must be at least 1 minute (ConnectWise rate guidance)", "use e.g. every: 1h"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _readable_cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_cron(value)
            except ValueError as exc:
                raise invalid(
                    str(exc),
                    "use 5 crontab fields: minute hour day month weekday, e.g. '0 * * * *'",
                ) from None
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Schedule:
        if self.every is not None and self.cron is not None:
            raise invalid("gives both 'every' and 'cron'", "keep one of them")
        return self

    @property
    def interval(self) -> timedelta:
        """The interval for interval schedules (hourly when neither is given)."""
        return self.every or timedelta(hours=1)


class TenantConfig(_Strict):
    """One ConnectWise Manage tenant to watch."""

    id: str = Field(pattern=_TENANT_ID, description="Stable id used in the database and commands.")
    name: str = Field(min_length=1)
    site: str = Field(min_length=1, description="Host (https implied) or URL of the Manage site.")
    company_id: str = Field(min_length=1)
    public_key: str = Field(min_length=1)
    private_key: SecretStr
    client_id: str = Field(min_length=1)
    integration_member: str = Field(
        min_length=1, description="Identifier of the API member the integration uses."
    )
    tags: tuple[str, ...] = ()
    schedule: Schedule | None = None
    options: TenantOptions = TenantOptions()
    waivers: tuple[Waiver, ...] = ()
    ticket_company: CompanyIdentifier | None = Field(
        default=None,
        description="The MSP's company identifier for this customer, for connectwise_ticket.",
    )
    # Write credentials for `cwdrift fix`: a separate API member whose role may Edit (README,
    # "Fixing drift"). Without them fixing stays a dry run.
    fix_public_key: str | None = Field(default=None, min_length=1)
    fix_private_key: SecretStr | None = None
    fix_modes: dict[str, FixMode] = Field(
        default_factory=dict,
        description="Rule id -> report | approve | auto: what the daemon does when it fails.",
    )

    @model_validator(mode="after")
    def _fix_keys_together(self) -> TenantConfig:
        if (self.fix_public_key is None) != (self.fix_private_key is None):
            missing = "fix_private_key" if self.fix_private_key is None else "fix_public_key"
            raise ValueError(f"fix_public_key and fix_private_key go together: add {missing}")
        return self

    @property
    def can_write(self) -> bool:
        """Whether write credentials for fixes are configured."""
        return self.fix_public_key is not None and self.fix_private_key is not None

    @field_validator("site")
    @classmethod
    def _https_site(cls, value: str) -> str:
        try:
            parse_site(value)
        except ConfigError as exc:
            raise invalid(exc.problem, exc.fix) from None
        return value

    def __repr__(self) -> str:  # the private key is a SecretStr already; keep repr short too
        return f"TenantConfig(id={self.id!r}, site={self.site!r})"


class ConnectWiseLimits(_Strict):
    """Politeness towards ConnectWise: shared by every tenant on the same host."""

    concurrency_per_host: int = Field(default=8, ge=1, le=64)
    requests_per_minute: int = Field(
        default=600,
        ge=1,
        le=60_000,
        description="Per host. ConnectWise's guidance: over 1,000/min is likely throttled (429); "
        "higher values are for on-premise servers and the simulator.",
    )
    timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Per try of a request, in total (connect, send, wait, read the whole body).",
    )
    max_attempts: int = Field(default=5, ge=1, le=10)
    max_response_mb: int = Field(
        default=20,
        ge=1,
        le=1024,
        description="The largest answer read, in MB (a list's pages together); a larger one is "
        "an error for that tenant, and the rest of it is never read. A check's largest real "
        "answer is about 100 KB.",
    )


class DaemonConfig(_Strict):
    schedule: Schedule = Schedule()
    tenants_in_flight: int = Field(default=16, ge=1, le=1000)
    dispatch_every: Duration = timedelta(seconds=30)
    health_host: str = "127.0.0.1"
    health_port: int | None = Field(default=None, ge=0, le=65535)
    # auto: cluster on PostgreSQL, single on SQLite (see monitor/daemon/mode.py for why).
    mode: Literal["auto", "single", "cluster"] = "auto"

    @field_validator("dispatch_every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise invalid("must be at least 1 second", "use e.g. dispatch_every: 30s")
        return value


class ReportConfig(_Strict):
    """The weekly compliance report: when and where it goes."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    channels: tuple[str, ...] = ()
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid(
                f"unknown time zone {value[:60]!r}",
                "use an IANA name such as UTC, Europe/London or America/New_York",
            ) from None
        return value


class RetentionConfig(_Strict):
    """Unchanged check rows older than this are pruned; changes and transitions are kept."""

    check_rows: Duration = timedelta(days=90)


class HealthConfig(_Strict):
    """When ``/readyz`` says a node is not watching (``/healthz`` needs no tuning)."""

    failing_intervals: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="/readyz fails when checks were attempted but none succeeded for this many "
        "check intervals (the longest tenant schedule, plus its jitter).",
    )


class MetricsConfig(_Strict):
    """What ``/metrics`` exports beyond the fleet-wide series."""

    per_tenant: bool = Field(
        default=False,
        description="Per-tenant gauges (last successful check, open findings by severity): one "
        "series per tenant, so opt-in; in cluster mode only the leader exports them.",
    )


class WebConfig(_Strict):
    """The web view (``cwdrift web``, and the pages a node serves on its health port).

    Safe by default: it listens on loopback; any other address needs ``token`` (given as a
    bearer header, or once in the login form) and TLS, either here (``certfile`` and ``keyfile``)
    or from a proxy in front (``behind_tls_proxy: true``). See :meth:`exposure_problem`.
    """

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)
    token: SecretStr | None = Field(
        default=None, description="The access token every page asks for (not /healthz, /metrics)."
    )
    base_url: str | None = Field(
        default=None,
        description="Where people reach the pages; alerts and reports link to them when set.",
    )
    certfile: str | None = None
    keyfile: str | None = None
    behind_tls_proxy: bool = False

    @field_validator("token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_WEB_TOKEN:
            raise invalid(
                f"must be at least {MIN_WEB_TOKEN} characters: a short token can be guessed",
                "generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _page_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and is_loopback(parts.hostname or "")
        if not (parts.scheme == "https" or loopback) or not parts.hostname:
            raise invalid(
                "must be an https:// URL (plain http only for a loopback host)",
                "use the address people open, e.g. https://cwdrift.example.com/",
            )
        if parts.query or parts.fragment:
            raise invalid("must not have a query or a fragment", "e.g. https://cwdrift.example/")
        return value.rstrip("/") + "/"

    @model_validator(mode="after")
    def _tls_pair(self) -> WebConfig:
        if (self.certfile is None) != (self.keyfile is None):
            raise invalid(
                "gives only one of certfile and keyfile", "give both (PEM files), or neither"
            )
        exposed = self.exposure_problem(self.host)
        if exposed is not None:
            raise invalid(*exposed)
        return self

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @staticmethod
    def loopback(host: str) -> bool:
        """localhost, 127.0.0.0/8 or ::1: addresses only this machine can reach."""
        return is_loopback(host)

    def exposure_problem(self, host: str) -> tuple[str, str] | None:
        """(problem, fix) when serving the pages on ``host`` would not be safe, else None:
        off loopback they need the token, and TLS here or from a proxy in front."""
        if is_loopback(host):
            return None
        if self.token is None:
            return (
                f"the pages would be open to the network on {host} without an access token",
                "set web.token (or web.token_file), or listen on 127.0.0.1",
            )
        if not self.tls and not self.behind_tls_proxy:
            return (
                f"the token would cross the network unencrypted on {host}",
                "set web.certfile and web.keyfile, or web.behind_tls_proxy: true when a "
                "proxy in front terminates TLS",
            )
        return None


class Config(_Strict):
    database: str = "sqlite:///cwdrift.db"
    baseline: str = "builtin"
    tenants: tuple[TenantConfig, ...] = ()
    notify: NotifyConfig = NotifyConfig()
    connectwise: ConnectWiseLimits = ConnectWiseLimits()
    daemon: DaemonConfig = DaemonConfig()
    report: ReportConfig = ReportConfig()
    retention: RetentionConfig = RetentionConfig()
    health: HealthConfig = HealthConfig()
    metrics: MetricsConfig = MetricsConfig()
    web: WebConfig = WebConfig()

    # Rules across sections (unique tenant ids, report.channels, daemon.mode) are checked by
    # load_config on the file's data, so they are reported with their lines beside the others.

    @field_validator("database")
    @classmethod
    def _usable_database(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise invalid(
                problem,
                "use sqlite:///path/to/cwdrift.db or postgresql+psycopg://user@host/dbname",
            )
        return value

    def tenant(self, tenant_id: str) -> TenantConfig:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        known = ", ".join(t.id for t in self.tenants) or "none"
        raise ConfigError(
            f"no tenant {tenant_id!r} in the config (known: {known})",
            fix="check the id, or add the tenant to the config file",
        )

    def schedule_for(self, tenant: TenantConfig) -> Schedule:
        return tenant.schedule or self.daemon.schedule


@dataclass
class LoadedConfig:
    """A validated config, where it came from, and warnings for the user (never secrets).

    ``deferred`` holds the problems of values a database-only load left unresolved (see the
    module docstring); it is empty for a full load.
    """

    config: Config
    path: Path
    warnings: list[str] = field(default_factory=list)
    deferred: tuple[ConfigError, ...] = ()
    # The file's text as loaded, so that a problem found later (a waiver naming no rule of the
    # baseline) still names its line. The index of every line is built again only then: for a
    # 10,000-tenant file it is ~15 MB a daemon would otherwise hold for nothing.
    source: str | None = field(default=None, repr=False)
    _located: LocatedYaml | None = field(default=None, init=False, repr=False, compare=False)

    def require_complete(self) -> None:
        """Raise the deferred problems: the caller is about to use ConnectWise or a channel."""
        if self.deferred:
            raise config_errors(self.deferred)

    def check_rules_exist(self, rule_ids: Collection[str]) -> None:
        """Every waiver must name a baseline rule: a typo would silently waive nothing."""
        problems = []
        for t_index, tenant in enumerate(self.config.tenants):
            for w_index, waiver in enumerate(tenant.waivers):
                if waiver.rule in rule_ids:
                    continue
                close = difflib.get_close_matches(waiver.rule, list(rule_ids), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.append(
                    ConfigError(
                        f"waiver for unknown rule {waiver.rule!r}",
                        location=self._where(("tenants", t_index, "waivers", w_index, "rule")),
                        fix=f"{hint}use the id of a rule in {self.baseline_name}",
                    )
                )
        if problems:
            raise config_errors(problems)

    def check_against(self, baseline: Baseline) -> None:
        """Waivers and fix modes name baseline rules, and each mode is one the rule allows."""
        self.check_rules_exist(baseline.ids)
        problems = []
        for t_index, tenant in enumerate(self.config.tenants):
            for rule_id, mode in tenant.fix_modes.items():
                loc = ("tenants", t_index, "fix_modes", rule_id)
                if rule_id not in baseline:
                    close = difflib.get_close_matches(rule_id, list(baseline.ids), n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    problems.append(
                        ConfigError(
                            f"fix mode for unknown rule {rule_id!r}",
                            location=self._where(loc),
                            fix=f"{hint}use the id of a rule in {self.baseline_name}",
                        )
                    )
                    continue
                refusal = baseline.rule(rule_id).mode_refusal(mode)
                if refusal is not None:
                    problems.append(
                        ConfigError(refusal, location=self._where(loc), fix="change the mode")
                    )
        if problems:
            raise config_errors(problems)

    @property
    def baseline_path(self) -> Path | None:
        """None for the bundled baseline."""
        value = self.config.baseline
        if value in ("", "builtin"):
            return None
        return relative_to(self.path, value)

    @property
    def baseline_name(self) -> str:
        """The baseline file as a user finds it (the bundled one is config/baseline.yaml)."""
        path = self.baseline_path
        return str(path) if path is not None else "the bundled baseline (config/baseline.yaml)"

    def _where(self, loc: PathKey) -> str:
        if self._located is None and self.source is not None:
            self._located = parse_located(self.source, self.path)  # parsed before: cannot fail
        if self._located is not None:
            return self._located.where(loc)
        return f"{self.path}: {format_loc(loc)}"


def config_path(explicit: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """--config, else $CWDRIFT_CONFIG, else ./cwdrift.yaml."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return DEFAULT_CONFIG


def load_config(
    path: Path,
    env: Mapping[str, str] | None = None,
    *,
    connectwise: bool = True,
    require_tenants: bool = False,
) -> LoadedConfig:
    """Load and validate ``path``; every problem is reported in one ConfigError (one per line).

    ``connectwise=False`` defers the values only ConnectWise reads and alert sends use (see the
    module docstring). ``require_tenants``: a config without tenants is an error (nothing to
    monitor) for the commands that monitor; the database-only ones do not need any.
    """
    # The collector paused here too: expanding and validating builds as much again, all kept.
    with paused_gc():
        return _load_config(path, env, connectwise=connectwise, require_tenants=require_tenants)


def _load_config(
    path: Path, env: Mapping[str, str] | None, *, connectwise: bool, require_tenants: bool
) -> LoadedConfig:
    env = os.environ if env is None else env
    source = read_text(path)
    located = parse_located(source, path)
    if located.data is None:
        located.data = {}
    if not isinstance(located.data, dict):
        raise ConfigError(
            "the config must be a mapping (database, baseline, tenants, notify)",
            location=f"{path}:1",
            fix="see config/example.yaml",
        )
    expander = Expander(
        located,
        env,
        secret_keys=SECRET_KEYS,
        stand_in=_stand_in,
        defer=None if connectwise else _deferrable,
    )
    data = expander.expand(located.data)
    data["database"] = _database_url(path, data.get("database", Config().database))
    problems = expander.problems
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(
            exc, located, model=Config, secret_keys=SECRET_KEYS, skip=expander.failed
        )
    problems += _cross_problems(data, located)
    if config is not None:
        problems += _ticket_company_problems(config, located)
    if require_tenants and not data.get("tenants"):
        problems.append(_no_tenants(located))
    if problems or config is None:
        raise config_errors(sorted(problems, key=_line))
    return LoadedConfig(
        config=config,
        path=path,
        warnings=[*expander.warnings, *_automatic_without_keys(config, located)],
        deferred=tuple(expander.deferred),
        source=source,
    )


def _automatic_without_keys(config: Config, located: LocatedYaml) -> list[str]:
    """A rule in auto mode without write keys cannot be fixed: say so once, at load."""
    found = []
    for index, tenant in enumerate(config.tenants):
        automatic = sorted(rule for rule, mode in tenant.fix_modes.items() if mode is FixMode.AUTO)
        if automatic and not tenant.can_write:
            found.append(
                f"{located.where(('tenants', index, 'fix_modes'))}: {', '.join(automatic)} "
                "in auto mode, but the tenant has no fix_public_key/fix_private_key: those fixes "
                "are only planned (cwdrift fix --pending)"
            )
    return found


def _deferrable(loc: PathKey) -> bool:
    """Whether only a ConnectWise read or an alert send uses the value at ``loc``."""
    if len(loc) >= 3 and loc[0] == "tenants" and isinstance(loc[1], int):
        return str(loc[2]).removesuffix("_file") in CONNECTWISE_FIELDS
    if len(loc) >= 4 and loc[0] == "notify" and loc[1] in ("slack", "email", "connectwise_ticket"):
        return isinstance(loc[2], int) and loc[3] != "name"  # names key the channel's history
    return False


def _stand_in(loc: PathKey) -> str:
    """A valid value for the setting at ``loc``, put where its value could not be resolved."""
    names = [part for part in loc if isinstance(part, str)]
    return _STAND_INS.get(names[-1].removesuffix("_file"), "unset") if names else "unset"


def _database_url(config_file: Path, url: Any) -> Any:
    """A relative SQLite path is relative to the config file, like every other path in it."""
    prefix = "sqlite:///"
    if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            return prefix + str((config_file.parent / rest).resolve())
    return url


def database_url_problem(url: str) -> str:
    """What stops ``url`` from opening (not a URL, another database, a missing driver), or ''.

    The text of the URL is never echoed: it may hold a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "is not a database URL"
    backend = parsed.get_backend_name()
    if backend not in _DATABASE_BACKENDS:
        return f"{backend!r} is not supported; cwdrift stores its history in SQLite or PostgreSQL"
    try:
        parsed.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError):
        return f"the database driver {parsed.drivername!r} is not installed"
    return ""


def _cross_problems(data: Mapping[str, Any], located: LocatedYaml) -> list[ConfigError]:
    """Rules that span sections, checked on the data so they are located and always reported."""
    problems: list[ConfigError] = []
    first_line: dict[str, int | None] = {}
    for index, tenant in enumerate(_items(data, "tenants")):
        tenant_id = tenant.get("id") if isinstance(tenant, dict) else None
        if not isinstance(tenant_id, str):
            continue
        if tenant_id in first_line:
            problems.append(
                ConfigError(
                    f"tenant id {tenant_id!r} is used twice (also at line {first_line[tenant_id]})",
                    location=located.where(("tenants", index, "id")),
                    fix="give each tenant its own id",
                )
            )
        else:
            first_line[tenant_id] = located.line_of(("tenants", index, "id"))

    notify = _section(data, "notify")
    names = [
        channel["name"]
        for kind in ("slack", "email")
        for channel in _items(notify, kind)
        if isinstance(channel, dict) and isinstance(channel.get("name"), str)
    ]
    tickets = {
        channel.get("name")
        for channel in _items(notify, "connectwise_ticket")
        if isinstance(channel, dict)
    }
    for index, name in enumerate(_items(_section(data, "report"), "channels")):
        if isinstance(name, str) and name not in names:
            what = "is a ticket channel, not one a report goes to" if name in tickets else ""
            problems.append(
                ConfigError(
                    f"channel {name!r} {what}" if what else f"unknown channel {name!r}",
                    location=located.where(("report", "channels", index)),
                    fix="name a channel defined under notify.slack or notify.email"
                    + (f" ({', '.join(names)})" if names else " (none is defined)"),
                )
            )

    database = data.get("database")
    if _section(data, "daemon").get("mode") == "cluster" and isinstance(database, str):
        try:
            backend = make_url(database).get_backend_name()
        except ArgumentError:
            backend = None  # reported by the database field itself
        if backend == "sqlite":
            problems.append(
                ConfigError(
                    "is 'cluster', which needs a PostgreSQL database",
                    location=located.where(("daemon", "mode")),
                    fix="use daemon.mode: single (or auto) on SQLite, or move the history to "
                    "PostgreSQL with `cwdrift db migrate-to postgresql+psycopg://...`",
                )
            )
    return problems


def _ticket_company_problems(config: Config, located: LocatedYaml) -> list[ConfigError]:
    """Every tenant a ticket channel can hear of has a company to file under, named explicitly:
    one customer's drift must never land on another customer's ticket."""
    problems = []
    for index, tenant in enumerate(config.tenants):
        if tenant.ticket_company is not None:
            continue
        ref = TenantRef(id=tenant.id, name=tenant.name, tags=tenant.tags)
        for c_index, channel in enumerate(config.notify.connectwise_ticket):
            if channel.company is not None or channel.name not in routed_channels(
                ref, channel.min_severity, config
            ):
                continue
            problems.append(
                ConfigError(
                    f"tenant {tenant.id!r} is routed to ticket channel {channel.name!r}, but has "
                    "no ticket_company and the channel has no catch-all company",
                    location=located.where(("tenants", index)),
                    fix=(
                        f"set tenants[{index}].ticket_company to the MSP's company identifier "
                        f"for {tenant.name}, or notify.connectwise_ticket[{c_index}].company"
                    ),
                )
            )
    return problems


def routed_channels(tenant: TenantRef, min_severity: Severity, config: Config) -> set[str]:
    """The channels the routes can send ``tenant``'s alerts of ``min_severity`` or above to."""
    found: set[str] = set()
    for severity in Severity:
        if severity.at_least(min_severity):
            found.update(
                match_routes(tenant, severity, config.notify.routes, config.notify.channel_names)
            )
    return found


def _line(error: ConfigError) -> int:
    """The line an error names (``file:12: ...``), for reporting a file's problems in order."""
    found = _LINE.search(error.location)
    return int(found.group(1)) if found else 0


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _items(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _no_tenants(located: LocatedYaml) -> ConfigError:
    empty_file = not located.lines
    return ConfigError(
        "the file is empty: no tenants to monitor" if empty_file else "no tenants to monitor",
        location=f"{located.path}:1: tenants" if empty_file else located.where(("tenants",)),
        fix="add a tenant under 'tenants:' (see config/example.yaml)",
    )
