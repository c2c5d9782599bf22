"""Accepted deviations: the database log, the merge with config waivers, and real checks.

Real checks (simulator over HTTP, jobs.check_many, SQLite, a local Slack endpoint) show the
product promise: a waiver pins one value; another value fails again and alerts; so does expiry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.core.baseline import load_baseline
from monitor.core.evaluate import evaluate
from monitor.core.findings import Status
from monitor.core.options import Waiver
from monitor.data import bundled_file
from monitor.errors import ConfigError
from monitor.jobs.check import TenantResult, check_many
from monitor.jobs.deliver import dispatch
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app
from monitor.store.database import Database
from monitor.store.history import snapshot_at
from monitor.store.report_reads import weekly_report
from monitor.store.waivers import (
    add_waiver,
    effective_waivers,
    list_waivers,
    remove_waiver,
    waiver_events,
)

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
LATER = datetime(2026, 12, 31, tzinfo=UTC)
RULES = {r.id for r in load_baseline(None).rules}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database: a tmp SQLite file, or a fresh PostgreSQL database dropped after."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/waivers.db")
        database.migrate()
        yield database
        database.dispose()
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    name = f"cwdrift_waivers_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        database = Database(base.set(database=name).render_as_string(hide_password=False))
        database.migrate()
        yield database
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class Tenant:
    """A config tenant as effective_waivers sees it."""

    def __init__(self, tenant_id: str, waivers: tuple[Waiver, ...] = ()) -> None:
        self.id = tenant_id
        self.name = tenant_id.title()
        self.waivers = waivers


def add(db: Database, **overrides: object) -> Waiver:
    values: dict[str, object] = {
        "tenant_id": "acme",
        "rule": "include-cogs-entries-is-on",
        "value": "off",
        "reason": "COGS moves to the ERP",
        "accepted_by": "cfo@acme.example",
        "expires": LATER,
        "now": NOW,
        "known_rules": RULES,
    }
    values.update(overrides)
    with db.session() as session:
        return add_waiver(session, **values)  # type: ignore[arg-type]


def test_add_replace_remove_are_logged_with_who_and_when(db: Database) -> None:
    add(db)
    add(
        db,
        value="on",
        reason="changed my mind",
        accepted_by="ceo@acme.example",
        now=datetime(2026, 11, 5, tzinfo=UTC),
    )
    with db.session() as session:
        (stored,) = list_waivers(session, [], "acme")
        assert (stored.waiver.value, stored.waiver.accepted_by, stored.source) == (
            "on",
            "ceo@acme.example",
            "database",
        )
        remove_waiver(
            session, tenant_id="acme", rule="include-cogs-entries-is-on", by="auditor", now=LATER,
            note="no longer needed",
        )  # fmt: skip
    with db.session() as session:
        assert list_waivers(session, [], "acme") == []
        events = [(e.action, e.actor, e.waiver.value, e.note) for e in waiver_events(session)]
    assert events == [
        ("added", "cfo@acme.example", "off", ""),
        ("replaced", "ceo@acme.example", "on", ""),
        ("removed", "auditor", "on", "no longer needed"),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rule": "transfer-expenses-is-off-typo"}, "no rule 'transfer-expenses-is-off-typo'"),
        ({"expires": NOW}, "would already have expired"),
        ({"reason": ""}, "invalid waiver: reason"),
        ({"accepted_by": ""}, "invalid waiver: accepted_by"),
    ],
)
def test_invalid_waivers_are_refused_with_the_fix(
    db: Database, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        add(db, **overrides)
    assert message in str(caught.value)
    assert caught.value.fix
    with db.session() as session:
        assert waiver_events(session) == []  # a refused waiver leaves no trace


def test_removing_a_missing_waiver_names_the_listing_command(db: Database) -> None:
    with db.session() as session, pytest.raises(ConfigError) as caught:
        remove_waiver(session, tenant_id="acme", rule="include-cogs-entries-is-on", by="x", now=NOW)
    assert "cwdrift waivers --tenant acme" in str(caught.value)


def test_effective_waivers_merge_config_and_database_including_expired(db: Database) -> None:
    from_config = Waiver(
        rule="accounting-package-is-other",
        value="QB99",
        reason="migration",
        accepted_by="ana",
        expires=datetime(2026, 1, 1, tzinfo=UTC),  # expired: still passed, the engine says so
    )
    add(db)
    add(db, tenant_id="globex")  # another tenant's waiver is not acme's
    with db.session() as session:
        merged = effective_waivers(session, Tenant("acme", (from_config,)), NOW)
    assert [(w.rule, w.value, w.accepted_by) for w in merged] == [
        ("accounting-package-is-other", "QB99", "ana"),
        ("include-cogs-entries-is-on", "off", "cfo@acme.example"),
    ]


# -- real checks --------------------------------------------------------------------------------

CONFIG = """
database: sqlite:///{db}
tenants:
  - id: initech
    name: Initech
    site: {site}
    company_id: initech
    public_key: initechpub00001
    private_key: fake-initech-private-key-0001
    client_id: 00000000-0000-4000-8000-000000000001
    integration_member: GozyntaAPI
    waivers:
      - rule: role-grants-invoicing-delete-all
        value: "None"
        reason: invoices are never deleted at Initech
        accepted_by: controller@initech.example
        expires: 2026-11-20T00:00:00Z
notify:
  slack:
    - name: ops
      webhook_url: {slack}/services/T0/B0/waivers
