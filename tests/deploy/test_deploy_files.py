"""deploy/ is checked by tests, since no Docker engine or systemd runs here: the compose file
parses and references only files that exist, its config and the production example pass the
real validators, and the Dockerfile and systemd unit keep their safety properties."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.core.baseline import load_baseline
from monitor.errors import ConfigError
from monitor.settings import load_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

_COMPOSE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def compose_expand(value: str) -> str:
    """Compose's own ${VAR:-default} expansion, with an empty environment."""
    return _COMPOSE_VAR.sub(lambda m: m.group(2) or "", value)


def test_compose_has_postgres_the_simulator_and_two_nodes() -> None:
    services = compose()["services"]
    assert {"postgres", "simulator", "node1", "node2"} <= set(services)
    for node in ("node1", "node2"):
        assert services[node]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[node]["network_mode"] == "service:simulator"
    assert services["migrate"]["command"] == ["db", "migrate"]


def test_compose_references_only_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build is not None:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context} missing"
            assert (context / build["dockerfile"]).is_file(), f"{name}: Dockerfile missing"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: volume source {source} missing"
        command = service.get("command", [])
        if "--scenario" in command:  # a bundled scenario's name: shipped in the wheel
            scenario = command[command.index("--scenario") + 1]
            assert (REPO / "config" / "scenarios" / f"{scenario}.yaml").is_file(), name


def node_environment(service: Mapping[str, Any]) -> dict[str, str]:
    return {key: compose_expand(str(value)) for key, value in service["environment"].items()}


@pytest.mark.parametrize("node", ["node1", "node2"])
def test_compose_config_passes_the_real_validators(node: str) -> None:
    service = compose()["services"][node]
    env = node_environment(service)
    mount = next(v for v in service["volumes"] if v.endswith(":/etc/cwdrift/cwdrift.yaml:ro"))
    config_file = DEPLOY / mount.split(":", 1)[0]
    loaded = load_config(config_file, env=env)
    config = loaded.config
    assert config.database.startswith("postgresql+psycopg://cwdrift:")
    assert config.daemon.mode == "cluster"
    assert config.daemon.health_port == int(env["CWDRIFT_HEALTH_PORT"])
    assert {t.site for t in config.tenants} == {"http://127.0.0.1:8900"}
    assert len(load_baseline(loaded.baseline_path).rules) > 0
    # Each node's health port is published by the service whose network it shares.
    published = compose()["services"]["simulator"]["ports"]
    assert f"127.0.0.1:{env['CWDRIFT_HEALTH_PORT']}:{env['CWDRIFT_HEALTH_PORT']}" in published


def test_production_example_passes_the_real_validators(tmp_path: Path) -> None:
    for name in ("acme-cw-private-key", "globex-cw-private-key", "smtp-password", "web-token"):
        (tmp_path / name).write_text(f"secret-{name}\n", encoding="utf-8")
    (tmp_path / "slack-webhook-url").write_text(
        "https://hooks.slack.com/services/T0/B0/x\n", encoding="utf-8"
    )
    env = {
        "CWDRIFT_SECRETS_DIR": str(tmp_path),
        "CWDRIFT_DB_PASSWORD": "pw",
        "ACME_CW_PUBLIC_KEY": "pub-a",
        "GLOBEX_CW_PUBLIC_KEY": "pub-g",
        "CW_CLIENT_ID": "00000000-0000-4000-8000-000000000001",
    }
    loaded = load_config(DEPLOY / "cwdrift.production.yaml", env=env)
    assert loaded.warnings == []  # no literal secret in the example
    assert loaded.config.daemon.mode == "cluster"
    assert loaded.config.tenant("acme").private_key.get_secret_value() == (
        "secret-acme-cw-private-key"
    )
    assert len(load_baseline(loaded.baseline_path).rules) > 0
    web = loaded.config.web
    assert web.token is not None and web.token.get_secret_value() == "secret-web-token"
    assert web.exposure_problem(loaded.config.daemon.health_host) is None  # pages are served


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the final stage must not run as root"
    healthchecks = [arg for op, arg in instructions if op == "HEALTHCHECK"]
    assert healthchecks and "/readyz" in healthchecks[-1]  # it marks; it never restarts
    base = next(arg for op, arg in instructions if op == "ARG" and arg.startswith("PYTHON_IMAGE="))
    assert base == "PYTHON_IMAGE=python:3.11-slim"
    assert [arg.split()[0] for op, arg in instructions if op == "FROM"] == ["${PYTHON_IMAGE}"] * 2
    for op, arg in instructions:
        if op == "COPY" and not arg.startswith("--from"):
            *sources, _dest = arg.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} missing from the repo"


