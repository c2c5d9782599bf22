"""What a check need not read again: answers that change only with a ConnectWise upgrade, and
the integration role's refusal to show its own record. The rule everywhere: if in doubt, read.

Three kinds of entry, each per tenant (site origin and company id) and each with a TTL:

* ``codebase``: the ``/login/companyinfo`` answer (../shared/connectwise-api.md §1.1);
* ``screens``: the ``/system/setupScreens`` catalogue, only what normalize needs (id, category,
  name); identical catalogues are one object in memory (10,000 tenants share one);
* ``role_refused``: the role id whose record answered 403 to the integration member's keys,
  and the permission named.

What drops an entry before its TTL (see ``ConnectWiseClient`` and ``collect``):

* every entry remembers the ``api-current-version`` header (§1.3) of the check that stored it;
  an answer naming another version forgets the tenant's entries, and so does a check whose
  answers carried none when the entry was stored under one (an answer without the header is
  otherwise no news: only a check that saw it nowhere counts it missing);
* a 404 on a cached base URL looks the codebase up again (the client);
* a customize item not in the cached catalogue re-reads the catalogue in the same check;
* a refusal is trusted only for the same role id, and only while the caller's own permission
  rows say Security Roles Inquire is not granted (collect).

:class:`ReadCache` holds the entries in memory. Given a :class:`Persistence` (the store's, wired
by ``monitor.jobs.runtime``), it loads the entries once per process and writes what changed
when asked (:meth:`ReadCache.flush`, in a worker thread), so a one-off ``cwdrift check`` profits
as the daemon does. Without one, entries live as long as the process.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from monitor.clock import utcnow
from monitor.connectwise.records import SETUP_SCREENS, SetupScreen, parse_rows
from monitor.connectwise.site import CompanyInfo
from monitor.errors import MalformedResponse, StoreError

log = logging.getLogger("cwdrift.connectwise")

CODEBASE = "codebase"
SCREENS = "screens"
ROLE_REFUSED = "role_refused"
KINDS = (CODEBASE, SCREENS, ROLE_REFUSED)

# Both change only with a ConnectWise upgrade, which the version header and the 404 catch
# first; the TTL bounds how long a change nothing announced can go unseen.
CODEBASE_TTL = timedelta(hours=24)
SCREENS_TTL = timedelta(hours=24)
# A role may be granted Security Roles Inquire without any sign in the headers: the caller's
# permission rows are checked on every check, and this bounds the rest.
ROLE_REFUSED_TTL = timedelta(hours=6)
TTLS = {CODEBASE: CODEBASE_TTL, SCREENS: SCREENS_TTL, ROLE_REFUSED: ROLE_REFUSED_TTL}

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RoleRefusal:
    """The integration member's keys were refused its role record (``role_id``)."""

    role_id: int
    permission: str  # the permission the 403 named, for the unknown's reason


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry as persisted: ``payload`` is JSON text (the store knows nothing of its shape)."""

    tenant: str
    kind: str
    payload: str
    version: str | None
    expires_at: datetime


class Persisted(Protocol):
    """An entry as the persistence gives it back (the store's own row type)."""

    @property
    def tenant(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


class Persistence(Protocol):
    """Where entries outlive the process (``monitor.store.read_cache.StoredReads``). Blocking:
    called in a worker thread."""

    def load(self, now: datetime) -> Iterable[Persisted]:
        """Every entry not expired at ``now`` (streamed: the caller keeps only what it needs)."""
        ...

    def apply(self, put: Sequence[Entry], drop: Sequence[tuple[str, str]], now: datetime) -> None:
        """Upsert ``put``, delete ``drop`` (tenant, kind) pairs and every entry expired at
        ``now``, in one transaction."""
        ...


@dataclass(frozen=True, slots=True)
class _Held:
    value: Any  # CompanyInfo | tuple[SetupScreen, ...] | RoleRefusal
    version: str | None
    expires_at: datetime


def tenant_key(origin: str, company_id: str) -> str:
    """The tenant an entry belongs to: the site origin and the company id (case-insensitive)."""
    return f"{origin} {company_id.strip().casefold()}"


class ReadCache:
    """The entries of every tenant, in memory; persisted through ``persistence`` when given."""

    def __init__(
        self,
        persistence: Persistence | None = None,
        *,
        clock: Clock = utcnow,
        ttls: dict[str, timedelta] | None = None,
    ) -> None:
        self._persistence = persistence
        self._clock = clock
        self._ttls = {**TTLS, **(ttls or {})}
        self._held: dict[tuple[str, str], _Held] = {}
        # "kind payload" -> decoded value: tenants on one ConnectWise release share a catalogue.
        self._interned: dict[str, Any] = {}
        self._put: dict[tuple[str, str], Entry] = {}
        self._drop: set[tuple[str, str]] = set()
        self._loaded = persistence is None
        self._loading: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    # -- loading and saving -------------------------------------------------------------------

    async def load(self) -> None:
        """Load the persisted entries, once per process (in a worker thread)."""
        if self._loaded or self._persistence is None:
            return
        loop = asyncio.get_running_loop()
        if self._loading is None or self._loading[0] is not loop:
            self._loading = (loop, asyncio.Lock())
        async with self._loading[1]:
            if not self._loaded:
                try:
                    await asyncio.to_thread(self._load_now, self._persistence)
                except StoreError as exc:
                    # Nothing remembered is only more requests; the next check tries again.
                    log.warning("read cache: could not load the stored entries: %s", exc)

    def _load_now(self, persistence: Persistence) -> None:
        now = self._clock()
        count = 0
        for row in persistence.load(now):
            key = (row.tenant, row.kind)
            if key in self._held or row.kind not in TTLS:
                continue  # read during the load: newer than the stored one
            try:
                value = self._decode(row.kind, row.payload)
            except ValueError as exc:  # a row this version cannot read: read ConnectWise again
                log.info("read cache: ignoring %s of %s (%s)", row.kind, row.tenant, exc)
                continue
            self._held[key] = _Held(value, _intern_text(row.version), row.expires_at)
            count += 1
        self._loaded = True
        log.debug("read cache: %d entries loaded", count)

    async def flush(self) -> None:
        """Write what changed since the last flush (in a worker thread); a no-op in memory."""
        if self._persistence is None or not (self._put or self._drop):
            return
        put, drop = list(self._put.values()), sorted(self._drop)
        self._put, self._drop = {}, set()
        try:
            await asyncio.to_thread(self._persistence.apply, put, drop, self._clock())
        except StoreError as exc:
            # A later process reads ConnectWise again, or catches a stale entry by its rules.
            log.warning("read cache: could not store %d entries: %s", len(put) + len(drop), exc)

    # -- entries ------------------------------------------------------------------------------

    def get(self, tenant: str, kind: str) -> Any:
        """The value held for the tenant, or None when absent or expired."""
        found = self.entry(tenant, kind)
        return None if found is None else found[0]

    def entry(self, tenant: str, kind: str) -> tuple[Any, str | None] | None:
        """The value held and the version it was stored under, or None (absent or expired)."""
        held = self._held.get((tenant, kind))
        if held is None:
            return None
        if held.expires_at <= self._clock():
            self.forget(tenant, kind)
            return None
        return held.value, held.version

    def put(self, tenant: str, kind: str, value: Any, version: str | None) -> Any:
        """Remember ``value`` (``version``: the api-current-version of the check that read it);
        returns the value held, which may be an identical one already in memory."""
        payload = _encode(kind, value)
        # Immutable values: equal ones are one object (10,000 tenants on a release share them).
        shared = self._interned.setdefault(f"{kind} {payload}", value)
        expires_at = self._clock() + self._ttls[kind]
        version = _intern_text(version)
        self._held[(tenant, kind)] = _Held(shared, version, expires_at)
        if self._persistence is not None:
            self._put[(tenant, kind)] = Entry(tenant, kind, payload, version, expires_at)
            self._drop.discard((tenant, kind))
        return shared

    def seen_version(self, tenant: str, version: str | None) -> bool:
        """A response of the tenant carried ``version``: forget every entry stored under another
        (a missing header where one was seen counts as another). True if any was forgotten."""
        changed = [
            kind
            for kind in KINDS
            if (held := self._held.get((tenant, kind))) is not None and held.version != version
        ]
        for kind in changed:
            self.forget(tenant, kind)
        if changed:
            log.info(
                "read cache: tenant %s now answers api-current-version %s; forgot %s",
                tenant,
                version,
                ", ".join(changed),
            )
        return bool(changed)

    def forget(self, tenant: str, kind: str) -> None:
        if self._held.pop((tenant, kind), None) is not None and self._persistence is not None:
            self._put.pop((tenant, kind), None)
            self._drop.add((tenant, kind))

    def __len__(self) -> int:
        return len(self._held)

    def _decode(self, kind: str, payload: str) -> Any:
        key = f"{kind} {payload}"
        found = self._interned.get(key)
        if found is None:
            found = self._interned.setdefault(key, _decode(kind, payload))
        return found


class TenantMemory:
    """One tenant's entries, as a check uses them; ``version`` is the api-current-version the
    check's responses carried (the latest one present; None while none has)."""

    def __init__(
        self, cache: ReadCache | None, tenant: str, version: Callable[[], str | None]
    ) -> None:
        self._cache = cache
        self._tenant = tenant
        self._version = version

    def codebase(self) -> CompanyInfo | None:
        """Asked before any answer: its version is checked as answers arrive (``seen_version``)."""
        info: CompanyInfo | None = self._get(CODEBASE, CompanyInfo, answered=False)
        return info

    def remember_codebase(self, info: CompanyInfo, version: str | None) -> None:
        if self._cache is not None:
            self._cache.put(self._tenant, CODEBASE, info, version)

    def screens(self) -> tuple[SetupScreen, ...] | None:
        screens: tuple[SetupScreen, ...] | None = self._get(SCREENS, tuple)
        return screens

    def remember_screens(self, screens: tuple[SetupScreen, ...]) -> tuple[SetupScreen, ...]:
        """Remember a catalogue (never an empty one: normalize does not trust it)."""
        if self._cache is None or not screens:
            return screens
        shared: tuple[SetupScreen, ...] = self._cache.put(
            self._tenant, SCREENS, screens, self._version()
        )
        return shared

    def role_refusal(self, role_id: int) -> RoleRefusal | None:
        """The refusal remembered for exactly this role id, if any."""
        refusal = self._get(ROLE_REFUSED, RoleRefusal)
        return refusal if refusal is not None and refusal.role_id == role_id else None

    def remember_refusal(self, refusal: RoleRefusal) -> None:
        if self._cache is not None:
            self._cache.put(self._tenant, ROLE_REFUSED, refusal, self._version())

    def forget(self, kind: str) -> None:
        if self._cache is not None:
            self._cache.forget(self._tenant, kind)

    def seen_version(self, version: str) -> None:
        """An answer named its release: entries stored under another are forgotten at once."""
        if self._cache is not None:
            self._cache.seen_version(self._tenant, version)

    def _get(self, kind: str, of: type, *, answered: bool = True) -> Any:
        """The entry's value; once answers came (``answered``), only if stored under the
        version they carried: an entry from another release, or from before the header went
        missing, makes the tenant's entries forgotten (if in doubt, read)."""
        if self._cache is None:
            return None
        found = self._cache.entry(self._tenant, kind)
        if found is None:
            return None
        value, stored_under = found
        if answered and stored_under != self._version():
            self._cache.seen_version(self._tenant, self._version())
            return None
        return value if isinstance(value, of) else None


# -- the payloads ---------------------------------------------------------------------------


def _encode(kind: str, value: Any) -> str:
    if kind == CODEBASE and isinstance(value, CompanyInfo):
        data: Any = {"codebase": value.codebase, "is_cloud": value.is_cloud}
    elif kind == SCREENS and isinstance(value, tuple):
        data = [{"id": s.id, "category": s.category, "name": s.name} for s in value]
    elif kind == ROLE_REFUSED and isinstance(value, RoleRefusal):
        data = {"role_id": value.role_id, "permission": value.permission}
    else:
        raise TypeError(f"cannot remember {type(value).__name__} as {kind}")
    return orjson.dumps(data).decode()


def _decode(kind: str, payload: str) -> Any:
    try:
        data = orjson.loads(payload)
        if kind == CODEBASE:
            return CompanyInfo(codebase=str(data["codebase"]), is_cloud=bool(data["is_cloud"]))
        if kind == SCREENS:
            screens = parse_rows(data, SetupScreen, endpoint=SETUP_SCREENS)
            if not screens:
                raise ValueError("an empty catalogue")
            return screens
        return RoleRefusal(role_id=int(data["role_id"]), permission=str(data["permission"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, MalformedResponse) as exc:
        raise ValueError(f"unreadable {kind} entry ({type(exc).__name__})") from None


def _intern_text(text: str | None) -> str | None:
    """One string object per distinct version (every tenant on a release shares it)."""
    return None if text is None else sys.intern(text)