"""
RULE = "role-grants-invoicing-delete-all"


def _check(rt: Runtime, at: str) -> TenantResult:
    with freeze_time(at, real_asyncio=True):

        async def cycle() -> TenantResult:
            (result,) = await check_many(rt, rt.config.tenants)
            await rt.aclose()
            await dispatch(rt)
            return result

        return asyncio.run(cycle())


def _finding(result: TenantResult) -> tuple[Status, str | None, str]:
    (finding,) = [f for f in result.findings if f.rule_id == RULE]
    return finding.status, finding.actual, finding.note


def test_pinned_value_changed_value_and_expiry_through_real_checks(tmp_path: Path) -> None:
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    sink = SlackSink()
    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack:
        config = tmp_path / "cwdrift.yaml"
        config.write_text(CONFIG.format(db=tmp_path / "w.db", site=sim.url, slack=slack))
        rt = Runtime.open(load_config(config))

        # Pinned value: Delete is "None", exactly what was accepted -> waived, nobody paged.
        status, actual, note = _finding(_check(rt, "2026-11-02T09:00:00Z"))
        assert (status, actual) == (Status.WAIVED, "None")
        assert "controller@initech.example" in note
        assert sink.texts() == []

        # Someone changes it to "My": still wrong, but not what was accepted -> fails, alerts.
        with freeze_time("2026-11-05T08:00:00Z"):
            sim.state.set_permission("initech", "Gozynta API", "Finance", "Invoicing", delete="My")
        status, actual, note = _finding(_check(rt, "2026-11-05T09:00:00Z"))
        assert (status, actual) == (Status.FAIL, "My")
        assert "accepts 'None' only" in note
        assert len(sink.messages) == 1 and "initech" in sink.texts()[0].lower()

        # Back to the accepted value -> waived again (the alert resolves as accepted deviation).
        with freeze_time("2026-11-06T08:00:00Z"):
            sim.state.set_permission(
                "initech", "Gozynta API", "Finance", "Invoicing", delete="None"
            )
        assert _finding(_check(rt, "2026-11-06T09:00:00Z"))[0] is Status.WAIVED
        assert len(sink.messages) == 2

        # Expiry: nothing changed in ConnectWise, but the acceptance ran out -> fails and alerts.
        status, actual, note = _finding(_check(rt, "2026-11-20T09:00:00Z"))
        assert (status, actual) == (Status.FAIL, "None")
        assert "expired on 2026-11-20" in note
        assert len(sink.messages) == 3
        assert "regressed" in str(sink.messages[-1]).lower()

        # The report lists the waiver while it is in force (expiring soon), not after.
        with rt.db.session() as session:
            week46 = weekly_report(
                session,
                since=datetime(2026, 11, 9, tzinfo=UTC),
                until=datetime(2026, 11, 16, tzinfo=UTC),
                tenants=rt.config.tenants,
                now=datetime(2026, 11, 16, 8, tzinfo=UTC),
            )
            week47 = weekly_report(
                session,
                since=datetime(2026, 11, 16, tzinfo=UTC),
                until=datetime(2026, 11, 23, tzinfo=UTC),
                tenants=rt.config.tenants,
                now=datetime(2026, 11, 23, 8, tzinfo=UTC),
            )
        assert [(w.rule, w.expiring_soon, w.source) for w in week46.waivers] == [
            (RULE, True, "config")
        ]
        assert week46.violations == ()  # waived counts as compliant...
        assert week46.tenants[0].score.passing == week46.tenants[0].score.applicable
        assert week47.waivers == ()  # ...until it expired
        assert [(v.rule_id, v.first_failed_at) for v in week47.violations] == [
            (RULE, datetime(2026, 11, 20, 9, tzinfo=UTC))
        ]
        assert [e.rule_id for e in week47.regressed] == [RULE]
        rt.db.dispose()


def test_database_waiver_is_honoured_by_the_engine_on_a_stored_snapshot(tmp_path: Path) -> None:
    """`cwdrift waive` rows reach evaluate through effective_waivers, exactly like config ones."""
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(SlackSink())) as slack:
        config = tmp_path / "cwdrift.yaml"
        text_ = CONFIG.format(db=tmp_path / "w.db", site=sim.url, slack=slack)
        config.write_text(text_.split("    waivers:")[0] + "notify: {}\n")
        rt = Runtime.open(load_config(config))
        _check(rt, "2026-11-02T09:00:00Z")
        (tenant,) = rt.config.tenants
        with rt.db.session() as session:
            add_waiver(
                session, tenant_id="initech", rule=RULE, value="None", reason="accepted",
                accepted_by="ana", expires=datetime(2026, 11, 20, tzinfo=UTC), now=NOW,
            )  # fmt: skip
        with rt.db.session() as session:
            snapshot = snapshot_at(session, "initech", datetime(2026, 11, 3, tzinfo=UTC))
            assert snapshot is not None
            before = effective_waivers(session, tenant, datetime(2026, 11, 3, tzinfo=UTC))
        for now, expected in [
            (datetime(2026, 11, 3, tzinfo=UTC), Status.WAIVED),
            (datetime(2026, 11, 20, tzinfo=UTC), Status.FAIL),  # expired at exactly its expiry
        ]:
            findings = evaluate(rt.baseline, snapshot, tenant.options, before, now)
            assert {f.rule_id: f.status for f in findings}[RULE] is expected
        rt.db.dispose()


def test_waiver_tables_match_migration_0004(db: Database) -> None:
    """waiver_tables.py and 0004_waivers describe the same schema (autogenerate finds nothing)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import MetaData
    from sqlmodel import SQLModel

    import monitor.store.waiver_tables  # noqa: F401  (registers the tables)

    mine = {"waiver", "waiver_event"}
    ours = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        if table.name in mine:
            table.to_metadata(ours)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name in mine,
            },
        )
        assert compare_metadata(context, ours) == []
