"""A multi-week history built by REAL checks: the simulator over HTTP, jobs.check_many, a real DB.

The story (all times UTC; the report under test is 2026-W47 = [11-16 00:00, 11-23 00:00)):

    11-02 09:00  check: acme compliant; globex "Transfer Expenses as a Bill" on (critical);
                 initech lacks Invoicing Delete (high); umbrella's key is revoked (auth error)
    11-09 09:00  check: nothing changed
    11-17 08:30  in ConnectWise, jsmith turns acme's "Include Sales Tax" off and mwilson turns
                 globex's "Transfer Expenses as a Bill" off (the fix)
    11-17 10:00  check: acme new violation, globex resolved after 15d 1h
    11-18 09:00  ana accepts a deviation for globex in the DB and silences initech's rule
    11-19 11:00  jsmith turns globex's flag back on
    11-19 12:00  check: globex regressed
    11-23 00:00  mwilson fixes initech; check exactly at the period end (belongs to W48)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from freezegun import freeze_time

from monitor.core.findings import Severity, Status
from monitor.data import bundled_file
from monitor.jobs.check import TenantResult, check_many
from monitor.jobs.runtime import Runtime
from monitor.reports.model import WeeklyReport
from monitor.settings import LoadedConfig, load_config
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator
from monitor.store.database import Database
from monitor.store.report_reads import weekly_report
from monitor.store.silences import add_silence
from monitor.store.waivers import add_waiver

WEEK = "2026-W47"
SINCE = datetime(2026, 11, 16, tzinfo=UTC)
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
GENERATED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

CONFIG = """
database: {database}
tenants:
{tenants}
notify:
  silences:
    - {{tenant: umbrella, rule: null, reason: keys being rotated, author: ana,
        expires: 2026-11-28T00:00:00Z}}
report:
  timezone: UTC
"""

TENANT = """  - id: {id}
    name: {name}
    site: {site}
    company_id: {id}
    public_key: {public}
    private_key: {private}
    client_id: 00000000-0000-4000-8000-000000000001
    integration_member: GozyntaAPI
"""

ACME_WAIVER = """    waivers:
      - rule: include-cogs-entries-is-on
        value: "off"
        reason: COGS moves to the ERP in Q1
        accepted_by: cfo@acme.example
        expires: 2026-12-01T00:00:00Z
"""

KEYS = {
    "acme": ("Acme Corporation", "acmepub00000001", "fake-acme-private-key-0001"),
    "globex": ("Globex Corporation", "globexpub000001", "fake-globex-private-key-0001"),
    "initech": ("Initech", "initechpub00001", "fake-initech-private-key-0001"),
    # Not the key the simulator knows: every check of umbrella fails authentication.
    "umbrella": ("Umbrella Corporation", "umbrellapub0001", "revoked-umbrella-private-key"),
}


@dataclass
class History:
    loaded: LoadedConfig
    config_file: Path
    database: str
    applicable: dict[str, int]  # rules each tenant is scored on (from the first real check)
    first_results: dict[str, TenantResult]


def write_config(path: Path, database: str, site: str) -> Path:
    tenants = ""
    for tenant_id, (name, public, private) in KEYS.items():
        tenants += TENANT.format(id=tenant_id, name=name, site=site, public=public, private=private)
        if tenant_id == "acme":
            tenants += ACME_WAIVER
    path.write_text(CONFIG.format(database=database, tenants=tenants), encoding="utf-8")
    return path


def _check_all(loaded: LoadedConfig, at: str) -> list[TenantResult]:
    with freeze_time(at, real_asyncio=True):
        rt = Runtime.open(loaded)
        try:
            return asyncio.run(_checked_and_closed(rt))
        finally:
            rt.db.dispose()


async def _checked_and_closed(rt: Runtime) -> list[TenantResult]:
    async with rt:
        return await check_many(rt, rt.config.tenants)


def build_history(workdir: Path, database: str) -> History:
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    with running_simulator(scenario) as sim:
        config_file = write_config(workdir / "cwdrift.yaml", database, sim.url)
        loaded = load_config(config_file)
        first = {r.tenant_id: r for r in _check_all(loaded, "2026-11-02T09:00:00Z")}
        _check_all(loaded, "2026-11-09T09:00:00Z")
        with freeze_time("2026-11-17T08:30:00Z"):
            sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
            sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")
        _check_all(loaded, "2026-11-17T10:00:00Z")
        with freeze_time("2026-11-18T09:00:00Z"):
            rt = Runtime.open(loaded)
            now = datetime(2026, 11, 18, 9, tzinfo=UTC)
            with rt.db.session() as session:
                add_waiver(
                    session,
                    tenant_id="globex",
                    rule="inventory-soh-option-is-on",
                    value="off",
                    reason="SOH tracked in the warehouse system",
                    accepted_by="ana@msp.example",
                    expires=datetime(2027, 6, 30, tzinfo=UTC),
                    now=now,
                )
                add_silence(
                    session,
                    tenant="initech",
                    rule="role-grants-invoicing-delete-all",
                    reason="role rebuild scheduled",
                    author="ana",
                    expires=datetime(2026, 11, 30, tzinfo=UTC),
                    now=now,
                )
            rt.db.dispose()
        with freeze_time("2026-11-19T11:00:00Z"):
            sim.state.set_accounting("globex", "transferExpensesAsBillFlag", True, by="jsmith")
        _check_all(loaded, "2026-11-19T12:00:00Z")
        with freeze_time("2026-11-22T23:00:00Z"):
            sim.state.set_permission(
                "initech", "Gozynta API", "Finance", "Invoicing", delete="All", by="mwilson"
            )
        _check_all(loaded, "2026-11-23T00:00:00Z")
    applicable = {
        tenant_id: sum(
            1
            for f in result.findings
            if f.status is not Status.UNKNOWN and f.severity is not Severity.WARNING
        )
        for tenant_id, result in first.items()
    }
    return History(loaded, config_file, database, applicable, first)


def weekly(history: History) -> WeeklyReport:
    """The 2026-W47 report of ``history``, built from its database."""
    db = Database(history.database)
    try:
        with db.session() as session:
            return weekly_report(
                session,
                since=SINCE,
                until=UNTIL,
                tenants=history.loaded.config.tenants,
                now=GENERATED,
                label=WEEK,
                config_silences=history.loaded.config.notify.silences,
            )
    finally:
        db.dispose()
