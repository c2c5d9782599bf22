"""The one HTTP seam to ConnectWise Manage: auth, codebase lookup, paging, retries, typed errors.

Nothing else in cwdrift talks HTTP to ConnectWise. Facts behind each special case are in
../shared/connectwise-api.md (sections in brackets below):

* auth is ``Basic base64("{company}+{public}:{private}")`` plus a ``clientId`` header [§1.2];
* the API base comes from ``GET {site}/login/companyinfo/{company}`` [§1.1] (see ``site.py``);
* lists page with an RFC 8288 ``Link`` header, ``pageSize`` at most 1,000 [§4] (see ``links.py``);
* retry 5xx, timeouts and connection errors with backoff and full jitter, honour ``Retry-After``
  on 429, never retry 400/401/403/404 [§5, §6];
* the codebase answer may come from a :class:`CompanyInfoCache`; a 404 on a cached base URL looks
  the codebase up again once (a tenant upgraded since) before it is reported.

HTTP goes through an ``httpx.AsyncClient``: the process-wide one from ``SharedHttp.client()``
(httpx over pooled aiohttp connections shared by every tenant on a host, see ``transport.py``),
any client a caller passes (tests use ``httpx.MockTransport``), or a private one per client.
Whatever the client, requests are built here, so its cookies, default headers and auth never
join them, and redirects are never followed.

Every failure becomes a :mod:`monitor.errors` type naming the endpoint (the API path, never a
full URL) and the fix. The private key is kept as a ``SecretStr`` and scrubbed from anything that
could be echoed back (error bodies, response snippets); headers are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode, urljoin, urlsplit

import httpx
import orjson
from pydantic import SecretStr

from monitor.connectwise.limits import HostLimiter, HostLimits, default_host_limits
from monitor.connectwise.links import link_for
from monitor.connectwise.session import CompanyInfoCache
from monitor.connectwise.site import CompanyInfo, Site, base_url, parse_company_info, parse_site
from monitor.connectwise.transport import open_client
from monitor.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ConnectWiseError,
    IncompleteRead,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)

log = logging.getLogger("cwdrift.connectwise")

# Pinned so a ConnectWise release cannot silently change the models we read [§1.2].
ACCEPT = "application/vnd.connectwise.com+json; version=2025.8"
# httpx decodes bodies (httpx-aiohttp turns aiohttp's decompression off): offer only what httpx
# always can, not what aiohttp would advertise by default.
ACCEPT_ENCODING = "gzip, deflate"
PAGE_SIZE = 1000  # the documented maximum [§4]
MAX_PAGES = 1000  # a million rows: far beyond any role or setup table; a runaway guard only

Json = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]

_system_random = random.SystemRandom()

# Endpoint prefix (lowercase) -> the role permission ConnectWise checks for it [§9, vendor guides].
_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("/system/securityroles", "System > Security Roles: Inquire"),
    ("/system/apimembers", "System > Member Maintenance: Inquire"),
    ("/system/members", "System > Member Maintenance: Inquire"),
    ("/system/setupscreens", "System > Table Setup: Inquire"),
    ("/finance/", "Finance > Accounting Interface: Inquire"),
)


def required_permission(endpoint: str) -> str:
    """The role permission a 403 on ``endpoint`` most likely means is missing ("" if unknown)."""
    lowered = endpoint.lower()
    for prefix, permission in _PERMISSIONS:
        if lowered.startswith(prefix):
            return permission
    return ""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter (AWS "Exponential Backoff And Jitter").

    ``attempts`` counts every try, the first included. ``random`` returns a float in [0, 1).
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 120.0  # never let a server park a check for longer than this
    random: Callable[[], float] = field(default=_system_random.random, repr=False)

    def backoff(self, attempt: int) -> float:
        """Delay before try ``attempt + 1`` after try ``attempt`` (1-based) failed."""
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return self.random() * ceiling

    def retry_after(self, header: str | None) -> float | None:
        """``Retry-After`` in seconds, capped; None when absent or not a number of seconds."""
        if header is None:
            return None
        try:
            seconds = float(header.strip())
        except ValueError:
            return None  # an HTTP-date: fall back to backoff rather than trust our clock
        if seconds != seconds or seconds < 0:  # NaN or negative
            return None
        return min(seconds, self.retry_after_cap)


@dataclass(frozen=True, slots=True)
class _Failure:
    error: ConnectWiseError
    retry_in: float | None  # seconds to wait before the next try; None: do not retry


_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class ConnectWiseClient:
    """An async client for one tenant's keys. Use as ``async with ConnectWiseClient(...) as cw:``.

    Entering looks up the codebase and fixes the API base URL; ``get_list``/``get_one`` then read.
    """

    def __init__(
        self,
        site: str,
        company_id: str,
        public_key: str,
        private_key: SecretStr | str,
        client_id: str,
        *,
        http: httpx.AsyncClient | None = None,
        company_info: CompanyInfoCache | None = None,
        limiter: HostLimiter | None = None,
        limits: HostLimits | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 30.0,
        page_size: int = PAGE_SIZE,
        tenant: str = "",
    ) -> None:
        self.tenant = tenant
        self.site: Site = parse_site(site, tenant=tenant)
        self.company_id = company_id
        self.public_key = public_key
        secret = private_key if isinstance(private_key, SecretStr) else SecretStr(private_key)
        token = base64.b64encode(
            f"{company_id}+{public_key}:{secret.get_secret_value()}".encode()
        ).decode("ascii")
        # Built once: every request reuses them (httpx.Headers masks Authorization in its repr).
        self._headers = httpx.Headers(
            {
                "Authorization": f"Basic {token}",
                "clientId": client_id,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            }
        )
        # Strings that must never leave this object, even inside an echoed response body.
        self._secrets = tuple(s for s in (secret.get_secret_value(), token) if s)
        self._given_http = http
        self._company_cache = company_info
        # Either one limiter for every request, or a registry to pick the API host's limiter
        # from once the codebase lookup has named that host (default: the process registry).
        self._limiter = limiter
        self._fixed_limiter = limiter is not None
        self._limits = limits
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._timeout = timeout
        # httpx timeouts are per phase (connect, each read, pool wait), each ``timeout`` long.
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{PAGE_SIZE}, got {page_size}")
        self._page_size = page_size
        self._http: httpx.AsyncClient | None = None
        self._base_url: str | None = None
        self.company_info: CompanyInfo | None = None
        self._base_from_cache = False

    def __repr__(self) -> str:
        return (
            f"ConnectWiseClient(site={self.site.origin!r}, company_id={self.company_id!r}, "
            f"base_url={self._base_url!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        # TLS is always verified (the request carries the API keys): see transport.tls_context.
        self._http = self._given_http if self._given_http is not None else open_client()
        try:
            await self._discover()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            # A given client serves other tenants' checks too: only a private one is closed.
            if self._given_http is None:
                await self._http.aclose()
            self._http = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("use 'async with ConnectWiseClient(...)' before reading")
        return self._base_url

    async def _discover(self, *, fresh: bool = False) -> None:
        cache = self._company_cache
        info = None if fresh or cache is None else cache.get(self.site.origin, self.company_id)
        self._base_from_cache = info is not None
        if info is None:
            info = await self._lookup_company_info()
            if cache is not None:
                cache.put(self.site.origin, self.company_id, info)
        self.company_info = info
        self._base_url = base_url(self.site, info)
        if not self._fixed_limiter:
            limits = self._limits or default_host_limits()
            self._limiter = limits.for_host(urlsplit(self._base_url).hostname or "")
        log.debug("company %s: API base %s", self.company_id, self._base_url)

    async def _lookup_company_info(self) -> CompanyInfo:
        endpoint = f"/login/companyinfo/{self.company_id}"
        url = f"{self.site.origin}/login/companyinfo/{quote(self.company_id, safe='')}"
        limits = self._limits or default_host_limits()
        limiter = self._limiter if self._fixed_limiter else limits.for_host(self.site.host)
        response = await self._send(url, endpoint=endpoint, limiter=limiter)
        return parse_company_info(self._decode(response, endpoint), endpoint=endpoint)

    async def _read(
        self, path: str, endpoint: str, params: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """The first (or only) page of ``path``; a 404 on a cached codebase looks it up again."""
        try:
            return await self._send(self._url(path), endpoint=endpoint, params=params)
        except NotFound:
            if not self._base_from_cache:
                raise
            stale = self.base_url
            await self._discover(fresh=True)
            if self.base_url == stale:
                raise
            log.info("company %s: codebase moved; API base now %s", self.company_id, self.base_url)
            return await self._send(self._url(path), endpoint=endpoint, params=params)

    # -- reads -------------------------------------------------------------------------------

    async def get_one(self, path: str) -> Json:
        """GET one record; anything but a JSON object is a MalformedResponse."""
        endpoint = _endpoint_of(path)
        response = await self._read(path, endpoint)
        payload = self._decode(response, endpoint)
        if not isinstance(payload, dict):
            raise MalformedResponse(
                f"expected a JSON object from {endpoint}, got {_kind(payload)}",
                endpoint=endpoint,
                status=response.status_code,
                fix="check that the site is a ConnectWise Manage server and the API path exists",
            )
        return payload

    async def get_list(self, path: str, params: Mapping[str, str] | None = None) -> list[Json]:
        """GET every page of a list, following ``Link rel="next"`` until there is none.

        Page counts are not trusted; a next link seen twice, pointing at another server, or any
        failure after the first page raises IncompleteRead: a partial list is never returned.
        """
        endpoint = _endpoint_of(path)
        query = {"pageSize": str(self._page_size), **dict(params or {})}
        response = await self._read(path, endpoint, query)
        rows = self._rows(response, endpoint)
        url = str(response.url)  # as requested, query included: the base for relative links
        seen = {url}
        page = 1
        while True:
            # httpx joins repeated Link headers with ", ": one list for the parser.
            target = link_for(response.headers.get("link"), "next")
            if target is None:
                return rows
            page += 1
            next_url = urljoin(url, target)
            self._check_next(next_url, seen, endpoint=endpoint, page=page)
            seen.add(next_url)
            try:
                response = await self._send(next_url, endpoint=endpoint, page=page)
                rows.extend(self._rows(response, endpoint))
                url = next_url
            except ConnectWiseError as exc:
                raise IncompleteRead(
                    f"reading {endpoint} broke at page {page}: {exc.message}",
                    endpoint=endpoint,
                    status=exc.status,
                    fix=exc.fix or "run the check again; a partial list is never used",
                ) from None

    def _check_next(self, next_url: str, seen: set[str], *, endpoint: str, page: int) -> None:
        base = urlsplit(self.base_url)
        target = urlsplit(next_url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise IncompleteRead(
                f"the next-page link of {endpoint} (page {page}) points at another server "
                f"({target.scheme}://{target.netloc}); refusing to send the API keys there",
                endpoint=endpoint,
                fix="check the site setting; report this to ConnectWise if it persists",
            )
        if next_url in seen:
            raise IncompleteRead(
                f"the next-page link of {endpoint} repeats an earlier page (page {page}); "
                "paging would never end",
                endpoint=endpoint,
                fix="run the check again; report this to ConnectWise if it persists",
            )
        if page > MAX_PAGES:
            raise IncompleteRead(
                f"{endpoint} still had a next page after {MAX_PAGES} pages",
                endpoint=endpoint,
                fix="run the check again; report this to ConnectWise if it persists",
            )

    def _rows(self, response: httpx.Response, endpoint: str) -> list[Json]:
        payload = self._decode(response, endpoint)
        if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
            raise MalformedResponse(
                f"expected a JSON list of objects from {endpoint}, got {_kind(payload)}",
                endpoint=endpoint,
                status=response.status_code,
                fix="check that the site is a ConnectWise Manage server and the API path exists",
            )
        return payload

    def _url(self, path: str) -> str:
        if "://" in path or not path.startswith("/"):
            raise ValueError(f"expected an API path like '/system/info', got {path!r}")
        return f"{self.base_url}{path}"

    # -- one request with retries ------------------------------------------------------------

    async def _send(
        self,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        page: int = 1,
        limiter: HostLimiter | None = None,
    ) -> httpx.Response:
        """GET with retries; returns a 2xx response or raises the typed error."""
        if self._http is None:
            raise RuntimeError("use 'async with ConnectWiseClient(...)' before reading")
        limiter = limiter or self._limiter
        assert limiter is not None  # set by _discover before any API read
        if params:
            # Encoded here: httpx would parse the URL, merge the query and parse it all again.
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, quote_via=quote)}"
        try:
            parsed = _parsed_url(url)
        except httpx.InvalidURL as exc:  # a next-page link with control characters, say
            raise MalformedResponse(
                f"cannot request {endpoint} (page {page}): {self._scrub(str(exc))[:200]}",
                endpoint=endpoint,
                fix="run the check again; report this to ConnectWise if it persists",
            ) from None
        # Built here, not by the httpx client: its cookies, default headers and auth stay out.
        request = httpx.Request("GET", parsed, headers=self._headers, extensions=self._extensions)
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(self._http, request, endpoint, page, attempt, limiter)
            if isinstance(outcome, httpx.Response):
                return outcome
            if outcome.retry_in is None or attempt >= self._retry.attempts:
                raise outcome.error
            await self._sleep(outcome.retry_in)

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        request: httpx.Request,
        endpoint: str,
        page: int,
        attempt: int,
        limiter: HostLimiter,
    ) -> httpx.Response | _Failure:
        """One try: the 2xx response, or the error and how long to wait before the next try."""
        policy = self._retry
        try:
            async with limiter.slot():
                # No redirects: a redirect must not carry the keys to another host.
                response = await http.send(request, auth=None, follow_redirects=False)
        except httpx.TimeoutException as exc:
            log.debug("GET %s page %d: %s (attempt %d)", endpoint, page, _name(exc), attempt)
            return _Failure(
                ConnectionFailed(
                    f"ConnectWise did not answer {endpoint} within {self._timeout:g}s "
                    f"({_name(exc)}) after {attempt} tries",
                    endpoint=endpoint,
                    fix="check the site and network; the next scheduled check retries",
                ),
                policy.backoff(attempt),
            )
        except httpx.RequestError as exc:  # refused, DNS, TLS, proxy, reset, undecodable body
            log.debug("GET %s page %d: %s (attempt %d)", endpoint, page, _name(exc), attempt)
            return _Failure(
                ConnectionFailed(
                    f"could not read {endpoint} from {self.site.host}: {_name(exc)} "
                    f"{self._scrub(str(exc))[:200]} after {attempt} tries".rstrip(),
                    endpoint=endpoint,
                    fix="check the site name, DNS, TLS and network; the next check retries",
                ),
                policy.backoff(attempt),
            )
        status = response.status_code
        log.debug("GET %s page %d -> %d (attempt %d)", endpoint, page, status, attempt)
        if 200 <= status < 300:
            return response
        error = self._error_for(response, endpoint, attempt)
        if status == 429:
            wait = policy.retry_after(response.headers.get("retry-after"))
            return _Failure(error, wait if wait is not None else policy.backoff(attempt))
        if status >= 500:
            return _Failure(error, policy.backoff(attempt))
        return _Failure(error, None)  # other 4xx: repeating the same request cannot help

    # -- turning answers into errors ---------------------------------------------------------

    def _error_for(self, response: httpx.Response, endpoint: str, attempt: int) -> ConnectWiseError:
        status = response.status_code
        said = self._server_message(response)
        detail = f" (ConnectWise said: {said})" if said else ""
        company = f"company {self.company_id!r}"
        if self.tenant:
            company += f" (tenant {self.tenant})"
        if status == 401 or "usernotauthenticated" in said.lower().replace(" ", ""):
            return AuthenticationFailed(
                f"ConnectWise rejected the API keys for {company} on {endpoint}{detail}",
                endpoint=endpoint,
                status=status,
                fix="check the public/private key pair, the company id and the clientId",
            )
        if status == 403:
            permission = required_permission(endpoint)
            lacks = (
                f"the security role lacks {permission}"
                if permission
                else "the security role of these API keys does not allow it"
            )
            return PermissionDenied(
                f"ConnectWise refused {endpoint} for {company}: {lacks}{detail}",
                endpoint=endpoint,
                permission=permission,
                fix=(
                    f"grant {permission} to the role in System > Security Roles"
                    if permission
                    else "check the role assigned to the API member in System > Security Roles"
                ),
            )
        if status == 404:
            return NotFound(
                f"ConnectWise answered 404 Not Found for {endpoint} ({company}){detail}",
                endpoint=endpoint,
                status=status,
                fix=(
                    "check the site and company id; on ConnectWise cloud a 404 can also mean "
                    "the API keys were not accepted"
                ),
            )
        if status == 429:
            retry_after = self._retry.retry_after(response.headers.get("retry-after"))
            return RateLimited(
                f"ConnectWise kept rate-limiting {endpoint} after {attempt} tries{detail}",
                endpoint=endpoint,
                retry_after=retry_after,
                fix="lower the request rate or concurrency for this host; the next check retries",
            )
        if status >= 500:
            return ServerError(
                f"ConnectWise failed with {status} on {endpoint} after {attempt} tries{detail}",
                endpoint=endpoint,
                status=status,
                fix="ConnectWise had a server problem; the next scheduled check retries",
            )
        return ConnectWiseError(
            f"ConnectWise answered {status} to {endpoint}{detail}",
            endpoint=endpoint,
            status=status,
            fix="this request is not retried; check the site, company id and API version",
        )

    def _server_message(self, response: httpx.Response) -> str:
        """The ``message``/``code`` of an error body (either ConnectWise shape), scrubbed.

        A non-JSON body (a proxy's HTML error page) is described by its content type and start.
        """
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:  # invalid UTF-8 included
            if not response.content:
                return ""
            content_type = response.headers.get("content-type", "no content-type")
            head = self._scrub(response.content[:120].decode("utf-8", "replace"))[:80]
            return f"{content_type} starting {head!r}"
        if not isinstance(body, dict):
            return ""
        parts = [
            str(body[key]) for key in ("code", "error", "message") if isinstance(body.get(key), str)
        ]
        return self._scrub(": ".join(parts))[:200]

    def _decode(self, response: httpx.Response, endpoint: str) -> Any:
        try:
            # orjson, not response.json(): ~3x faster than json, and bodies run to 100 KB
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:  # invalid UTF-8 included
            content_type = response.headers.get("content-type", "no content-type")
            head = self._scrub(response.content[:120].decode("utf-8", "replace"))
            raise MalformedResponse(
                f"expected JSON from {endpoint} but got {content_type!r} starting {head[:80]!r}",
                endpoint=endpoint,
                status=response.status_code,
                fix=(
                    "check that the site is the ConnectWise server (not a login page, proxy or "
                    "maintenance page); the next check retries"
                ),
            ) from None

    def _scrub(self, text: str) -> str:
        """Remove secrets and control characters from text that came back from the server."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _PRINTABLE.sub(" ", text).strip()


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """httpx's parse of a URL (immutable), shared: most tenants on a host and codebase read the
    same first-page URLs, and parsing one cost more than the rest of building the request."""
    return httpx.URL(url)


def _endpoint_of(path: str) -> str:
    """The API path used in errors and logs: no scheme, host or query string."""
    return path.split("?", 1)[0]


def _kind(payload: Any) -> str:
    if isinstance(payload, list):
        return "a list" if all(isinstance(r, dict) for r in payload) else "a list of non-objects"
    if isinstance(payload, dict):
        return "an object"
    return type(payload).__name__ if payload is not None else "null"


def _name(exc: BaseException) -> str:
    return type(exc).__name__
