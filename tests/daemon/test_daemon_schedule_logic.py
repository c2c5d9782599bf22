"""Pure scheduling decisions: what a reconcile changes, when a tenant first runs, cron reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.crontab import cron_trigger, crontab_weekdays
from monitor.daemon.scheduler import (
    ReconcilePlan,
    first_run_at,
    misfire_grace,
    plan_reconcile,
    validate_schedules,
)
from monitor.errors import ConfigError
from monitor.settings import Schedule

NOW = datetime(2030, 1, 9, 12, 0, tzinfo=UTC)  # a Wednesday
HOURLY = Schedule(every=timedelta(hours=1), jitter=timedelta(minutes=5))
TWO_HOURLY = Schedule(every=timedelta(hours=2), jitter=timedelta(minutes=5))
NIGHTLY = Schedule(cron="0 2 * * *", jitter=timedelta(minutes=5))


def no_spread(limit: float) -> float:
    return 0.0


def full_spread(limit: float) -> float:
    return limit


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ({}, {"a": HOURLY}, ReconcilePlan(add=("a",), replace=(), remove=())),
        ({"a": HOURLY}, {"a": HOURLY}, ReconcilePlan(add=(), replace=(), remove=())),
        # An equal but distinct Schedule object is no change: the job must keep its next run.
        (
            {"a": HOURLY},
            {"a": Schedule(every=timedelta(hours=1), jitter=timedelta(minutes=5))},
            ReconcilePlan(add=(), replace=(), remove=()),
        ),
        ({"a": HOURLY}, {"a": TWO_HOURLY}, ReconcilePlan(add=(), replace=("a",), remove=())),
        ({"a": HOURLY}, {"a": NIGHTLY}, ReconcilePlan(add=(), replace=("a",), remove=())),
        ({"a": HOURLY, "b": HOURLY}, {}, ReconcilePlan(add=(), replace=(), remove=("a", "b"))),
        (
            {"a": HOURLY, "b": HOURLY, "c": HOURLY},
            {"a": HOURLY, "b": TWO_HOURLY, "d": HOURLY},
            ReconcilePlan(add=("d",), replace=("b",), remove=("c",)),
        ),
    ],
)
def test_plan_reconcile(current, wanted, expected):
    assert plan_reconcile(current, wanted) == expected


@pytest.mark.parametrize(
    ("schedule", "last_check", "spread", "expected"),
    [
        # Never checked: soon, spread over the jitter.
        (HOURLY, None, no_spread, NOW),
        (HOURLY, None, full_spread, NOW + timedelta(minutes=5)),
        # Checked 10 minutes ago: the run that was due anyway, jitter not added again.
        (HOURLY, NOW - timedelta(minutes=10), full_spread, NOW + timedelta(minutes=50)),
        # Exactly due now counts as overdue.
        (HOURLY, NOW - timedelta(hours=1), no_spread, NOW),
        # Down for a day: one run soon, not 24 (the missed runs coalesce).
        (HOURLY, NOW - timedelta(days=1), full_spread, NOW + timedelta(minutes=5)),
        (TWO_HOURLY, NOW - timedelta(minutes=90), no_spread, NOW + timedelta(minutes=30)),
        # SQLite hands back naive datetimes: they are UTC.
        (
            HOURLY,
            (NOW - timedelta(minutes=10)).replace(tzinfo=None),
            no_spread,
            NOW + timedelta(minutes=50),
        ),
        # Cron: checked last night at 02:03 (jitter), next slot tomorrow 02:00.
        (
            NIGHTLY,
            datetime(2030, 1, 9, 2, 3, tzinfo=UTC),
            full_spread,
            datetime(2030, 1, 10, 2, 0, tzinfo=UTC),
        ),
        # Cron: the daemon was down over last night's slot: run soon, once.
        (NIGHTLY, datetime(2030, 1, 8, 2, 3, tzinfo=UTC), no_spread, NOW),
        (NIGHTLY, None, full_spread, NOW + timedelta(minutes=5)),
    ],
)
def test_first_run_derives_from_last_check(schedule, last_check, spread, expected):
    assert first_run_at(schedule, last_check, NOW, spread=spread) == expected


def test_overdue_tenants_are_spread_within_the_jitter():
    runs = {first_run_at(HOURLY, None, NOW) for _ in range(50)}
    assert all(NOW <= run <= NOW + timedelta(minutes=5) for run in runs)
    assert len(runs) > 1  # spread, not a stampede at one instant


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1", "mon"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0-6", "*"),
        ("6,0", "sun,sat"),
        ("sat,sun", "sun,sat"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-1", "sun,mon,fri,sat"),  # wraps past Sunday
        ("*/2", "sun,tue,thu,sat"),  # crontab counts steps from Sunday
        ("1-5/2", "mon,wed,fri"),
    ],
)
def test_crontab_weekdays_are_read_as_crontab_does(field, expected):
    assert crontab_weekdays(field) == expected


@pytest.mark.parametrize("field", ["8", "funday", "1-", "*/0", ""])
def test_crontab_weekdays_rejects_nonsense(field):
    with pytest.raises(ValueError):
        crontab_weekdays(field)


def test_cron_weekday_one_is_monday_not_apschedulers_tuesday():
    trigger = cron_trigger("0 8 * * 1", UTC, jitter=None)
    fire = trigger.get_next_fire_time(None, NOW)
    assert fire == datetime(2030, 1, 14, 8, 0, tzinfo=UTC)
    assert fire.strftime("%A") == "Monday"


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        (HOURLY, 1800),
        (TWO_HOURLY, 3600),
        (Schedule(cron="*/10 * * * *"), 300),
        (NIGHTLY, 43200),
    ],
)
def test_misfire_grace_is_half_the_interval(schedule, seconds):
    assert misfire_grace(schedule) == seconds


def test_an_invalid_cron_names_the_tenant_and_the_fix():
    # The config loader rejects it first; this is the scheduler's own guard.
    bad = Schedule.model_construct(cron="61 * * * *", every=None, jitter=timedelta(0))
    schedules = {"good": HOURLY, "acme": bad}
    with pytest.raises(ConfigError) as caught:
        validate_schedules(schedules)
    message = str(caught.value)
    assert "acme" in message
    assert "schedule.cron" in message
    assert "fix:" in message
