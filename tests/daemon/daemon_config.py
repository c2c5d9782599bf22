"""Config files written the way users write them, for daemon tests."""

from __future__ import annotations


def tenant_yaml(tenant_id: str, schedule: str = "") -> str:
    return f"""
  - id: {tenant_id}
    name: Tenant {tenant_id}
    site: na.myconnectwise.net
    company_id: {tenant_id}
    public_key: pub-{tenant_id}
    private_key: ${{CWDRIFT_TEST_UNSET_KEY:-not-a-real-key}}
    client_id: client-{tenant_id}
    integration_member: GozyntaAPI{schedule}"""


def config_yaml(
    db_url: str,
    tenants: dict[str, str] | list[str],
    *,
    in_flight: int = 2,
    every: str = "1h",
    jitter: str = "0s",
    dispatch_every: str = "1h",
) -> str:
    """A config file. ``tenants``: ids, or id -> extra YAML for the tenant (e.g. a schedule)."""
    items = tenants if isinstance(tenants, dict) else dict.fromkeys(tenants, "")
    body = "".join(tenant_yaml(tenant_id, extra) for tenant_id, extra in items.items())
    return f"""database: {db_url}
daemon:
  tenants_in_flight: {in_flight}
  dispatch_every: {dispatch_every}
  schedule:
    every: {every}
    jitter: {jitter}
tenants:{body if body else " []"}
"""
