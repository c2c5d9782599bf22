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
    notify: {slack: [...], email: [...], routes: [...]}

``${VAR}`` (or ``${VAR:-default}``) in any string expands from the environment; any key ``x_file``
reads the secret ``x`` from that file. Relative paths are relative to the config file. A literal
secret in the file is accepted with a warning, since config files end up in backups and repos.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from monitor.alerts.config import NotifyConfig
from monitor.core.baseline import Baseline
from monitor.core.options import TenantOptions, Waiver
from monitor.core.remedy import FixMode
from monitor.durations import Duration
from monitor.errors import ConfigError
from monitor.yamlfile import LocatedYaml, PathKey, format_loc, load_located

DEFAULT_CONFIG = Path("cwdrift.yaml")
CONFIG_ENV = "CWDRIFT_CONFIG"

# Keys holding secrets: a literal value gets a warning, and each accepts a ``<key>_file`` twin.
SECRET_KEYS = frozenset({"private_key", "fix_private_key", "password", "bot_token", "webhook_url"})

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TENANT_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


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

    @model_validator(mode="after")
    def _one_trigger(self) -> Schedule:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        if self.every is not None and self.every < timedelta(minutes=1):
            raise ValueError("'every' must be at least 1 minute (ConnectWise rate guidance)")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError("'cron' needs 5 fields: minute hour day month weekday")
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
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=10)


class DaemonConfig(_Strict):
    schedule: Schedule = Schedule()
    tenants_in_flight: int = Field(default=16, ge=1, le=1000)
    dispatch_every: Duration = timedelta(seconds=30)
    health_host: str = "127.0.0.1"
    health_port: int | None = Field(default=None, ge=0, le=65535)
    # auto: cluster on PostgreSQL, single on SQLite (see monitor/daemon/mode.py for why).
    mode: Literal["auto", "single", "cluster"] = "auto"


class ReportConfig(_Strict):
    """The weekly compliance report: when and where it goes."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    channels: tuple[str, ...] = ()
    enabled: bool = True


class RetentionConfig(_Strict):
    """Unchanged check rows older than this are pruned; changes and transitions are kept."""

    check_rows: Duration = timedelta(days=90)


class Config(_Strict):
    database: str = "sqlite:///cwdrift.db"
    baseline: str = "builtin"
    tenants: tuple[TenantConfig, ...] = ()
    notify: NotifyConfig = NotifyConfig()
    connectwise: ConnectWiseLimits = ConnectWiseLimits()
    daemon: DaemonConfig = DaemonConfig()
    report: ReportConfig = ReportConfig()
    retention: RetentionConfig = RetentionConfig()

    @model_validator(mode="after")
    def _unique_tenants(self) -> Config:
        seen: set[str] = set()
        for tenant in self.tenants:
            if tenant.id in seen:
                raise ValueError(f"tenant id {tenant.id!r} appears twice")
            seen.add(tenant.id)
        return self

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
    """A validated config, where it came from, and warnings for the user (never secrets)."""

    config: Config
    path: Path
    warnings: list[str] = field(default_factory=list)

    def check_rules_exist(self, rule_ids: Collection[str]) -> None:
        """Every waiver must name a baseline rule: a typo would silently waive nothing."""
        for t_index, tenant in enumerate(self.config.tenants):
            for w_index, waiver in enumerate(tenant.waivers):
                if waiver.rule not in rule_ids:
                    raise ConfigError(
                        f"waiver for unknown rule {waiver.rule!r}",
                        location=f"{self.path}: tenants[{t_index}].waivers[{w_index}].rule",
                        fix="use a rule id from the baseline (cwdrift baseline validate lists them"
                        " in config/baseline.yaml)",
                    )

    def check_against(self, baseline: Baseline) -> None:
        """Waivers and fix modes name baseline rules, and each mode is one the rule allows."""
        self.check_rules_exist(baseline.ids)
        for t_index, tenant in enumerate(self.config.tenants):
            for rule_id, mode in tenant.fix_modes.items():
                location = f"{self.path}: tenants[{t_index}].fix_modes.{rule_id}"
                if rule_id not in baseline:
                    raise ConfigError(
                        f"fix mode for unknown rule {rule_id!r}",
                        location=location,
                        fix="use a rule id from the baseline (config/baseline.yaml)",
                    )
                refusal = baseline.rule(rule_id).mode_refusal(mode)
                if refusal is not None:
                    raise ConfigError(refusal, location=location, fix="change the mode")

    @property
    def baseline_path(self) -> Path | None:
        """None for the bundled baseline."""
        value = self.config.baseline
        if value in ("", "builtin"):
            return None
        return _relative_to(self.path, value)


def config_path(explicit: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """--config, else $CWDRIFT_CONFIG, else ./cwdrift.yaml."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return DEFAULT_CONFIG


