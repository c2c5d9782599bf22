"""The ``notify:`` section of the config file, as validated data (Alertmanager-shaped).

    notify:
      slack:
        - name: ops
          webhook_url: ${SLACK_WEBHOOK}          # or bot_token + channel
      email:
        - name: finance
          host: smtp.example.com
          port: 587
          starttls: true
          username: cwdrift
          password: ${SMTP_PASSWORD}
          sender: cwdrift@example.com
          recipients: [finance@example.com]
      connectwise_ticket:                      # a service ticket per tenant incident
        - name: psa
          site: na.myconnectwise.net           # the MSP's own ConnectWise
          company_id: northwind
          public_key: ${CW_TICKETS_PUBLIC}
          private_key: ${CW_TICKETS_PRIVATE}
          client_id: ${CW_CLIENT_ID}
          board: Alerts
          company: NorthwindIT                 # catch-all; or each tenant's ticket_company
      routes:                                  # first match wins unless continue: true
        - channels: [ops]
          min_severity: critical
          continue: true
        - channels: [finance]
          tags: [accounting]
      reminder: 24h                            # null turns reminders off
      failure_threshold: 3
      silences:
        - {tenant: acme, rule: null, reason: migration, author: ana, expires: 2026-12-01T00:00:00Z}

Default route: a notification group that matches no route goes to *every* channel, so nothing is
dropped silently by a gap in the routes. To keep low-severity groups off a channel, end the
routes with a catch-all route (no tenants, no tags) naming the channels that should get the rest.

The config loader expands ``${VAR}`` and ``*_file`` secrets before these models see the data.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.clock import ensure_utc
from monitor.configfile import invalid
from monitor.connectwise.site import parse_site
from monitor.core.findings import Severity
from monitor.durations import Duration
from monitor.errors import ConfigError

ChannelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(field: str, url: str) -> str:
    """https everywhere; plain http only on loopback (tests and local relays).

    The URL may carry a secret (a webhook URL *is* one), so errors name the field, never the URL.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    raise ValueError(
        f"{field} must be an https:// URL (plain http is accepted only for loopback hosts)"
    )


def sends_password_in_clear(host: str, *, tls: bool, password: object) -> bool:
    """SMTP AUTH without TLS to a host off this machine: the password would cross the network
    readable by anyone on the path, so it is refused, as plain ``http://`` is for ConnectWise."""
    return password is not None and not tls and not is_loopback_host(host)


class _Strict(BaseModel):
    # hide_input_in_errors: a rejected channel's input holds webhook URLs, tokens and passwords.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class SlackChannel(_Strict):
    """A Slack destination: an incoming webhook, or a bot token plus a channel."""

    name: ChannelName
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = Field(default=None, description="Channel id or #name for bot tokens.")
    base_url: str | None = Field(
        default=None, description="Slack Web API base URL (default https://slack.com/api/)."
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_https(cls, value: str | None) -> str | None:
        return None if value is None else check_url("base_url", value)

    @model_validator(mode="after")
    def _one_transport(self) -> SlackChannel:
        has_webhook = self.webhook_url is not None
        has_bot = self.bot_token is not None or self.channel is not None
        if has_webhook == has_bot:
            raise ValueError(
                f"slack channel {self.name!r}: give exactly one of webhook_url, "
                "or bot_token together with channel"
            )
        if has_bot and (self.bot_token is None or not self.channel):
            raise ValueError(f"slack channel {self.name!r}: bot_token needs channel, and back")
        if self.webhook_url is not None:
            check_url("webhook_url", self.webhook_url.get_secret_value())
        return self


class EmailChannel(_Strict):
    """An SMTP destination. ``ssl`` is implicit TLS (port 465); ``starttls`` upgrades (587)."""

    name: ChannelName
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3, pattern=r"@")
    recipients: list[str] = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("password")
    @classmethod
    def _password_needs_tls(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # A field validator (not the model's) so the error's location is this channel's
        # password line; host, starttls and ssl are declared, hence validated, before it.
        if not {"host", "starttls", "ssl"} <= info.data.keys():
            return value  # one of them is invalid and reported on its own
        host = str(info.data["host"])
        tls = bool(info.data["starttls"] or info.data["ssl"])
        if sends_password_in_clear(host, tls=tls, password=value):
            name = info.data.get("name", "?")
            raise ValueError(
                f"email channel {name!r}: the password would go to {host} without TLS; set "
                "starttls: true (port 587) or ssl: true (port 465); SMTP AUTH without TLS is "
                "accepted only for loopback hosts"
            )
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if "@" not in r]
        if bad:
            raise ValueError(f"not email addresses: {bad}")
        return value

    @model_validator(mode="after")
    def _tls_and_auth(self) -> EmailChannel:
        if self.ssl and self.starttls:
            raise ValueError(
                f"email channel {self.name!r}: ssl (implicit TLS) and starttls exclude each "
                "other; use ssl for port 465, starttls for 587"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError(f"email channel {self.name!r}: username and password go together")
        return self


def _searchable(value: str) -> str:
    """A name ConnectWise is searched for exactly (``conditions``) or matched on: a quote, a
    backslash or ``*`` would change the query, and nothing unprintable belongs in one."""
    if not value.isprintable() or set(value) & set('"\\*'):
        raise ValueError(
            "must not contain a double quote, a backslash, '*' or control characters "
            "(ConnectWise is searched for this name exactly)"
        )
    return value


SearchableName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_searchable)]
# A company identifier: at most 25 characters in ConnectWise (Company.identifier).
CompanyIdentifier = Annotated[str, Field(min_length=1, max_length=25), AfterValidator(_searchable)]


