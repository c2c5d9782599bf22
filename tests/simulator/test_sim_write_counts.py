"""Write counts: every POST/PUT/PATCH/DELETE API request, per tenant, documented endpoint and
method, in process and through ``/_sim/writes``, so a test can assert "0 writes in a dry run"."""

from __future__ import annotations

import httpx
from sim_support import (
    ACME,
    ACME_AUDITOR,
    GLOBEX_FIX,
    INITECH_FIX,
    NORTHWIND,
    Keys,
    get,
    patch,
    post,
    replace,
)

from monitor.simulator.server import RunningSimulator

READS = (
    "/system/info",
    "/system/apiMembers",
    "/system/mySecurity",
    "/system/mySecurity/customizeItems/",
    "/finance/accountingPackageSetup",
    "/finance/accountingPackageSetup/1",
    "/finance/glCaptions/count",
)


def test_reads_are_never_counted(sim: RunningSimulator, http: httpx.Client) -> None:
    for path in READS:
        get(http, sim, path, ACME)
        get(http, sim, path, ACME_AUDITOR)
    get(http, sim, "/service/tickets", NORTHWIND)
    http.head(sim.api_url("acme") + "/system/info", headers=ACME.headers())
    assert sim.state.writes() == 0
    assert http.get(f"{sim.url}/_sim/writes").json() == {"total": 0, "writes": []}


def test_every_write_attempt_is_counted_whatever_its_outcome(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    patch(http, sim, "/finance/accountingPackageSetup/1", [replace("invoiceFormat", "Detailed")])
    patch(http, sim, "/finance/accountingPackageSetup/1", [replace("nope", 1)])  # 400
    patch(http, sim, "/finance/accountingPackageSetup/1", [], INITECH_FIX)  # 403
    patch(http, sim, "/system/apiMembers/301", [], Keys("initech", "initechfix00001", "x"))  # 401
    http.put(sim.api_url("globex") + "/system/securityRoles/20/settings/9001", json={})  # 401/405
    ticket = post(
        http,
        sim,
        "/service/tickets",
        {"summary": "s", "company": {"id": 251}, "board": {"id": 12}},
    ).json()["id"]
    post(http, sim, f"/service/tickets/{ticket}/notes", {"text": "n", "resolutionFlag": True})
    http.patch(sim.api_url("northwind") + "/anything", json=[])  # no credentials

    assert sim.state.write_counts() == [
        {"company_id": None, "endpoint": "/anything", "method": "PATCH", "count": 1},
        {"company_id": None, "endpoint": "/system/securityRoles/{parentId}/settings/{id}",
         "method": "PUT", "count": 1},
        {"company_id": "globex", "endpoint": "/finance/accountingPackageSetup/{id}",
         "method": "PATCH", "count": 2},
        {"company_id": "initech", "endpoint": "/finance/accountingPackageSetup/{id}",
         "method": "PATCH", "count": 1},
        {"company_id": "initech", "endpoint": "/system/apiMembers/{id}",
         "method": "PATCH", "count": 1},
        {"company_id": "northwind", "endpoint": "/service/tickets", "method": "POST", "count": 1},
        {"company_id": "northwind", "endpoint": "/service/tickets/{parentId}/notes",
         "method": "POST", "count": 1},
    ]  # fmt: skip
    assert sim.state.writes("GLOBEX") == 2
    assert sim.state.writes("initech", method="patch") == 2
    assert sim.state.writes(endpoint="/service/tickets") == 1
    assert sim.state.writes() == 8


def test_the_control_api_reports_and_clears_write_counts(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    patch(http, sim, "/finance/glCaptions/1", [replace("segment2type", "Class")], GLOBEX_FIX)
    post(http, sim, "/service/tickets", {})
    for_globex = http.get(f"{sim.url}/_sim/writes", params={"company_id": "globex"}).json()
    everything = http.get(f"{sim.url}/_sim/writes").json()
    cleared = http.delete(f"{sim.url}/_sim/writes")

    assert for_globex == {
        "total": 1,
        "writes": [
            {
                "company_id": "globex",
                "endpoint": "/finance/glCaptions/{id}",
                "method": "PATCH",
                "count": 1,
            }
        ],
    }
    assert everything["total"] == 2
    assert cleared.json() == {"ok": True}
    assert sim.state.writes() == 0


def test_reset_clears_write_counts(sim: RunningSimulator, http: httpx.Client) -> None:
    patch(http, sim, "/finance/glCaptions/1", [], GLOBEX_FIX)
    http.post(f"{sim.url}/_sim/reset")
    assert sim.state.writes() == 0
