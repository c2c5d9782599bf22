"""Helpers for the simulator tests: credentials, scenarios and GET/PATCH/POST shortcuts."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from monitor.simulator.scenario import Scenario, load_scenario, scenario_from_data
from monitor.simulator.server import RunningSimulator

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
FIXED_NOW = datetime(2026, 3, 4, 15, 22, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Keys:
    company_id: str
    public_key: str
    private_key: str

    def authorization(self) -> str:
        raw = f"{self.company_id}+{self.public_key}:{self.private_key}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def headers(self, *, client_id: bool = True) -> dict[str, str]:
        headers = {"Authorization": self.authorization()}
        if client_id:
            headers["clientId"] = "11111111-2222-3333-4444-555555555555"
        return headers


ACME = Keys("acme", "acmepub00000001", "fake-acme-private-key-0001")
ACME_AUDITOR = Keys("acme", "acmeaudit0000001", "fake-acme-audit-private-0001")
GLOBEX = Keys("globex", "globexpub000001", "fake-globex-private-key-0001")
GLOBEX_FIX = Keys("globex", "globexfix000001", "fake-globex-fix-private-0001")  # may Edit
INITECH_FIX = Keys("initech", "initechfix00001", "fake-initech-fix-private-0001")  # may not
NORTHWIND = Keys("northwind", "northwindtix001", "fake-northwind-tickets-private-0001")


def demo_scenario() -> Scenario:
    return load_scenario(SCENARIOS / "demo.yaml")


def scenario(*tenants: dict[str, object]) -> Scenario:
    return scenario_from_data({"tenants": list(tenants)}, source="test")


def get(
    http: httpx.Client, sim: RunningSimulator, path: str, keys: Keys = ACME, **params: str | int
) -> httpx.Response:
    """GET an API path as ``keys`` (with a clientId), relative to the tenant's ``apis/3.0``."""
    return http.get(sim.api_url(keys.company_id) + path, headers=keys.headers(), params=params)


def patch(
    http: httpx.Client, sim: RunningSimulator, path: str, body: object, keys: Keys = GLOBEX_FIX
) -> httpx.Response:
    """PATCH an API path as ``keys`` with a JSON body (normally a list of operations)."""
    return http.patch(sim.api_url(keys.company_id) + path, headers=keys.headers(), json=body)


def post(
    http: httpx.Client, sim: RunningSimulator, path: str, body: object, keys: Keys = NORTHWIND
) -> httpx.Response:
    return http.post(sim.api_url(keys.company_id) + path, headers=keys.headers(), json=body)


def replace(path: str, value: object) -> dict[str, object]:
    return {"op": "replace", "path": path, "value": value}
