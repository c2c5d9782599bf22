"""snapshots_in_force: every tenant's configuration at a time in one read, on both engines."""

from __future__ import annotations

from store_builders import BASE, at, changed, check, snapshot

from monitor.store.database import Database
from monitor.store.history import snapshot_at, snapshots_in_force


def test_each_tenants_configuration_in_force_agrees_with_snapshot_at(db: Database) -> None:
    # acme changes at minute 15 and changes back at 30 (a new row with the old content);
    # globex is read once; initech is never read successfully.
    check(db, 0, snapshot(at(0), BASE))
    check(db, 15, snapshot(at(15), changed(BASE, accounting__package="QuickBooks")))
    check(db, 30, snapshot(at(30), BASE))
    check(db, 5, snapshot(at(5), BASE, tenant="globex"), tenant="globex", name="Globex")
    check(db, 5, None, tenant="initech", name="Initech")
    tenants = ["acme", "globex", "initech", "hooli"]  # hooli: configured, never checked
    for when, expected in [
        (None, {"acme": at(30), "globex": at(5)}),
        (at(20), {"acme": at(15), "globex": at(5)}),
        (at(4), {"acme": at(0)}),
        (at(-1), {}),
    ]:
        with db.session() as session:
            found = list(snapshots_in_force(session, tenants, when))
            assert {s.tenant_id: s.observed_at for s in found} == expected
            for stored in found:
                moment = when or at(10_000)
                assert stored.snapshot == snapshot_at(session, stored.tenant_id, moment)
    with db.session() as session:
        only = [s.tenant_id for s in snapshots_in_force(session, ["globex"])]
    assert only == ["globex"]
