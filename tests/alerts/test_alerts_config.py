"""The notify: section, table-tested through the real validator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.alerts.config import NotifyConfig

SECRET_HOOK = "https://hooks.slack.com/services/T0/B0/hunter2hook"
EMAIL = {
    "name": "finance",
    "host": "smtp.example.com",
    "sender": "cwdrift@example.com",
    "recipients": ["finance@example.com"],
}

VALID: dict[str, dict[str, Any]] = {
    "empty: defaults": {},
    "webhook": {"slack": [{"name": "ops", "webhook_url": SECRET_HOOK}]},
    "bot token": {"slack": [{"name": "ops", "bot_token": "xoxb-1", "channel": "C123"}]},
    "loopback http base_url": {
        "slack": [
            {
                "name": "ops",
                "bot_token": "xoxb-1",
                "channel": "C1",
                "base_url": "http://127.0.0.1:8080/api/",
            }
        ]
    },
    "loopback http webhook": {"slack": [{"name": "ops", "webhook_url": "http://localhost:9/x"}]},
    "email with auth": {"email": [{**EMAIL, "username": "u", "password": "p"}]},
    "email with auth over implicit TLS": {
        "email": [
            {**EMAIL, "port": 465, "starttls": False, "ssl": True, "username": "u", "password": "p"}
        ]
    },
    "plain SMTP without auth": {"email": [{**EMAIL, "port": 25, "starttls": False}]},
    "plain SMTP auth to a loopback relay": {
        "email": [
            {**EMAIL, "host": "127.0.0.1", "starttls": False, "username": "u", "password": "p"}
        ]
    },
    "plain SMTP auth to localhost": {
        "email": [
            {**EMAIL, "host": "localhost", "starttls": False, "username": "u", "password": "p"}
        ]
    },
    "route with continue": {
        "email": [EMAIL],
        "routes": [{"channels": ["finance"], "continue": True, "min_severity": "high"}],
    },
    "reminders off": {"reminder": None},
}

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "plain http webhook elsewhere": (
        {
            "slack": [
                {"name": "ops", "webhook_url": "http://hooks.slack.com/services/T0/B0/hunter2hook"}
            ]
        },
        "webhook_url must be an https:// URL",
    ),
    "plain http base_url elsewhere": (
        {
            "slack": [
                {
                    "name": "ops",
                    "bot_token": "t",
                    "channel": "C1",
                    "base_url": "http://slack.example.com/api/",
                }
            ]
        },
        "base_url must be an https:// URL",
    ),
    "webhook and bot": (
        {"slack": [{"name": "ops", "webhook_url": SECRET_HOOK, "bot_token": "t", "channel": "C"}]},
        "exactly one of webhook_url",
    ),
    "neither webhook nor bot": ({"slack": [{"name": "ops"}]}, "exactly one of webhook_url"),
    "bot without channel": ({"slack": [{"name": "ops", "bot_token": "t"}]}, "needs channel"),
    "duplicate names": (
        {"slack": [{"name": "finance", "webhook_url": SECRET_HOOK}], "email": [EMAIL]},
        "unique",
    ),
    "route to an unknown channel": (
        {"email": [EMAIL], "routes": [{"channels": ["pager"]}]},
        "unknown channels ['pager']",
    ),
    "ssl and starttls": ({"email": [{**EMAIL, "ssl": True}]}, "exclude each other"),
    "password without username": ({"email": [{**EMAIL, "password": "p"}]}, "go together"),
    "SMTP auth without TLS to a remote host": (
        {"email": [{**EMAIL, "starttls": False, "username": "u", "password": "hunter2smtp"}]},
        "email channel 'finance': the password would go to smtp.example.com without TLS",
    ),
    "SMTP auth without TLS to a remote address": (
        {
            "email": [
                {
                    **EMAIL,
                    "host": "192.0.2.7",
                    "starttls": False,
                    "username": "u",
                    "password": "hunter2smtp",
                }
            ]
        },
        "set starttls: true (port 587) or ssl: true (port 465)",
    ),
    "no recipients": ({"email": [{**EMAIL, "recipients": []}]}, "recipients"),
    "unknown key": ({"slak": []}, "Extra inputs are not permitted"),
    "silence for everything": (
        {"silences": [{"reason": "r", "author": "a", "expires": "2026-01-01T00:00:00Z"}]},
        "a tenant, a rule, or both",
    ),
    "bad password type": (
        {"email": [{**EMAIL, "username": "u", "password": ["hunter2smtp"]}]},
        "password",
    ),
    "zero threshold": ({"failure_threshold": 0}, "failure_threshold"),
}


@pytest.mark.parametrize("data", VALID.values(), ids=VALID)
def test_valid(data: dict[str, Any]) -> None:
    NotifyConfig.model_validate(data)


@pytest.mark.parametrize(("data", "message"), INVALID.values(), ids=INVALID)
def test_invalid_names_the_problem_and_hides_secrets(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotifyConfig.model_validate(data)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_defaults() -> None:
    config = NotifyConfig()
    assert config.reminder == timedelta(hours=24)
    assert config.failure_threshold == 3
    assert config.routes == []


def test_secrets_stay_out_of_reprs() -> None:
    config = NotifyConfig.model_validate(
        {
            "slack": [{"name": "ops", "webhook_url": SECRET_HOOK}],
            "email": [{**EMAIL, "username": "u", "password": "hunter2smtp"}],
        }
    )
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.model_dump())


def test_smtp_auth_without_tls_is_reported_on_the_channels_password() -> None:
    with pytest.raises(ValidationError) as caught:
        NotifyConfig.model_validate(
            {"email": [{**EMAIL, "starttls": False, "username": "u", "password": "hunter2smtp"}]}
        )
    (error,) = caught.value.errors()
    assert error["loc"] == ("email", 0, "password")
