"""The outbox and dispatcher on real SQLite and PostgreSQL: atomic, lossless, never doubled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alert_builders import ACME, EXPENSE_RULE, T0, finding, hours, policy, revoked_keys
from alert_db import enqueue, outbox
from alert_servers import SlackEndpoint
from sqlmodel import select

from monitor.alerts.channels import build_channels
from monitor.alerts.config import NotifyConfig
from monitor.alerts.model import COLLECTION_KEY, AlertState, AlertStatus, TenantRef
from monitor.core.findings import Severity, Status
from monitor.errors import CwdriftError
from monitor.jobs.check import queue_alerts
from monitor.jobs.deliver import LEASE, dispatch_pending
from monitor.store.alert_tables import AlertStateRow, OutboxMessage
from monitor.store.database import Database
from monitor.store.outbox import channel_status, load_states, open_alerts, save_states
from monitor.store.silences import add_silence, expire_silence, list_silences


def two_channels(slack: SlackEndpoint) -> NotifyConfig:
    return policy(
        slack=[
            {"name": "ops", "webhook_url": slack.webhook_url("okops")},
            {"name": "pager", "webhook_url": slack.webhook_url("okpager")},
        ],
        routes=[{"channels": ["pager"], "min_severity": "critical"}, {"channels": ["ops"]}],
    )


def mark_sending(db: Database, claimed_at: object) -> None:
    with db.session() as session:
        for row in session.exec(select(OutboxMessage)):
            row.status = "sending"
            row.claimed_at = claimed_at  # type: ignore[assignment]
            row.attempts = 1
            session.add(row)


async def test_crash_between_claim_and_send_is_resent_once_after_the_lease(
    db: Database, slack: SlackEndpoint
) -> None:
    config = two_channels(slack)
    enqueue(db, config)
    mark_sending(db, T0 - LEASE - timedelta(seconds=1))  # a dispatcher died mid-send

    report = await dispatch_pending(db, build_channels(config), T0, clock=lambda: T0)
    again = await dispatch_pending(db, build_channels(config), T0 + LEASE * 3)

    assert report.sent == 1 and again.sent == 0
    assert len(slack.bodies()) == 1
    (row,) = outbox(db)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_live_lease_is_left_alone(db: Database, slack: SlackEndpoint) -> None:
    config = two_channels(slack)
    enqueue(db, config)
    mark_sending(db, T0 - timedelta(minutes=1))  # another dispatcher is sending it right now

    busy = await dispatch_pending(db, build_channels(config), T0)
    expired = await dispatch_pending(db, build_channels(config), T0 + LEASE)

    assert busy.sent == 0
    assert expired.sent == 1
    assert len(slack.bodies()) == 1


async def test_rolled_back_check_leaves_no_alert_state_and_no_message(
    db: Database, slack: SlackEndpoint
) -> None:
    config = two_channels(slack)
    with pytest.raises(RuntimeError), db.session() as session:
        queue_alerts(
            session,
            tenant=ACME,
            findings=[finding()],
            error=None,
            changes=[],
            who={},
            now=T0,
            policy=config,
        )
        raise RuntimeError("the check's own write failed")
    assert outbox(db) == []
    with db.session() as session:
        assert list(session.exec(select(AlertStateRow))) == []


async def test_resolution_goes_to_the_channels_that_heard_the_opening(
    db: Database, slack: SlackEndpoint
) -> None:
    config = two_channels(slack)
    enqueue(db, config, findings=[finding(Status.FAIL)])  # critical -> pager only
    # The routes change: now everything goes to ops. The resolution still reaches pager.
    rerouted = policy(
        slack=[c.model_dump(mode="python") for c in config.slack],
        routes=[{"channels": ["ops"]}],
    )
    enqueue(db, rerouted, findings=[finding(Status.PASS)], now=hours(1))

    assert [(r.channel, r.summary.split("] ", 1)[1]) for r in outbox(db)] == [
        ("pager", "1 new, 0 resolved"),
        ("pager", "0 new, 1 resolved"),
    ]


async def test_cannot_verify_goes_out_once_through_the_outbox(
    db: Database, slack: SlackEndpoint
) -> None:
    config = two_channels(slack)
    for hour in range(5):
        enqueue(db, config, error=revoked_keys(), now=hours(hour))
    enqueue(db, config, findings=[finding(Status.PASS)], now=hours(6))

    rows = outbox(db)
    assert [r.summary for r in rows] == [
        "cwdrift: Acme MSP (acme) [high] 0 new, 0 resolved, cannot verify",
        "cwdrift: Acme MSP (acme) [resolved] 0 new, 0 resolved, readable again",
    ]
    assert [r.channel for r in rows] == ["ops", "ops"]


async def test_database_silences_mute_and_expire(db: Database, slack: SlackEndpoint) -> None:
    config = two_channels(slack)
    with db.session() as session:
        added = add_silence(
            session,
            tenant="acme",
            rule=EXPENSE_RULE,
            reason="moving to a new GL",
            author="ana",
            expires=hours(10),
            now=T0,
        )
        silence_id = added.id
    enqueue(db, config)
    assert outbox(db) == []
    with db.session() as session:
        (listed,) = list_silences(session, now=T0)
        assert (listed.author, listed.reason, listed.created_at) == (
            "ana",
            "moving to a new GL",
            T0,
        )
        assert silence_id is not None
        expire_silence(session, silence_id, now=hours(2))
        assert list_silences(session, now=hours(2)) == []
        assert len(list_silences(session, now=hours(2), include_expired=True)) == 1
    enqueue(db, config, now=hours(3))
    (row,) = outbox(db)
    assert row.channel == "pager"
    # lifted early at 11:00; the 12:00 check is the first to know it ended
    assert "Was silenced until 2026-03-02 12:00 UTC" in row.payload


def test_silence_validation_names_the_fix(db: Database) -> None:
    with db.session() as session, pytest.raises(CwdriftError, match="expired") as caught:
        add_silence(
            session, tenant="acme", rule=None, reason="r", author="a", expires=T0, now=hours(1)
        )
    assert "--expires" in caught.value.fix
    with db.session() as session, pytest.raises(CwdriftError, match="tenant, a rule"):
        add_silence(
            session, tenant=None, rule=None, reason="r", author="a", expires=hours(2), now=T0
        )


async def test_a_removed_channel_fails_its_messages_permanently(
    db: Database, slack: SlackEndpoint
) -> None:
    config = two_channels(slack)
    enqueue(db, config)

    report = await dispatch_pending(db, {}, T0, clock=lambda: T0)

    assert report.failed == 1
    (row,) = outbox(db)
    assert row.status == "failed"
    assert "no longer configured" in (row.last_error or "")


async def test_status_and_open_alerts_for_the_cli(db: Database, slack: SlackEndpoint) -> None:
    config = two_channels(slack)
    enqueue(db, config)
    enqueue(db, config, tenant=TenantRef("globex", "Globex"), findings=[finding(Status.PASS)])
    with db.session() as session:
        (health,) = channel_status(session)
        assert (health.channel, health.kind, health.pending) == ("pager", "slack", 1)
        (alert,) = open_alerts(session)
        assert (alert.tenant_id, alert.alert_key, alert.channels) == (
            "acme",
            EXPENSE_RULE,
            ("pager",),
        )
        assert load_states(session, "globex") == []
    await dispatch_pending(db, build_channels(config), T0, clock=lambda: T0)
    with db.session() as session:
        (health,) = channel_status(session)
        assert (health.pending, health.last_success_at, health.permanent_failure) == (0, T0, False)


def test_save_states_inserts_new_and_updates_stored_states_per_tenant(db: Database) -> None:
    def state(tenant: str, status: AlertStatus, channels: tuple[str, ...] = ()) -> AlertState:
        return AlertState(
            tenant_id=tenant,
            alert_key=COLLECTION_KEY,  # the same key for both tenants
            status=status,
            label=f"cannot verify tenant {tenant}",
            severity=Severity.HIGH,
            opened_at=T0,
            consecutive_failures=3,
            channels=channels,
        )

    with db.session() as session:
        save_states(session, [state("acme", AlertStatus.OPEN, ("ops",))])
    with db.session() as session:
        save_states(
            session, [state("acme", AlertStatus.RESOLVED), state("globex", AlertStatus.OPEN)]
        )
    with db.session() as session:
        assert load_states(session, "acme") == [state("acme", AlertStatus.RESOLVED)]
        assert load_states(session, "globex") == [state("globex", AlertStatus.OPEN)]


# -- PostgreSQL: several dispatchers ------------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_skips_rows_another_dispatcher_holds(
    pg_url: str, slack: SlackEndpoint
) -> None:
    first, second = Database(pg_url), Database(pg_url)
    try:
        first.migrate()
        config = two_channels(slack)
        for index in range(3):
            enqueue(first, config, tenant=TenantRef(f"t{index}", f"Tenant {index}"))
        channels = build_channels(config)
        with first.session() as holder:
            locked = holder.exec(select(OutboxMessage).with_for_update()).all()
            assert len(locked) == 3
            blocked = await dispatch_pending(second, channels, T0)
            assert blocked.sent == 0  # skipped, not waited on
        report = await dispatch_pending(second, channels, T0)
        assert report.sent == 3
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
async def test_postgres_concurrent_dispatchers_never_double_send(
    pg_url: str, slack: SlackEndpoint
) -> None:
    nodes = [Database(pg_url) for _ in range(3)]
    try:
        nodes[0].migrate()
        config = two_channels(slack)
        tenants = [TenantRef(f"t{index:02}", f"Tenant {index:02}") for index in range(30)]
        for tenant in tenants:
            enqueue(nodes[0], config, tenant=tenant)
        channels = build_channels(config)
        total = 0
        while True:
            reports = await asyncio.gather(
                *(dispatch_pending(node, channels, T0, limit=4) for node in nodes)
            )
            sent = sum(r.sent for r in reports)
            if sent == 0:
                break
            total += sent
        texts = sorted(body["text"] for body in slack.bodies())
        assert total == len(texts) == 30
        assert len(set(texts)) == 30
        assert all(row.status == "sent" and row.attempts == 1 for row in outbox(nodes[0]))
    finally:
        for node in nodes:
            node.dispose()


@pytest.mark.postgres
async def test_postgres_a_tenants_later_message_waits_while_another_dispatcher_sends_its_earlier(
    pg_url: str, slack: SlackEndpoint
) -> None:
    first, second = Database(pg_url), Database(pg_url)
    try:
        first.migrate()
        config = two_channels(slack)
        enqueue(first, config, findings=[finding(severity=Severity.LOW)])
        enqueue(first, config, findings=[finding(Status.PASS, severity=Severity.LOW)])
        channels = build_channels(config)
        with first.session() as holder:
            earliest = holder.exec(select(OutboxMessage).order_by(OutboxMessage.id)).first()
            assert earliest is not None
            holder.exec(
                select(OutboxMessage).where(OutboxMessage.id == earliest.id).with_for_update()
            ).one()
            blocked = await dispatch_pending(second, channels, T0)
            assert blocked.sent == 0  # the "resolved" does not overtake the "new" being sent
        report = await dispatch_pending(second, channels, T0)
        assert report.sent == 2
        assert [body["text"].rsplit("] ", 1)[1] for body in slack.bodies()] == [
            "1 new, 0 resolved",
            "0 new, 1 resolved",
        ]
    finally:
        first.dispose()
        second.dispose()
