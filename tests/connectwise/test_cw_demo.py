"""The bundled demo scenario (config/scenarios/demo.yaml) read end to end over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.connectwise.client import ConnectWiseClient, RetryPolicy
from monitor.connectwise.collect import collect_tenant
from monitor.connectwise.limits import HostLimits
from monitor.connectwise.normalize import normalize
from monitor.core.snapshot import CredentialMode, Snapshot
from monitor.errors import AuthenticationFailed
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator

from .conftest import CLIENT_ID

DEMO = Path(__file__).resolve().parents[2] / "config" / "scenarios" / "demo.yaml"
AT = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningSimulator]:
    with running_simulator(load_scenario(DEMO)) as running:
        yield running


async def read(demo: RunningSimulator, company: str, public: str, private: str) -> Snapshot:
    client = ConnectWiseClient(
        demo.url,
        company,
        public,
        private,
        CLIENT_ID,
        limits=HostLimits(),
        retry=RetryPolicy(attempts=1),
        tenant=company,
    )
    async with client as cw:
        raw = await collect_tenant(cw, tenant_id=company, integration_member="GozyntaAPI")
    return normalize(raw, AT)


@pytest.mark.parametrize(
    ("public", "private", "mode", "unknown"),
    [
        ("acmepub00000001", "fake-acme-private-key-0001", CredentialMode.INTEGRATION, {"role"}),
        ("acmeaudit0000001", "fake-acme-audit-private-0001", CredentialMode.AUDITOR, {"customize"}),
    ],
)
async def test_acme_in_both_credential_modes(
    demo: RunningSimulator, public: str, private: str, mode: CredentialMode, unknown: set[str]
) -> None:
    snapshot = await read(demo, "acme", public, private)
    assert snapshot.credential_mode is mode
    assert set(snapshot.unknown) == unknown
    assert snapshot.value("member.role_id") == 27
    assert snapshot.value("permission.finance.accounting_interface.delete") == "All"
    assert snapshot.value("permission.system.table_setup.inquire") == "All"
    assert snapshot.value("accounting.includeSalesTaxFlag") is True


async def test_drifting_demo_tenants_read_as_configured(demo: RunningSimulator) -> None:
    globex = await read(demo, "globex", "globexpub000001", "fake-globex-private-key-0001")
    assert globex.value("accounting.transferExpensesAsBillFlag") is True
    initech = await read(demo, "initech", "initechpub00001", "fake-initech-private-key-0001")
    delete = initech.get("permission.finance.invoicing.delete")
    assert delete is not None
    assert (delete.value, delete.updated_by) == ("None", "jsmith")


async def test_umbrella_with_the_wrong_key_is_an_authentication_error(
    demo: RunningSimulator,
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await read(demo, "umbrella", "umbrellapub0001", "not-the-umbrella-key")
    assert "tenant umbrella" in caught.value.message