class TicketStatuses(_Strict):
    """Status names on the ticket board; by default the board's own choice (resolved at send)."""

    new: SearchableName | None = Field(
        default=None, description="Opened and reopened tickets; default: the board's default."
    )
    closed: SearchableName | None = Field(
        default=None, description="Resolved tickets; default: the first active closed status."
    )


class TicketChannel(_Strict):
    """A service ticket per tenant incident, in the MSP's own ConnectWise (see alerts/tickets.py).

    The keys are those of an API member of the MSP's ConnectWise (which may or may not be a
    watched tenant); the company a ticket is filed under is each tenant's ``ticket_company``,
    else ``company`` here, and never guessed.
    """

    name: ChannelName
    site: str = Field(min_length=1, description="Host (https implied) or URL of the MSP's Manage.")
    company_id: str = Field(min_length=1)
    public_key: str = Field(min_length=1)
    private_key: SecretStr
    client_id: str = Field(min_length=1)
    board: SearchableName = Field(description="Name of the board the tickets go on.")
    statuses: TicketStatuses = TicketStatuses()
    ticket_type: SearchableName | None = Field(default=None, description="A type of the board.")
    priority_by_severity: dict[Severity, SearchableName] = Field(
        default_factory=dict, description="Priority name per severity; others: the default."
    )
    company: CompanyIdentifier | None = Field(
        default=None, description="Catch-all company identifier for tenants without one."
    )
    min_severity: Severity = Field(
        default=Severity.HIGH, description="Findings below this never become tickets."
    )
    process_notifications: bool = Field(
        default=False, description="Let ConnectWise e-mail contacts about tickets and notes."
    )
    reopen_within: Duration = Field(
        default=timedelta(days=7),
        description="A regression this soon after closing reopens the ticket; later, a new one.",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds per ConnectWise request.")

    def __repr__(self) -> str:  # short, and never near the private key
        return f"TicketChannel(name={self.name!r}, site={self.site!r})"

    @field_validator("site")
    @classmethod
    def _https_site(cls, value: str) -> str:
        try:
            parse_site(value)  # https, or plain http on loopback only, as for tenants
        except ConfigError as exc:
            raise invalid(exc.problem, exc.fix) from None
        return value

    @field_validator("private_key")
    @classmethod
    def _key_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("private_key is empty (check the ${VAR} or the *_file it comes from)")
        return value

    @field_validator("reopen_within")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("reopen_within must be 0 (never reopen) or more")
        return value


class Route(_Strict):
    """Which channels hear about which tenants. Empty ``tenants``/``tags`` match any tenant."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True
    )

    channels: list[ChannelName] = Field(min_length=1)
    tenants: list[str] = Field(default_factory=list, description="Tenant ids; empty = any.")
    tags: list[str] = Field(default_factory=list, description="Any of these tags; empty = any.")
    min_severity: Severity = Severity.LOW
    continue_: bool = Field(
        default=False,
        alias="continue",
        description="Keep matching later routes after this one matched.",
    )


class Silence(_Strict):
    """Mute notifications for a tenant and/or a rule until ``expires``; alert state still moves."""

    tenant: str | None = None
    rule: str | None = None
    reason: str = Field(min_length=1)
    author: str = Field(min_length=1)
    expires: datetime

    @field_validator("expires")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return ensure_utc(value)

    @model_validator(mode="after")
    def _targets_something(self) -> Silence:
        if self.tenant is None and self.rule is None:
            raise ValueError(
                "a silence needs a tenant, a rule, or both (muting all is not allowed)"
            )
        return self


class NotifyConfig(_Strict):
    slack: list[SlackChannel] = Field(default_factory=list)
    email: list[EmailChannel] = Field(default_factory=list)
    connectwise_ticket: list[TicketChannel] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    reminder: Duration | None = Field(
        default=timedelta(hours=24),
        description="Repeat a still-failing alert this often; null turns reminders off.",
    )
    failure_threshold: int = Field(
        default=3, ge=1, description="Consecutive failed collections before 'cannot verify'."
    )
    silences: list[Silence] = Field(default_factory=list)

    @field_validator("reminder")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("reminder must be positive, or null to turn reminders off")
        return value

    @model_validator(mode="after")
    def _names_resolve(self) -> NotifyConfig:
        names = self.channel_names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                "channel names must be unique across slack, email and connectwise_ticket: "
                f"{duplicates}"
            )
        for index, route in enumerate(self.routes):
            unknown = [c for c in route.channels if c not in names]
            if unknown:
                raise ValueError(
                    f"routes[{index}] names unknown channels {unknown}; defined: {sorted(names)}"
                )
        return self

    @property
    def channel_names(self) -> list[str]:
        return (
            [c.name for c in self.slack]
            + [c.name for c in self.email]
            + [c.name for c in self.connectwise_ticket]
        )

    @property
    def ticket_channels(self) -> dict[str, TicketChannel]:
        return {c.name: c for c in self.connectwise_ticket}
