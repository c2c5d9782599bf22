"""A config for the ticket CLI tests: demo tenants checked against the simulator, and a ticket
channel filing into the demo's MSP tenant (``northwind``) on the same simulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.data import bundled_file
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator

CLIENT_ID = "00000000-0000-4000-8000-000000000001"
MSP = "northwind"
# The simulator's obviously fake demo keys (config/scenarios/demo.yaml).
ACME_KEYS = ("acmepub00000001", "fake-acme-private-key-0001")
GLOBEX_KEYS = ("globexpub000001", "fake-globex-private-key-0001")


def tenant(company_id: str, name: str, keys: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "id": company_id,
        "name": name,
        "site": "${CWDRIFT_SIM_URL}",
        "company_id": company_id,
        "public_key": keys[0],
        "private_key": keys[1],
        "client_id": CLIENT_ID,
        "integration_member": "GozyntaAPI",
        **extra,
    }


def ticket_config(path: Path, **channel: Any) -> Path:
    """acme (compliant) and globex (critical drift), both filed under their own companies."""
    data = {
        "database": "sqlite:///cwdrift.db",
        "tenants": [
            tenant("acme", "Acme Corporation", ACME_KEYS, ticket_company="Acme"),
            tenant("globex", "Globex Corporation", GLOBEX_KEYS, ticket_company="Globex"),
        ],
        "notify": {
            "connectwise_ticket": [
                {
                    "name": "psa",
                    "site": "${CWDRIFT_SIM_URL}",
                    "company_id": "northwind",
                    "public_key": "northwindtix001",
                    "private_key": "${CWDRIFT_PSA_KEY:-fake-northwind-tickets-private-0001}",
                    "client_id": CLIENT_ID,
                    "board": "Alerts",
                    **channel,
                }
            ]
        },
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class TicketEnv:
    sim: RunningSimulator
    config: Path
    runner: CliRunner

    def run(self, *args: str) -> tuple[int, str]:
        result = self.runner.invoke(app, ["--config", str(self.config), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout

    def tickets(self) -> list[dict[str, Any]]:
        return self.sim.state.tickets(MSP)

    def writes(self, endpoint: str | None = None, method: str | None = None) -> int:
        return self.sim.state.writes(MSP, endpoint=endpoint, method=method)


@pytest.fixture
def tickets_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TicketEnv]:
    """The demo simulator on a fresh port, a fresh database, and the ticket config above."""
    config = ticket_config(tmp_path / "cwdrift.yaml")
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as sim:
        monkeypatch.setenv("CWDRIFT_SIM_URL", sim.url)
        yield TicketEnv(sim=sim, config=config, runner=CliRunner())