def load_config(path: Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load and validate ``path``; errors are ConfigError naming ``file:line: field`` and a fix."""
    env = os.environ if env is None else env
    located = load_located(path)
    if located.data is None:
        located.data = {}
    if not isinstance(located.data, dict):
        raise ConfigError(
            "the config must be a mapping (database, baseline, tenants, notify)",
            location=str(path),
            fix="see config/example.yaml",
        )
    warnings: list[str] = []
    data = _expand(located.data, (), located, env, warnings)
    data["database"] = _database_url(path, data.get("database", Config().database))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, located) from None
    warnings += _automatic_without_keys(config, located)
    return LoadedConfig(config=config, path=path, warnings=warnings)


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


def _expand(
    value: Any, loc: PathKey, located: LocatedYaml, env: Mapping[str, str], warnings: list[str]
) -> Any:
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if key.endswith("_file") and key[: -len("_file")] in SECRET_KEYS:
                secret_key = key[: -len("_file")]
                if secret_key in value:
                    raise ConfigError(
                        f"both {secret_key!r} and {key!r} are set",
                        location=located.where((*loc, key)),
                        fix=f"keep only one of {secret_key} and {key}",
                    )
                file_value = _expand(item, (*loc, key), located, env, warnings)
                result[secret_key] = _read_secret_file(located, (*loc, key), str(file_value))
                continue
            expanded = _expand(item, (*loc, key), located, env, warnings)
            if key in SECRET_KEYS and isinstance(item, str) and item and not _VAR.search(item):
                warnings.append(
                    f"{located.where((*loc, key))}: literal secret in the config file; "
                    f"use ${{VAR}} or {key}_file instead"
                )
            result[key] = expanded
        return result
    if isinstance(value, list):
        return [_expand(item, (*loc, i), located, env, warnings) for i, item in enumerate(value)]
    if isinstance(value, str):
        return _substitute(value, loc, located, env)
    return value


def _substitute(text: str, loc: PathKey, located: LocatedYaml, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set",
            location=located.where(loc),
            fix=f"export {name}=..., or use ${{{name}:-default}}",
        )

    return _VAR.sub(replace, text)


def _read_secret_file(located: LocatedYaml, loc: PathKey, value: str) -> str:
    secret_path = _relative_to(located.path, value)
    try:
        return secret_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file {secret_path}: {exc.strerror}",
            location=located.where(loc),
            fix="check the path and that cwdrift may read it",
        ) from None


def _relative_to(config_file: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else config_file.parent / candidate


def _database_url(config_file: Path, url: Any) -> Any:
    """A relative SQLite path is relative to the config file, like every other path in it."""
    prefix = "sqlite:///"
    if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            return prefix + str((config_file.parent / rest).resolve())
    return url


def _config_error(exc: ValidationError, located: LocatedYaml) -> ConfigError:
    """The first validation error, located; the rest summarized (inputs never echoed)."""
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    loc = tuple(part for part in first["loc"] if isinstance(part, str | int))
    message = first["msg"]
    if len(errors) > 1:
        others = "; ".join(
            f"{format_loc([p for p in e['loc'] if isinstance(p, str | int)])}: {e['msg']}"
            for e in errors[1:4]
        )
        message += f" (also: {others}{' ...' if len(errors) > 4 else ''})"
    return ConfigError(
        message,
        location=located.where(loc),
        fix=_fix_for(first["type"], loc),
    )


def _fix_for(error_type: str, loc: PathKey) -> str:
    names = [part for part in loc if isinstance(part, str)]
    field_name = names[-1] if names else "the file"
    if error_type == "extra_forbidden":
        return f"remove or rename {field_name!r}: it is not a known setting (typo?)"
    if error_type == "missing":
        return f"add {field_name!r}"
    return f"correct {field_name!r} (see config/example.yaml)"
