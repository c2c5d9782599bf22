"""Fixtures for the ConnectWise seam: the real simulator over HTTP, a recording sleep, keys.

The scenario is defined here (not read from config/scenarios/demo.yaml) so these tests pin the
exact tenants they rely on; test_cw_demo.py covers the bundled demo scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from monitor.connectwise.client import ConnectWiseClient, RetryPolicy
from monitor.connectwise.limits import HostLimits
from monitor.simulator.scenario import Scenario, scenario_from_data
from monitor.simulator.server import RunningSimulator, running_simulator

CLIENT_ID = "0b7a7a48-1d53-4f0e-9c2f-3b1f6c0b9a11"
GOZYNTA_PUBLIC = "gozpub0001"
GOZYNTA_PRIVATE = "Priv-Gozynta-Secret-9f8e7d"
AUDIT_PUBLIC = "auditpub0001"
AUDIT_PRIVATE = "Priv-Audit-Secret-1a2b3c"


def _tenant(company_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "company_id": company_id,
        "name": f"{company_id.title()} Inc",
        "roles": [
            {"name": "Gozynta API", "template": "mobius"},
            {"name": "Drift Auditor", "template": "auditor"},
        ],
        "members": [
            {
                "identifier": "GozyntaAPI",
                "name": "Gozynta API",
                "role": "Gozynta API",
                "keys": [{"public_key": GOZYNTA_PUBLIC, "private_key": GOZYNTA_PRIVATE}],
            },
            {
                "identifier": "CwdriftAudit",
                "name": "cwdrift auditor",
                "role": "Drift Auditor",
                "keys": [{"public_key": AUDIT_PUBLIC, "private_key": AUDIT_PRIVATE}],
            },
        ],
        **extra,
    }


def scenario() -> Scenario:
    return scenario_from_data(
        {
            "tenants": [
                _tenant("acme", cloud=True, codebase="v2025_1/"),
                _tenant("onprem", codebase="v4_6_release/", customize_item_format="id"),
                _tenant("labelled", customize_item_format="category_name"),
            ]
        },
        source="tests/connectwise/conftest.py",
    )


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(scenario()) as running:
        yield running


class RecordingSleep:
    """Stands in for asyncio.sleep: records each delay, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


# Deterministic backoff: full jitter draws its maximum, so delays are 0.5, 1, 2, ...
RETRY = RetryPolicy(attempts=3, base=0.5, cap=30.0, random=lambda: 1.0)

ClientFactory = Callable[..., ConnectWiseClient]


@pytest.fixture
def make_client(sim: RunningSimulator, sleep: RecordingSleep) -> ClientFactory:
    """A client for the simulator; keyword arguments override the defaults (acme, integration)."""

    def make(**overrides: Any) -> ConnectWiseClient:
        args: dict[str, Any] = {
            "site": sim.url,
            "company_id": "acme",
            "public_key": GOZYNTA_PUBLIC,
            "private_key": GOZYNTA_PRIVATE,
            "client_id": CLIENT_ID,
            "retry": RETRY,
            "sleep": sleep,
            "limits": HostLimits(per_minute=100_000),
            "timeout": 10.0,
        }
        args.update(overrides)
        return ConnectWiseClient(**args)

    return make
