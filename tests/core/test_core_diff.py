"""diff(previous, current): every setting that moved, and sections that became (un)readable."""

from __future__ import annotations

from core_snapshots import SnapshotBuilder

from monitor.core.evaluate import SECTION_READ, SECTION_UNKNOWN, diff
from monitor.core.findings import Change

BILL = "accounting.transferExpensesAsBillFlag"


def test_first_observation_is_not_a_change() -> None:
    assert diff(None, SnapshotBuilder().build()) == []


def test_identical_snapshots_have_no_changes() -> None:
    assert diff(SnapshotBuilder().build(), SnapshotBuilder().build()) == []


def test_changed_added_and_removed_settings_sorted_by_key() -> None:
    previous = (
        SnapshotBuilder()
        .put({"gl.segment2": "Tracking 1"})
        .changed_by("gl.segment2", "bob", "2026-11-01T09:00:00Z")
        .build()
    )
    current = (
        SnapshotBuilder()
        .put({BILL: True, "permission.system.security_roles.edit": "All"})
        .changed_by(BILL, "admin1", "2026-11-19T15:22:10Z")
        .build()
    )

    assert diff(previous, current) == [
        Change(BILL, BILL, False, True, "admin1", "2026-11-19T15:22:10Z"),
        # removed: who/when come from the previous record, the last one seen
        Change("gl.segment2", "gl.segment2", "Tracking 1", None, "bob", "2026-11-01T09:00:00Z"),
        # not a baseline setting: still reported
        Change(
            "permission.system.security_roles.edit",
            "permission.system.security_roles.edit",
            None,
            "All",
        ),
    ]


def test_non_baseline_setting_change_is_reported() -> None:
    previous = SnapshotBuilder().build()
    current = SnapshotBuilder().put({"accounting.includeInvoicesFlag": False}).build()

    assert [(c.key, c.old, c.new) for c in diff(previous, current)] == [
        ("accounting.includeInvoicesFlag", True, False)
    ]


def test_a_flag_turning_into_a_number_is_a_change() -> None:
    previous = SnapshotBuilder().put({"accounting.someFlag": True}).build()
    current = SnapshotBuilder().put({"accounting.someFlag": 1}).build()

    assert [(c.old, c.new) for c in diff(previous, current)] == [(True, 1)]


def test_section_becoming_unknown_is_one_change_not_many_removals() -> None:
    previous = SnapshotBuilder().build()
    current = SnapshotBuilder().unknown("customize", "auditor keys cannot read it").build()

    assert diff(previous, current) == [
        Change(
            "customize",
            "customize section could not be read: auditor keys cannot read it",
            SECTION_READ,
            SECTION_UNKNOWN,
        )
    ]


def test_section_known_again_is_one_change() -> None:
    previous = SnapshotBuilder().unknown("gl").build()
    current = SnapshotBuilder().put({"gl.segment2": "Tracking 1"}).build()

    assert diff(previous, current) == [
        Change("gl", "gl section can be read again", SECTION_UNKNOWN, SECTION_READ)
    ]


def test_section_unknown_in_both_hides_nothing_else() -> None:
    previous = SnapshotBuilder().unknown("customize").build()
    current = SnapshotBuilder().unknown("customize").put({BILL: True}).build()

    assert [c.key for c in diff(previous, current)] == [BILL]


def test_a_setting_becoming_unknown_is_one_change_not_a_new_value() -> None:
    previous = SnapshotBuilder().build()
    why = "ConnectWise returned null for transferExpensesAsBillFlag"
    current = SnapshotBuilder().unknown(BILL, why).put({"accounting.includeInvoicesFlag": False})

    assert diff(previous, current.build()) == [
        Change("accounting.includeInvoicesFlag", "accounting.includeInvoicesFlag", True, False),
        Change(BILL, f"{BILL} could not be read: {why}", SECTION_READ, SECTION_UNKNOWN),
    ]


def test_a_setting_read_again_is_one_change() -> None:
    previous = SnapshotBuilder().unknown(BILL, "null").build()
    current = SnapshotBuilder().put({BILL: True}).build()

    assert diff(previous, current) == [
        Change(BILL, f"{BILL} can be read again", SECTION_UNKNOWN, SECTION_READ)
    ]
