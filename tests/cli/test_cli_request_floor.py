"""Two consecutive ``cwdrift check`` runs: the first reads what it must (8 requests a tenant),
the second, a new process as far as cwdrift knows (a new runtime, the cache loaded from the
store), reads only what can change a verdict (5) and judges the same."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from request_floor import FLOOR
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.simulator.fleet_config import write_fleet_config
from monitor.simulator.scenario import fleet_company_id, generate_fleet
from monitor.simulator.server import RunningSimulator, running_simulator

TENANTS = 3


def check_run(config: Path, sim: RunningSimulator) -> tuple[dict[str, Counter[str]], object]:
    """One ``cwdrift check --json``: the requests each company received, and the findings."""
    sim.state.clear_requests()
    result = CliRunner().invoke(app, ["--config", str(config), "check", "--json"])
    assert result.exit_code in (0, 1), result.output
    per_company: dict[str, Counter[str]] = {}
    for request in sim.state.requests:
        per_company.setdefault(request.company_id or "", Counter())[request.path] += 1
    tenants = json.loads(result.stdout)["tenants"]
    return per_company, [(t["tenant"], t["status"], t["findings"]) for t in tenants]


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_second_cli_check_is_at_the_request_floor(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path}/cwdrift.db"
        if database == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    with running_simulator(generate_fleet(TENANTS, seed=4)) as sim:
        config = write_fleet_config(tmp_path / "cwdrift.yaml", TENANTS, sim.url, url)
        first, cold = check_run(config, sim)
        second, warm = check_run(config, sim)
    for index in range(TENANTS):
        company = fleet_company_id(index)
        role_id = sim.state.tenant(company).member("GozyntaAPI").role_id
        assert first[company] == Counter(
            [
                *FLOOR,
                f"/login/companyinfo/{company}",
                "/system/setupScreens",
                f"/system/securityroles/{role_id}",
            ]
        )
        assert second[company] == Counter(FLOOR)
    assert warm == cold