def systemd_unit() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "cwdrift.service").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_systemd_unit_is_hardened_and_unprivileged() -> None:
    unit = systemd_unit()
    assert unit["User"] == ["cwdrift"]
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], f"{key} should be {value!r}"
    assert unit["ExecStart"] == ["/opt/cwdrift/bin/cwdrift run"]
    assert "/opt/cwdrift/bin/cwdrift db migrate" in unit["ExecStartPre"]
    # Every credential the production example reads from $CWDRIFT_SECRETS_DIR is loaded.
    production = (DEPLOY / "cwdrift.production.yaml").read_text(encoding="utf-8")
    wanted = set(re.findall(r"cwdrift\.service\}/([a-z-]+)", production))
    loaded = {entry.split(":", 1)[0] for entry in unit["LoadCredential"]}
    assert wanted == loaded


CHANNEL_CREDENTIALS = {"slack-webhook-url", "smtp-password"}


def test_systemd_unit_starts_without_the_channels_a_site_does_not_use() -> None:
    unit = systemd_unit()
    loaded = {entry.split(":", 1)[0] for entry in unit["LoadCredential"]}
    defaults = {entry.split(":", 1)[0]: entry.split(":", 1)[1] for entry in unit["SetCredential"]}
    # systemd.exec(5): with a SetCredential= of the same id, a missing LoadCredential= file is
    # not fatal. Channels get one (blank: systemd refuses an empty value); tenant keys do not.
    assert set(defaults) == CHANNEL_CREDENTIALS <= loaded
    assert all(value == "\\n" for value in defaults.values()), defaults


def test_a_blank_channel_credential_is_refused_naming_the_field(tmp_path: Path) -> None:
    for name in ("acme-cw-private-key", "globex-cw-private-key", "smtp-password", "web-token"):
        (tmp_path / name).write_text(f"secret-{name}\n", encoding="utf-8")
    (tmp_path / "slack-webhook-url").write_text("\n", encoding="utf-8")  # systemd's default
    env = {
        "CWDRIFT_SECRETS_DIR": str(tmp_path),
        "CWDRIFT_DB_PASSWORD": "pw",
        "ACME_CW_PUBLIC_KEY": "pub-a",
        "GLOBEX_CW_PUBLIC_KEY": "pub-g",
        "CW_CLIENT_ID": "00000000-0000-4000-8000-000000000001",
    }
    with pytest.raises(ConfigError, match=r"notify\.slack\[0\]: .*webhook_url must be an https"):
        load_config(DEPLOY / "cwdrift.production.yaml", env=env)


def test_systemd_unit_installs_from_the_checkout_and_its_documentation_is_installed() -> None:
    header = [
        line.removeprefix("#").strip()
        for line in (DEPLOY / "cwdrift.service").read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    installs = [line for line in header if "pip install" in line]
    assert installs and all(" ." in line or ".whl" in line for line in installs), installs
    assert not any(re.search(r"pip install (-c \S+ )?cwdrift\b", line) for line in header)
    (documentation,) = systemd_unit()["Documentation"]
    path = documentation.removeprefix("file://")
    assert any(line.startswith("install ") and line.endswith(path) for line in header), path
    source = next(line.split()[-2] for line in header if line.endswith(path))
    assert (REPO / source).is_file()
