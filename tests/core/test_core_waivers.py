"""Waivers: an accepted deviation pins the actual value until it expires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from core_snapshots import NOW, SnapshotBuilder, findings_by_rule
from freezegun import freeze_time

from monitor.clock import utcnow
from monitor.core.findings import Status
from monitor.core.options import Waiver

RULE = "role-grants-invoicing-delete-all"
KEY = "permission.finance.invoicing.delete"


def _waiver(
    value: str | None, expires_in: timedelta = timedelta(days=30), rule: str = RULE
) -> Waiver:
    return Waiver(
        rule=rule,
        value=value,
        reason="client deletes invoices by hand",
        accepted_by="dana",
        expires=NOW + expires_in,
    )


@pytest.mark.parametrize(
    ("actual", "waivers", "status", "note"),
    [
        ("My", [_waiver("My")], Status.WAIVED, "waived until 2026-12-20 by dana"),
        ("None", [_waiver("My")], Status.FAIL, "accepts 'My' only, but the value is now 'None'"),
        ("My", [_waiver("My", timedelta(days=-1))], Status.FAIL, "expired on 2026-11-19"),
        ("My", [_waiver("My", timedelta(0))], Status.FAIL, "expired"),  # expiry is exclusive
        ("My", [_waiver("My", rule="include-sales-tax-is-on")], Status.FAIL, ""),
        ("My", [_waiver("None"), _waiver("My")], Status.WAIVED, "waived"),
        ("All", [_waiver("My")], Status.PASS, ""),  # a waiver never turns a pass into anything
    ],
)
def test_waiver(actual: str, waivers: list[Waiver], status: Status, note: str) -> None:
    snapshot = SnapshotBuilder().put({KEY: actual}).build()

    finding = findings_by_rule(snapshot, waivers=waivers)[RULE]

    assert finding.status is status
    assert note in finding.note
    assert finding.is_drift == (status is Status.FAIL)


def test_waiver_can_pin_not_set() -> None:
    tax_code = "role-customizes-invoicing-tax-code"  # an absent customize item is "not set"
    snapshot = SnapshotBuilder().put({"customize.invoicing/tax_code": None}).build()

    finding = findings_by_rule(snapshot, waivers=[_waiver("not set", rule=tax_code)])[tax_code]

    assert finding.status is Status.WAIVED


def test_a_permission_row_not_listed_is_unknown_and_never_waived() -> None:
    snapshot = SnapshotBuilder().put({KEY: None}).build()

    finding = findings_by_rule(snapshot, waivers=[_waiver("not set")])[RULE]

    assert finding.status is Status.UNKNOWN


def test_unknown_is_never_waived_or_failed() -> None:
    snapshot = SnapshotBuilder().unknown("permission").build()

    finding = findings_by_rule(snapshot, waivers=[_waiver("My")])[RULE]

    assert finding.status is Status.UNKNOWN


def test_waiver_expiry_follows_the_clock_passed_in() -> None:
    snapshot = SnapshotBuilder().put({KEY: "My"}).build()
    waivers = [_waiver("My", timedelta(days=1))]

    with freeze_time(NOW + timedelta(hours=23)):
        before = findings_by_rule(snapshot, waivers=waivers, now=utcnow())[RULE]
    with freeze_time(NOW + timedelta(days=2)):
        after = findings_by_rule(snapshot, waivers=waivers, now=utcnow())[RULE]

    assert (before.status, after.status) == (Status.WAIVED, Status.FAIL)
