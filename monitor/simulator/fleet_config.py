"""cwdrift configs for the simulator's generated fleets (``generate_fleet``): benchmarks and tests.

Tenant ``t00007`` is fleet company ``fleet00007`` with that company's obviously fake keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitor.settings import Config, LoadedConfig
from monitor.simulator.scenario import fleet_company_id, fleet_keys

CLIENT_ID = "00000000-0000-4000-8000-000000000001"


def fleet_tenants(n: int, site: str) -> list[dict[str, Any]]:
    """Config entries for fleet tenants 0..n-1, all on ``site``."""
    tenants = []
    for index in range(n):
        public_key, private_key = fleet_keys(index)
        tenants.append(
            {
                "id": f"t{index:05d}",
                "name": f"Fleet Tenant {index}",
                "site": site,
                "company_id": fleet_company_id(index),
                "public_key": public_key,
                "private_key": private_key,
                "client_id": CLIENT_ID,
                "integration_member": "GozyntaAPI",
            }
        )
    return tenants


def fleet_config(n: int, site: str, database: str, **sections: Any) -> LoadedConfig:
    """A validated in-memory config for ``n`` fleet tenants (``sections``: other top-level keys)."""
    data = {"database": database, "tenants": fleet_tenants(n, site), **sections}
    return LoadedConfig(config=Config.model_validate(data), path=Path("fleet.yaml"))


def write_fleet_config(path: Path, n: int, site: str, database: str, **sections: Any) -> Path:
    """The same as a YAML file on disk (for daemon processes)."""
    data = {"database": database, "tenants": fleet_tenants(n, site), **sections}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
