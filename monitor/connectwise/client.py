"""The one HTTP seam to ConnectWise Manage: auth, codebase lookup, paging, retries, typed errors.

Nothing else in cwdrift talks HTTP to ConnectWise. Facts behind each special case are in
../shared/connectwise-api.md (sections in brackets below):

* auth is ``Basic base64("{company}+{public}:{private}")`` plus a ``clientId`` header [§1.2];
* the API base comes from ``GET {site}/login/companyinfo/{company}`` [§1.1] (see ``site.py``);
* lists page with an RFC 8288 ``Link`` header, ``pageSize`` at most 1,000 [§4] (see ``links.py``);
* reads retry 5xx, timeouts and connection errors with backoff and full jitter; every request
  honours ``Retry-After`` on 429; 400/401/403/404/409 are never retried [§5, §6];
* the codebase answer may come from a :class:`~monitor.connectwise.read_cache.ReadCache`; a 404
  on a cached base URL looks the codebase up again once (a tenant upgraded since) before it is
  reported; a freshly looked-up codebase is remembered only once an API request through it
  succeeded, with the ``api-current-version`` that answer carried [§1.3];
* every successful API answer's ``api-current-version`` is shown to the cache, which forgets the
  tenant's entries stored under another version (``read_cache.py``);
* memory and time are bounded whatever a server sends: each answer is streamed and given up past
  ``max_response_bytes`` (a ``Content-Length`` over it at once), a list past ``MAX_PAGES`` pages
  or ``MAX_ROWS`` rows, and each try past ``timeout`` seconds in total (httpx's own timeouts are
  per step, so a server trickling a body could otherwise hold a request for ever).

Writes (``patch``, ``post``) are the one write path, shared by remediation and tickets [§7]:
PATCH is a JSON Patch array on top-level fields (objects replaced whole, never PUT), and **a
write is never repeated blindly**. It is sent again only when ConnectWise cannot have processed
it: a 429 (after ``Retry-After``), a refused connection, a connect timeout. A timeout, a dropped
connection or a 5xx once it may have reached ConnectWise is a :class:`WriteOutcomeUnknown`; the
caller reads the record back (remediation) or looks the ticket up by ``externalXRef`` (tickets)
before trying again (../shared/connectwise-audit-tickets.md §4.5, §4.6).

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
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import quote, urlencode, urljoin, urlsplit

import httpx
import orjson
from pydantic import SecretStr

from monitor import permissions
from monitor.connectwise.limits import HostLimiter, HostLimits, default_host_limits
from monitor.connectwise.links import link_for
from monitor.connectwise.read_cache import ReadCache, TenantMemory, tenant_key
from monitor.connectwise.site import CompanyInfo, Site, base_url, parse_company_info, parse_site
from monitor.connectwise.transport import open_client
from monitor.errors import (
    AuthenticationFailed,
    Conflict,
    ConnectionFailed,
    ConnectWiseError,
    FieldProblem,
    IncompleteRead,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    ValidationRejected,
    WriteOutcomeUnknown,
)

log = logging.getLogger("cwdrift.connectwise")

# Pinned so a ConnectWise release cannot silently change the models we read [§1.2].
ACCEPT = "application/vnd.connectwise.com+json; version=2025.8"
# httpx decodes bodies (httpx-aiohttp turns aiohttp's decompression off): offer only what httpx
# always can, not what aiohttp would advertise by default.
ACCEPT_ENCODING = "gzip, deflate"
PAGE_SIZE = 1000  # the documented maximum [§4]
MAX_PAGES = 1000  # a runaway guard only: no list a check reads comes near it
# Rows across every page of one list. The longest a check reads is a role's permission rows or
# the setup-screen catalogue (a few hundred); a ticket lookup is one or two. A constant rather
# than a setting: far above any real answer, and reached only by a server that never ends.
MAX_ROWS = 100_000
MEGABYTE = 1024 * 1024
# Bytes of one answer (or of all pages of one list): a check's largest is ~100 KB.
MAX_RESPONSE_BYTES = 20 * MEGABYTE  # the default of ``connectwise.max_response_mb``
ERROR_BODY_BYTES = 64 * 1024  # of an error answer, only its message is wanted
MAX_PROBLEMS = 20  # field problems kept from one refused write
PATCH_OPS = frozenset({"add", "replace", "remove"})

Json = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]
# ``asyncio.timeout``, or a stand-in for tests that decide when the deadline has passed.
Deadline = Callable[[float], AbstractAsyncContextManager[object]]

_system_random = random.SystemRandom()
_TOP_LEVEL_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# (methods, endpoint pattern, the role permission ConnectWise checks) [§9, §7, vendor guides].
# Writes need Edit/Add on the row whose Inquire the read needs. The Service Desk rows are from
# ../shared/connectwise-audit-tickets.md §4.6 and are unverified on a real tenant, as is which
# row guards adding a note (Edit on the ticket, as the simulator assumes).
_PERMISSIONS: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern, re.IGNORECASE), permission)
    for methods, pattern, permission in (
        ("GET", r"/system/securityroles\b", permissions.ROLES_INQUIRE),
        ("GET", r"/system/(api)?members\b", permissions.MEMBERS_INQUIRE),
        ("PATCH", r"/system/(api)?members\b", permissions.MEMBERS_EDIT),
        ("GET", r"/system/setupscreens\b", permissions.TABLE_SETUP_INQUIRE),
        ("GET", r"/finance/", permissions.ACCOUNTING_INQUIRE),
        ("PATCH", r"/finance/", permissions.ACCOUNTING_EDIT),
        ("GET", r"/company/companies\b", permissions.COMPANIES_INQUIRE),
        ("GET", r"/service/tickets\b", permissions.TICKETS_INQUIRE),
        ("POST", r"/service/tickets/\d+/notes\b", permissions.TICKETS_EDIT),
        ("POST", r"/service/tickets/?$", permissions.TICKETS_ADD),
        ("PATCH", r"/service/tickets/", permissions.TICKETS_EDIT),
        ("GET", r"/service/(boards|priorities)\b", permissions.TICKETS_INQUIRE),
    )
)


def required_permission(endpoint: str, method: str = "GET") -> str:
    """The role permission a 403 to ``method endpoint`` most likely means is missing ("" if
    unknown)."""
    method = method.upper()
    for methods, pattern, permission in _PERMISSIONS:
        if method in methods and pattern.match(endpoint):
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


@dataclass(slots=True)  # not frozen: a frozen dataclass costs three times as much to build
class _Call:
    """What one request is, for its errors and its retry rule."""

    method: str
    endpoint: str  # the API path, never a full URL
    page: int = 1
    earlier: int = 0  # bytes of this list's earlier pages: they count toward the size cap

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def name(self) -> str:
        """``/finance/glCaptions`` for a read, ``PATCH /finance/glCaptions/1`` for a write."""
        return f"{self.method} {self.endpoint}" if self.writes else self.endpoint


@dataclass(slots=True)
class _Reply:
    """An answer with its body (a success read whole within the cap, an error's cut short)."""

    status: int
    headers: httpx.Headers
    url: httpx.URL
    body: bytes


@dataclass(frozen=True, slots=True)
class _Failure:
    error: ConnectWiseError
    retry_in: float | None  # seconds to wait before the next try; None: do not retry


class _OverCap(Exception):
    """A body past its byte budget: ``read`` bytes were taken; ``declared`` is Content-Length."""

    def __init__(self, read: int, declared: int | None) -> None:
        super().__init__(read, declared)
        self.read = read
        self.declared = declared


_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class ConnectWiseClient:
    """An async client for one tenant's keys. Use as ``async with ConnectWiseClient(...) as cw:``.

    Entering looks up the codebase and fixes the API base URL; ``get_list``/``get_one`` then read
    and ``patch``/``post`` write.
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
        read_cache: ReadCache | None = None,
        limiter: HostLimiter | None = None,
        limits: HostLimits | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 30.0,
        page_size: int = PAGE_SIZE,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        deadline: Deadline = asyncio.timeout,
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
        self._write_headers = httpx.Headers({**self._headers, "Content-Type": "application/json"})
        # Strings that must never leave this object, even inside an echoed response body.
        self._secrets = tuple(s for s in (secret.get_secret_value(), token) if s)
        self._given_http = http
        # Answers that change only with an upgrade (codebase, setup screens, a role refusal).
        self.memory = TenantMemory(
            read_cache, tenant_key(self.site.origin, company_id), lambda: self.api_version
        )
        # The api-current-version header of the latest successful API answer [§1.3].
        self.api_version: str | None = None
        self._unsaved_info: CompanyInfo | None = None
        # Either one limiter for every request, or a registry to pick the API host's limiter
        # from once the codebase lookup has named that host (default: the process registry).
        self._limiter = limiter
        self._fixed_limiter = limiter is not None
        self._limits = limits
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._timeout = timeout
        # httpx timeouts are per phase (connect, each read, pool wait), each ``timeout`` long;
        # ``deadline`` bounds a whole try (sending, waiting, reading the body) by the same figure.
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._deadline = deadline
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{PAGE_SIZE}, got {page_size}")
        self._page_size = page_size
        if max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be positive, got {max_response_bytes}")
        self._max_bytes = max_response_bytes
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
        info = None if fresh else self.memory.codebase()
        self._base_from_cache = info is not None
        if info is None:
            info = await self._lookup_company_info()
            # Remembered once a request through it succeeds (``_answered``): a codebase that
            # does not work is never kept.
            self._unsaved_info = info
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
        reply = await self._send(url, _Call("GET", endpoint), limiter=limiter)
        return parse_company_info(self._decode(reply, endpoint), endpoint=endpoint)

    async def _request(
        self,
        call: _Call,
        path: str,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> _Reply:
        """The first (or only) page of ``path``, or a write's answer; a 404 on a cached codebase
        looks it up again. (A 404 means nothing was processed, so a write may be sent again.)"""
        # As sent: reads run concurrently, and another may look the codebase up meanwhile.
        base, from_cache = self.base_url, self._base_from_cache
        try:
            reply = await self._send(self._url(path), call, params=params, content=content)
        except NotFound:
            if not from_cache:
                raise
            if self.base_url == base:  # no other read has looked it up again yet
                await self._discover(fresh=True)
                if self.base_url == base:
                    raise
                log.info(
                    "company %s: codebase moved; API base now %s", self.company_id, self.base_url
                )
            reply = await self._send(self._url(path), call, params=params, content=content)
        self._answered(reply)
        return reply

    def _answered(self, reply: _Reply) -> None:
        """A successful API answer: its version goes to the cache (which forgets entries stored
        under another), and a codebase looked up in this session is now known to work."""
        version = reply.headers.get("api-current-version")
        if version is not None:
            # An answer without the header tells nothing; the check's decisions compare the
            # version its answers did carry (None if none did) with each entry's.
            self.api_version = version
            self.memory.seen_version(version)
        if self._unsaved_info is not None:
            self.memory.remember_codebase(self._unsaved_info, self.api_version)
            self._unsaved_info = None

    # -- reads -------------------------------------------------------------------------------

    async def get_one(self, path: str) -> Json:
        """GET one record; anything but a JSON object is a MalformedResponse."""
        endpoint = _endpoint_of(path)
        reply = await self._request(_Call("GET", endpoint), path)
        payload = self._decode(reply, endpoint)
        if not isinstance(payload, dict):
            raise MalformedResponse(
                f"expected a JSON object from {endpoint}, got {_kind(payload)}",
                endpoint=endpoint,
                status=reply.status,
                fix="check that the site is a ConnectWise Manage server and the API path exists",
            )
        return payload

    async def get_list(self, path: str, params: Mapping[str, str] | None = None) -> list[Json]:
        """GET every page of a list, following ``Link rel="next"`` until there is none.

        ``params`` go into the query string, encoded here; build a ``conditions`` value with
        :mod:`monitor.connectwise.conditions` (``{"conditions": equals("externalXRef", key)}``).

        Page counts are not trusted; a next link seen twice, pointing at another server, or any
        failure after the first page raises IncompleteRead: a partial list is never returned.
        More than ``MAX_ROWS`` rows, or pages larger together than the size cap, raise
        ResponseTooLarge.
        """
        endpoint = _endpoint_of(path)
        query = {"pageSize": str(self._page_size), **dict(params or {})}
        reply = await self._request(_Call("GET", endpoint), path, query)
        rows = self._rows(reply, endpoint)
        read = len(reply.body)
        url = str(reply.url)  # as requested, query included: the base for relative links
        seen = {url}
        page = 1
        while True:
            self._check_rows(rows, endpoint=endpoint, page=page)
            # httpx joins repeated Link headers with ", ": one list for the parser.
            target = link_for(reply.headers.get("link"), "next")
            if target is None:
                return rows
            page += 1
            next_url = urljoin(url, target)
            self._check_next(next_url, seen, endpoint=endpoint, page=page)
            seen.add(next_url)
            try:
                reply = await self._send(next_url, _Call("GET", endpoint, page, earlier=read))
                rows.extend(self._rows(reply, endpoint))
                read += len(reply.body)
                url = next_url
            except ResponseTooLarge:
                raise  # not a broken read: a list no configuration table can be
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

    @staticmethod
    def _check_rows(rows: list[Json], *, endpoint: str, page: int) -> None:
        if len(rows) > MAX_ROWS:
            raise ResponseTooLarge(
                f"{endpoint} returned more than {MAX_ROWS:,} rows by page {page}; "
                "no configuration list is that long, so the read stopped there",
                endpoint=endpoint,
                fix="check the site is a ConnectWise Manage server (not a proxy or a loop); "
                "report this to ConnectWise if it persists",
            )

    def _rows(self, reply: _Reply, endpoint: str) -> list[Json]:
        payload = self._decode(reply, endpoint)
        if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
            raise MalformedResponse(
                f"expected a JSON list of objects from {endpoint}, got {_kind(payload)}",
                endpoint=endpoint,
                status=reply.status,
                fix="check that the site is a ConnectWise Manage server and the API path exists",
            )
        return payload

    def _url(self, path: str) -> str:
        if "://" in path or not path.startswith("/"):
            raise ValueError(f"expected an API path like '/system/info', got {path!r}")
        return f"{self.base_url}{path}"

    # -- writes ------------------------------------------------------------------------------

    async def patch(self, path: str, operations: Sequence[Mapping[str, Any]]) -> Json:
        """PATCH ``path`` with JSON Patch ``operations``; the record as ConnectWise now has it.

        Each operation is ``{"op": "add"|"replace"|"remove", "path": <top-level field>,
        "value": ...}``. Object-valued fields are replaced whole (``"path": "status", "value":
        {"id": 95}``): a sub-path such as ``status/name`` may get a false 200 [§7], so it is
        refused here, as is an empty list. Read the record back to verify: a 200 is not proof.
        """
        return await self._write("PATCH", path, orjson.dumps(_patch_operations(operations)))

    async def post(self, path: str, body: Mapping[str, Any]) -> Json:
        """POST ``body`` as JSON to ``path``; the created (or updated) record ConnectWise returns.

        Never sent twice blindly: on :class:`WriteOutcomeUnknown` look the record up (a ticket
        by its ``externalXRef``) before posting again.
        """
        return await self._write("POST", path, orjson.dumps(dict(body)))

    async def _write(self, method: str, path: str, content: bytes) -> Json:
        call = _Call(method, _endpoint_of(path))
        reply = await self._request(call, path, content=content)
        try:
            payload = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise WriteOutcomeUnknown(
                f"ConnectWise answered {reply.status} to {call.name} but not with the record "
                f"(got {self._described(reply)}); the write probably landed",
                endpoint=call.endpoint,
                method=method,
                status=reply.status,
                fix="read the record back before trying again",
            )
        return payload

    # -- one request with retries ------------------------------------------------------------

    async def _send(
        self,
        url: str,
        call: _Call,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        limiter: HostLimiter | None = None,
    ) -> _Reply:
        """One request with retries; returns a 2xx reply or raises the typed error."""
        if self._http is None:
            raise RuntimeError("use 'async with ConnectWiseClient(...)' before reading")
        limiter = limiter or self._limiter
        assert limiter is not None  # set by _discover before any API request
        if params:
            # Encoded here: httpx would parse the URL, merge the query and parse it all again.
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, quote_via=quote)}"
        try:
            parsed = _parsed_url(url)
        except httpx.InvalidURL as exc:  # a next-page link with control characters, say
            raise MalformedResponse(
                f"cannot request {call.name} (page {call.page}): {self._scrub(str(exc))[:200]}",
                endpoint=call.endpoint,
                method=call.method,
                fix="run the check again; report this to ConnectWise if it persists",
            ) from None
        # Built here, not by the httpx client: its cookies, default headers and auth stay out.
        if content is None:
            request = httpx.Request(
                call.method, parsed, headers=self._headers, extensions=self._extensions
            )
        else:
            request = httpx.Request(
                call.method,
                parsed,
                headers=self._write_headers,
                content=content,
                extensions=self._extensions,
            )
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(self._http, request, call, attempt, limiter)
            if isinstance(outcome, _Reply):
                return outcome
            if outcome.retry_in is None or attempt >= self._retry.attempts:
                raise outcome.error
            await self._sleep(outcome.retry_in)

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        request: httpx.Request,
        call: _Call,
        attempt: int,
        limiter: HostLimiter,
    ) -> _Reply | _Failure:
        """One try: the 2xx reply, or the error and how long to wait before the next try."""
        try:
            # The deadline covers the whole try, body included, not the wait for the host's slot.
            async with limiter.slot(), self._deadline(self._timeout):
                # No redirects: a redirect must not carry the keys to another host.
                response = await http.send(request, auth=None, follow_redirects=False, stream=True)
                try:
                    reply = await self._read_body(response, call)
                finally:
                    # With bytes left unread, aiohttp closes the connection rather than pool it
                    # (only a connection whose whole body was read goes back to the pool).
                    await response.aclose()
        except TimeoutError:  # the deadline (the transport turns its own into httpx errors)
            return self._transport_failure(call, attempt, "deadline", timed_out=True, sent=True)
        except httpx.TimeoutException as exc:
            # Connecting (or waiting for a pooled connection) timed out: nothing was sent.
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            return self._transport_failure(call, attempt, _name(exc), timed_out=True, sent=sent)
        except httpx.RequestError as exc:  # refused, DNS, TLS, proxy, reset, undecodable body
            said = f"{_name(exc)} {self._scrub(str(exc))[:200]}".rstrip()
            # A refused connection, DNS or TLS failure: the request never left.
            sent = not isinstance(exc, httpx.ConnectError)
            return self._transport_failure(call, attempt, said, timed_out=False, sent=sent)
        except _OverCap as exc:
            return _Failure(self._too_large(call, exc), None)
        status = reply.status
        log.log(
            logging.INFO if call.writes else logging.DEBUG,
            "%s %s page %d -> %d (attempt %d)",
            call.method,
            call.endpoint,
            call.page,
            status,
            attempt,
        )
        if 200 <= status < 300:
            return reply
        error = self._error_for(reply, call, attempt)
        policy = self._retry
        if status == 429:  # not processed, a write included: may be sent again
            wait = policy.retry_after(reply.headers.get("retry-after"))
            return _Failure(error, wait if wait is not None else policy.backoff(attempt))
        if status >= 500 and not call.writes:
            return _Failure(error, policy.backoff(attempt))
        return _Failure(error, None)  # 4xx: repeating it cannot help; a write's 5xx: unknown

    async def _read_body(self, response: httpx.Response, call: _Call) -> _Reply:
        """Read the body within its budget; raise _OverCap past it, without reading on.

        Counted after decoding, so a compressed body cannot unpack past the cap either (one
        chunk may: httpx inflates a 16 KB read at once). An error answer is cut at
        ERROR_BODY_BYTES rather than refused: only its message is wanted.
        """
        status = response.status_code
        if 200 <= status < 300:
            budget, cut = self._max_bytes - call.earlier, False
        else:
            budget, cut = ERROR_BODY_BYTES, True
        declared = _content_length(response.headers)
        if declared is not None and declared > budget and not cut:
            raise _OverCap(0, declared)
        chunks: list[bytes] = []
        size = 0
        # (httpx annotates aiter_bytes as an AsyncIterator; it is an async generator.)
        decoded = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
        async for chunk in decoded:
            size += len(chunk)
            if size > budget:
                # Stopping early: close httpx's generators now, not whenever they are collected
                # (only here: one run to its end or one that raised has nothing left to close).
                await decoded.aclose()
                if not cut:
                    raise _OverCap(size, declared)
                chunks.append(chunk[: len(chunk) - (size - budget)])
                break
            chunks.append(chunk)
        return _Reply(status, response.headers, response.url, b"".join(chunks))

    def _transport_failure(
        self, call: _Call, attempt: int, said: str, *, timed_out: bool, sent: bool
    ) -> _Failure:
        """The error for a try that got no answer, and whether to try again.

        A read is tried again. A write only when it cannot have reached ConnectWise; otherwise
        its outcome is unknown and it is not repeated.
        """
        log.debug(
            "%s %s page %d: %s (attempt %d)", call.method, call.endpoint, call.page, said, attempt
        )
        happened = (
            f"ConnectWise did not answer {call.name} within {self._timeout:g}s ({said})"
            if timed_out
            else f"could not {'send' if call.writes else 'read'} {call.name} "
            f"{'to' if call.writes else 'from'} {self.site.host}: {said}"
        )
        if call.writes and sent:
            return _Failure(
                WriteOutcomeUnknown(
                    f"{happened}; the write may or may not have been applied, and is not sent "
                    "again blindly",
                    endpoint=call.endpoint,
                    method=call.method,
                    fix="read the record back (for a ticket, look it up by externalXRef) "
                    "before trying again",
                ),
                None,
            )
        return _Failure(
            ConnectionFailed(
                f"{happened} after {attempt} tries",
                endpoint=call.endpoint,
                method=call.method,
                fix=(
                    "nothing reached ConnectWise; check the site and network, then try again"
                    if call.writes
                    else "check the site and network; the next scheduled check retries"
                    if timed_out
                    else "check the site name, DNS, TLS and network; the next check retries"
                ),
            ),
            self._retry.backoff(attempt),
        )

    def _too_large(self, call: _Call, over: _OverCap) -> ConnectWiseError:
        cap = _size(self._max_bytes)
        if over.declared is not None and over.read == 0:
            what = f"announced {over.declared:,} bytes (Content-Length); nothing was read"
        else:
            what = f"stopped reading after {over.read:,} bytes"
        where = f" (pages 1-{call.page} together)" if call.earlier else ""
        message = (
            f"the answer to {call.name}{where} is larger than the {cap} cap "
            f"(connectwise.max_response_mb): {what}"
        )
        if call.writes:
            return WriteOutcomeUnknown(
                f"{message}; the write probably landed",
                endpoint=call.endpoint,
                method=call.method,
                fix="read the record back before trying again",
            )
        return ResponseTooLarge(
            message,
            endpoint=call.endpoint,
            fix="check the site is a ConnectWise Manage server (not a proxy or login page); "
            "raise connectwise.max_response_mb only if a real answer is this large",
        )

    # -- turning answers into errors ---------------------------------------------------------

    def _error_for(self, reply: _Reply, call: _Call, attempt: int) -> ConnectWiseError:
        status = reply.status
        endpoint, method, name = call.endpoint, call.method, call.name
        body = _json_object(reply.body)
        said = self._server_message(reply, body)
        detail = f" (ConnectWise said: {said})" if said else ""
        company = f"company {self.company_id!r}"
        if self.tenant:
            company += f" (tenant {self.tenant})"
        if status == 401 or "usernotauthenticated" in said.lower().replace(" ", ""):
            return AuthenticationFailed(
                f"ConnectWise rejected the API keys for {company} on {name}{detail}",
                endpoint=endpoint,
                method=method,
                status=status,
                fix="check the public/private key pair, the company id and the clientId",
            )
        if status == 403:
            permission = required_permission(endpoint, method)
            lacks = (
                f"the security role lacks {permission}"
                if permission
                else "the security role of these API keys does not allow it"
            )
            return PermissionDenied(
                f"ConnectWise refused {name} for {company}: {lacks}{detail}",
                endpoint=endpoint,
                method=method,
                permission=permission,
                fix=(
                    f"grant {permission} to the role in System > Security Roles"
                    if permission
                    else "check the role assigned to the API member in System > Security Roles"
                ),
            )
        if status == 404:
            return NotFound(
                f"ConnectWise answered 404 Not Found for {name} ({company}){detail}",
                endpoint=endpoint,
                method=method,
                status=status,
                fix=(
                    "check the site and company id; on ConnectWise cloud a 404 can also mean "
                    "the API keys were not accepted"
                ),
            )
        if status == 429:
            retry_after = self._retry.retry_after(reply.headers.get("retry-after"))
            return RateLimited(
                f"ConnectWise kept rate-limiting {name} after {attempt} tries{detail}",
                endpoint=endpoint,
                method=method,
                retry_after=retry_after,
                fix="lower the request rate or concurrency for this host; the next check retries",
            )
        if status == 400 and call.writes:
            problems = self._problems(body)
            listed = "; ".join(str(p) for p in problems)
            return ValidationRejected(
                f"ConnectWise refused {name}{detail}" + (f": {listed}" if listed else ""),
                endpoint=endpoint,
                method=method,
                problems=problems,
                fix="correct the values named; the same request would be refused again",
            )
        if status == 409:
            return Conflict(
                f"ConnectWise answered 409 Conflict to {name}: the record is in use{detail}",
                endpoint=endpoint,
                method=method,
                status=status,
                fix="read the record again and retry later; nothing was written",
            )
        if status >= 500 and call.writes:
            return WriteOutcomeUnknown(
                f"ConnectWise failed with {status} on {name}{detail}; the write may or may not "
                "have been applied, and is not sent again blindly",
                endpoint=endpoint,
                method=method,
                status=status,
                fix="read the record back (for a ticket, look it up by externalXRef) "
                "before trying again",
            )
        if status >= 500:
            return ServerError(
                f"ConnectWise failed with {status} on {name} after {attempt} tries{detail}",
                endpoint=endpoint,
                status=status,
                fix="ConnectWise had a server problem; the next scheduled check retries",
            )
        return ConnectWiseError(
            f"ConnectWise answered {status} to {name}{detail}",
            endpoint=endpoint,
            method=method,
            status=status,
            fix="this request is not retried; check the site, company id and API version",
        )

    def _server_message(self, reply: _Reply, body: Json | None) -> str:
        """The ``message``/``code`` of an error body (either ConnectWise shape), scrubbed.

        A non-JSON body (a proxy's HTML error page) is described by its content type and start.
        """
        if body is None:
            return self._described(reply) if reply.body else ""
        parts = [
            str(body[key]) for key in ("code", "error", "message") if isinstance(body.get(key), str)
        ]
        return self._scrub(": ".join(parts))[:200]

    def _problems(self, body: Json | None) -> tuple[FieldProblem, ...]:
        """``errors[]`` of an ErrorResponseMessage as field problems: scrubbed, at most
        MAX_PROBLEMS of them, each text at most 200 characters."""
        errors = body.get("errors") if body is not None else None
        if not isinstance(errors, list):
            return ()
        problems = []
        for item in errors[:MAX_PROBLEMS]:
            if not isinstance(item, dict):
                continue
            text = {
                key: self._scrub(value)[:200] if isinstance(value, str) else ""
                for key in ("field", "code", "message")
                for value in (item.get(key),)
            }
            if any(text.values()):
                problems.append(FieldProblem(text["field"], text["code"], text["message"]))
        return tuple(problems)

    def _described(self, reply: _Reply) -> str:
        """A body that is not what was expected, by its content type and (scrubbed) start."""
        if not reply.body:
            return "an empty body"
        content_type = reply.headers.get("content-type", "no content-type")
        head = self._scrub(reply.body[:120].decode("utf-8", "replace"))[:80]
        return f"{content_type} starting {head!r}"

    def _decode(self, reply: _Reply, endpoint: str) -> Any:
        try:
            # orjson, not json: ~3x faster, and bodies run to 100 KB
            return orjson.loads(reply.body)
        except orjson.JSONDecodeError:  # invalid UTF-8 included
            content_type = reply.headers.get("content-type", "no content-type")
            head = self._scrub(reply.body[:120].decode("utf-8", "replace"))
            raise MalformedResponse(
                f"expected JSON from {endpoint} but got {content_type!r} starting {head[:80]!r}",
                endpoint=endpoint,
                status=reply.status,
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


def _patch_operations(operations: Sequence[Mapping[str, Any]]) -> list[Json]:
    """The operations as ConnectWise takes them, or ValueError for one it would misread."""
    if isinstance(operations, str | bytes) or not operations:
        raise ValueError("a PATCH needs a non-empty list of operations")
    checked: list[Json] = []
    for index, operation in enumerate(operations):
        op, path = operation.get("op"), operation.get("path")
        unknown = set(operation) - {"op", "path", "value"}
        if op not in PATCH_OPS or unknown:
            raise ValueError(
                f"PATCH operation {index}: op must be add, replace or remove, with only "
                f"op/path/value (got {dict(operation)!r})"
            )
        if not isinstance(path, str) or _TOP_LEVEL_FIELD.fullmatch(path) is None:
            raise ValueError(
                f"PATCH operation {index}: path must be a top-level field name, got {path!r}; "
                "replace an object whole (a sub-path such as status/name may get a false 200)"
            )
        if op != "remove" and "value" not in operation:
            raise ValueError(f"PATCH operation {index}: {op} {path} needs a value")
        checked.append(dict(operation))
    return checked


def _content_length(headers: httpx.Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _json_object(body: bytes) -> Json | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _size(count: int) -> str:
    return f"{count // MEGABYTE} MB" if count % MEGABYTE == 0 else f"{count:,} bytes"


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
