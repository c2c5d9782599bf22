"""Where a tenant's ConnectWise API lives: site parsing, the codebase lookup answer, the base URL.

Pure functions; the client does the one request (``GET {site}/login/companyinfo/{company}``).
Rules from the Developer Guide (../shared/connectwise-api.md §1.1):

* the API URL is ``https://{host}/{codebase}apis/3.0``, ``Codebase`` ending in ``/``;
* on-premise servers answer ``Codebase = "v4_6_release/"``; anything else is cloud, and cloud API
  calls must go to the ``api-`` host (``na.myconnectwise.net`` -> ``api-na.myconnectwise.net``),
  otherwise ConnectWise answers "SSL is required.".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ConfigError, MalformedResponse

ON_PREMISE_CODEBASE = "v4_6_release/"
_CODEBASE = re.compile(r"^[A-Za-z0-9_.\-]+/$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+$|^\[[0-9A-Fa-f:.]+\]$")


@dataclass(frozen=True, slots=True)
class Site:
    """A tenant's ConnectWise server as configured: scheme, host and optional port."""

    scheme: str
    host: str
    port: int | None = None

    @property
    def netloc(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"


@dataclass(frozen=True, slots=True)
class CompanyInfo:
    """The useful part of ``/login/companyinfo/{company}`` (PascalCase keys in the wire format)."""

    codebase: str
    is_cloud: bool


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts allowed plain http (tests, the simulator)."""
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_site(site: str, *, tenant: str = "") -> Site:
    """Parse the configured ``site``: a host name (https implied) or an http(s) URL with no path.

    Plain http is refused unless the host is loopback, because the request carries the API keys.
    """
    where = f"tenant {tenant!r}: site" if tenant else "site"
    text = site.strip()
    if not text:
        raise ConfigError(
            "the ConnectWise site is empty",
            location=where,
            fix="set it to the host you log in to, e.g. na.myconnectwise.net",
        )
    parts = urlsplit(text if "://" in text else f"https://{text}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"unsupported scheme {scheme!r} in site {text!r}",
            location=where,
            fix="use a host name such as na.myconnectwise.net or an https:// URL",
        )
    try:
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:  # e.g. a non-numeric port
        raise ConfigError(
            f"site {text!r} is not a valid host or URL ({exc})",
            location=where,
            fix="use a host name such as na.myconnectwise.net",
        ) from None
    if ":" in host:
        host = f"[{host}]"
    if not host or not _HOST.match(host):
        raise ConfigError(
            f"site {text!r} has no valid host name",
            location=where,
            fix="use a host name such as na.myconnectwise.net",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"site {text!r} must be just the server, without a path, query or credentials",
            location=where,
            fix=f"use {scheme}://{host} (cwdrift finds the API path itself)",
        )
    if scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"site {text!r} uses plain http, which would send the API keys unencrypted",
            location=where,
            fix=f"use https://{host}",
        )
    return Site(scheme=scheme, host=host, port=port)


def parse_company_info(payload: Any, *, endpoint: str) -> CompanyInfo:
    """Validate the companyinfo answer: ``Codebase`` like ``v2025_1/``, ``IsCloud`` "True"."""
    if not isinstance(payload, dict):
        raise MalformedResponse(
            f"expected a JSON object from {endpoint}, got {type(payload).__name__}",
            endpoint=endpoint,
            fix="check that the site is the ConnectWise server you log in to",
        )
    codebase = payload.get("Codebase")
    if not isinstance(codebase, str) or not codebase.strip():
        raise MalformedResponse(
            f"{endpoint} has no Codebase, so the API path is unknown",
            endpoint=endpoint,
            fix="check the site and the company id",
        )
    codebase = codebase.strip()
    if not codebase.endswith("/"):
        codebase += "/"
    if not _CODEBASE.match(codebase):
        raise MalformedResponse(
            f"{endpoint} returned an unexpected Codebase {codebase[:40]!r}",
            endpoint=endpoint,
            fix="check that the site is the ConnectWise server you log in to",
        )
    raw_cloud = payload.get("IsCloud")
    if isinstance(raw_cloud, bool):
        is_cloud = raw_cloud
    elif isinstance(raw_cloud, str) and raw_cloud.strip().lower() in ("true", "false"):
        is_cloud = raw_cloud.strip().lower() == "true"
    else:
        # Older servers may omit it; the codebase rule below still decides the host.
        is_cloud = False
    return CompanyInfo(codebase=codebase, is_cloud=is_cloud)


def api_host(host: str, info: CompanyInfo) -> str:
    """The host API calls go to: cloud needs the ``api-`` prefix (never on IPs or loopback)."""
    cloud = info.is_cloud or info.codebase != ON_PREMISE_CODEBASE
    if not cloud or host.startswith("api-") or _is_ip(host) or is_loopback(host):
        return host
    return f"api-{host}"


def base_url(site: Site, info: CompanyInfo) -> str:
    """``{scheme}://{api host}/{codebase}apis/3.0`` (no trailing slash)."""
    host = api_host(site.host, info)
    netloc = host if site.port is None else f"{host}:{site.port}"
    return f"{site.scheme}://{netloc}/{info.codebase}apis/3.0"
