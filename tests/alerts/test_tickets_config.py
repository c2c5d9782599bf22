"""The ticket channel's config: the company is explicit (a config error names both keys), names
are unique across channel types, and values ConnectWise is searched for are checked up front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ticket_builders import ticket_channel

from monitor.alerts.config import NotifyConfig, TicketChannel
from monitor.errors import ConfigError
from monitor.settings import load_config


def tenant(tenant_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": tenant_id,
        "name": tenant_id.title(),
        "site": "na.myconnectwise.net",
        "company_id": tenant_id,
        "public_key": "pub",
        "private_key": "${KEY}",
        "client_id": "client",
        "integration_member": "GozyntaAPI",
        **changes,
    }


def write(tmp_path: Path, tenants: list[dict[str, Any]], notify: dict[str, Any]) -> Path:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(yaml.safe_dump({"tenants": tenants, "notify": notify}, sort_keys=False))
    return path


SLACK = {"name": "ops", "webhook_url": "https://hooks.slack.com/services/T/B/x"}
PSA = ticket_channel(private_key="${KEY}")


@pytest.mark.parametrize(
    ("tenants", "notify", "error"),
    [
        pytest.param(
            [tenant("acme", ticket_company="Acme")], {"connectwise_ticket": [PSA]}, None, id="own"
        ),
        pytest.param(
            [tenant("acme")],
            {"connectwise_ticket": [{**PSA, "company": "NorthwindIT"}]},
            None,
            id="catch-all",
        ),
        pytest.param(
            [tenant("acme", ticket_company="Acme"), tenant("globex")],
            {"connectwise_ticket": [PSA]},
            "tenant 'globex' is routed to ticket channel 'psa'",
            id="default-route",
        ),
        pytest.param(
            [tenant("acme"), tenant("globex", tags=["vip"])],
            {
                "slack": [SLACK],
                "connectwise_ticket": [PSA],
                "routes": [{"channels": ["psa"], "tags": ["vip"]}, {"channels": ["ops"]}],
            },
            "tenant 'globex' is routed",
            id="tag-route",
        ),
        pytest.param(
            [tenant("acme"), tenant("globex", ticket_company="Globex")],
            {
                "slack": [SLACK],
                "connectwise_ticket": [PSA],
                "routes": [
                    {"channels": ["psa"], "tenants": ["globex"]},
                    {"channels": ["ops"]},
                ],
            },
            None,
            id="not-routed",
        ),
        pytest.param(
            [tenant("acme")],
            {
                "slack": [SLACK],
                "connectwise_ticket": [PSA],  # min_severity high: warnings never reach it
                "routes": [
                    {"channels": ["ops"], "min_severity": "high"},
                    {"channels": ["psa"]},
                ],
            },
            None,
            id="only-below-min-severity",
        ),
        pytest.param(
            [tenant("acme")],
            {
                "slack": [SLACK],
                "connectwise_ticket": [{**PSA, "min_severity": "low"}],
                "routes": [
                    {"channels": ["ops"], "min_severity": "high"},
                    {"channels": ["psa"]},
                ],
            },
            "tenant 'acme' is routed",
            id="low-min-severity",
        ),
    ],
)
def test_a_routed_tenant_needs_a_company_named_explicitly(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tenants: list[dict[str, Any]],
    notify: dict[str, Any],
    error: str | None,
) -> None:
    monkeypatch.setenv("KEY", "secret-key-value")
    path = write(tmp_path, tenants, notify)
    if error is None:
        load_config(path)
        return
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert error in text
    assert "ticket_company" in text and "notify.connectwise_ticket[0].company" in text
    assert text.startswith(f"{path}:")  # the file and the tenant's line
    assert "secret-key-value" not in text


def test_channel_names_are_unique_across_every_channel_type() -> None:
    with pytest.raises(ValueError, match="unique across slack, email and connectwise_ticket"):
        NotifyConfig.model_validate(
            {"slack": [{**SLACK, "name": "psa"}], "connectwise_ticket": [ticket_channel()]}
        )


def test_a_route_may_name_a_ticket_channel() -> None:
    config = NotifyConfig.model_validate(
        {"connectwise_ticket": [ticket_channel()], "routes": [{"channels": ["psa"]}]}
    )
    assert config.channel_names == ["psa"]


def test_defaults_keep_warnings_out_and_customers_unmailed() -> None:
    channel = TicketChannel.model_validate(ticket_channel())
    assert channel.min_severity.value == "high"
    assert channel.process_notifications is False
    assert channel.reopen_within.days == 7
    assert (channel.statuses.new, channel.statuses.closed) == (None, None)


@pytest.mark.parametrize(
    "change",
    [
        {"board": 'Alerts" OR name="x'},
        {"company": "Acme*"},
        {"statuses": {"closed": "Clo\\sed"}},
        {"company": "x" * 26},
        {"reopen_within": "-1d"},
        {"private_key": ""},
        {"site": "http://psa.example.com"},  # the keys would cross the network in the clear
    ],
)
def test_values_that_would_change_a_search_or_are_empty_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TicketChannel.model_validate(ticket_channel(**change))


def test_a_tenant_company_that_would_change_a_search_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY", "k")
    path = write(tmp_path, [tenant("acme", ticket_company='Ac"me')], {})
    with pytest.raises(ConfigError, match=r"tenants\[0\]\.ticket_company"):
        load_config(path)


def test_the_report_cannot_go_to_a_ticket_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY", "k")
    path = tmp_path / "cwdrift.yaml"
    data = {
        "tenants": [tenant("acme", ticket_company="Acme")],
        "notify": {"slack": [SLACK], "connectwise_ticket": [PSA]},
        "report": {"channels": ["psa"]},
    }
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ConfigError, match=r"report\.channels\[0\]: channel 'psa' is a ticket channel"
    ) as caught:
        load_config(path)
    assert "notify.slack or notify.email (ops)" in caught.value.fix


def test_a_literal_private_key_is_accepted_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY", "k")
    path = write(
        tmp_path,
        [tenant("acme", ticket_company="Acme")],
        {"connectwise_ticket": [ticket_channel(private_key="literal-secret")]},
    )
    loaded = load_config(path)
    [warning] = loaded.warnings
    assert "notify.connectwise_ticket[0].private_key: literal secret" in warning
    assert "literal-secret" not in warning


def test_the_private_key_may_come_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY", "k")
    secret = tmp_path / "psa-key"
    secret.write_text("from-a-file\n")
    channel = ticket_channel()
    del channel["private_key"]
    channel["private_key_file"] = str(secret)
    path = write(
        tmp_path, [tenant("acme", ticket_company="Acme")], {"connectwise_ticket": [channel]}
    )
    [loaded] = load_config(path).config.notify.connectwise_ticket
    assert loaded.private_key.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(loaded)
