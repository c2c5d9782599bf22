"""The read cache in the store (``read_cache``, revision 0010): what one process remembered,
the next one starts with; forgotten entries stay forgotten; expired ones are neither loaded nor
kept. Real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.connectwise.read_cache import (
    CODEBASE,
    ROLE_REFUSED,
    SCREENS,
    Entry,
    ReadCache,
    RoleRefusal,
)
from monitor.connectwise.records import SETUP_SCREENS, SetupScreen, parse_rows
from monitor.connectwise.site import CompanyInfo
from monitor.store import Database
from monitor.store.read_cache import StoredReads

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CATALOGUE = parse_rows(
    [
        {"id": 1, "category": "Invoicing", "name": "Billing Status"},
        {"id": 2, "category": "Invoicing", "name": "Tax Code"},
    ],
    SetupScreen,
    endpoint=SETUP_SCREENS,
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_what_one_process_remembers_the_next_starts_with(db: Database) -> None:
    clock = Clock()
    first = ReadCache(StoredReads(db), clock=clock)
    await first.load()
    info = CompanyInfo(codebase="v2025_1/", is_cloud=True)
    first.put("https://a acme", CODEBASE, info, "2025.1")
    first.put("https://a acme", SCREENS, CATALOGUE, "2025.1")
    first.put(
        "https://a acme", ROLE_REFUSED, RoleRefusal(27, "System > Security Roles: Inquire"), None
    )
    # Another tenant on the same release: an equal catalogue (another object).
    first.put("https://a globex", SCREENS, tuple(CATALOGUE), "2025.1")
    await first.flush()

    second = ReadCache(StoredReads(db), clock=clock)
    await second.load()
    assert len(second) == 4
    assert second.get("https://a acme", CODEBASE) == info
    assert second.get("https://a acme", ROLE_REFUSED) == RoleRefusal(
        27, "System > Security Roles: Inquire"
    )
    loaded = second.get("https://a acme", SCREENS)
    assert [(s.id, s.category, s.name) for s in loaded] == [
        (1, "Invoicing", "Billing Status"),
        (2, "Invoicing", "Tax Code"),
    ]
    assert second.get("https://a globex", SCREENS) is loaded  # one object for both tenants


async def test_forgotten_and_replaced_entries_are_written_through(db: Database) -> None:
    clock = Clock()
    cache = ReadCache(StoredReads(db), clock=clock)
    await cache.load()
    cache.put("https://a acme", CODEBASE, CompanyInfo("v2025_1/", True), "2025.1")
    cache.put("https://a acme", SCREENS, CATALOGUE, "2025.1")
    await cache.flush()
    assert cache.seen_version("https://a acme", "2026.1")  # an upgrade: both forgotten
    cache.put("https://a acme", CODEBASE, CompanyInfo("v2026_1/", True), "2026.1")
    await cache.flush()
    rows = {(r.kind, r.version) for r in StoredReads(db).load(NOW)}
    assert rows == {(CODEBASE, "2026.1")}
    reloaded = ReadCache(StoredReads(db), clock=clock)
    await reloaded.load()
    assert reloaded.get("https://a acme", CODEBASE) == CompanyInfo("v2026_1/", True)
    assert reloaded.get("https://a acme", SCREENS) is None


async def test_expired_entries_are_not_loaded_and_are_pruned(db: Database) -> None:
    store = StoredReads(db)
    later = NOW + timedelta(hours=1)
    store.apply(
        [
            Entry(
                "https://a acme",
                CODEBASE,
                '{"codebase": "v2025_1/", "is_cloud": true}',
                None,
                later,
            ),
            Entry(
                "https://a old", CODEBASE, '{"codebase": "v2025_1/", "is_cloud": true}', None, NOW
            ),
        ],
        [],
        NOW - timedelta(days=1),
    )
    assert [r.tenant for r in store.load(NOW)] == ["https://a acme"]
    store.apply([], [], NOW)  # any write prunes what expired
    assert [r.tenant for r in store.load(NOW - timedelta(days=1))] == ["https://a acme"]


async def test_an_unreadable_row_is_ignored_and_read_from_connectwise_instead(db: Database) -> None:
    StoredReads(db).apply(
        [
            Entry("https://a acme", SCREENS, "[]", None, NOW + timedelta(hours=1)),
            Entry("https://a acme", CODEBASE, "not json", None, NOW + timedelta(hours=1)),
            Entry("https://a acme", "newer_kind", "{}", None, NOW + timedelta(hours=1)),
        ],
        [],
        NOW,
    )
    cache = ReadCache(StoredReads(db), clock=Clock())
    await cache.load()
    assert len(cache) == 0
