"""The compose trial is reachable as documented, and shows alerts.

No container engine runs under ``make test``, so the files are read as the engine would: each
containerised health server's address and port come from the service's command (or the image's
CMD) and the config it mounts, expanded with the service's environment; every HTTP health check
and every URL deploy/OPERATIONS.md tells a person to open must name a route the app serves, on
a port that is published on the host's loopback. Then the trial's own config is run against the
simulator serving the Slack-compatible sink, as the compose services do, and the alerts arrive.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from test_deploy_files import DEPLOY, compose, compose_expand, dockerfile_instructions

from monitor.observability import REGISTRY
from monitor.settings import load_config
from monitor.web.app import create_app
from monitor.web.health import Health, health_routes

OPERATIONS = DEPLOY / "OPERATIONS.md"
URL = re.compile(r"https?://[^\s'\"`)]+")


def node_paths() -> set[str]:
    """The paths a node's web app serves (health only, until pages join the app)."""
    app = create_app(health_routes(Health({})))
    return {getattr(route, "path", "") for route in app.routes}


def image_cmd() -> list[str]:
    cmd = [arg for op, arg in dockerfile_instructions() if op == "CMD"][-1]
    return list(yaml.safe_load(cmd))


def cwdrift_services() -> dict[str, dict[str, Any]]:
    """Services running the cwdrift image's daemon (``run``, the image's default command)."""
    found = {}
    for name, service in compose()["services"].items():
        if service.get("image", "").startswith("cwdrift:"):
            command = service.get("command", image_cmd())
            if command[0] == "run":
                found[name] = {**service, "command": command}
    return found


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def served_at(service: dict[str, Any]) -> tuple[str, int]:
    """(address, port) of the service's health server: its command's options win over the
    config it mounts, expanded with its environment, as ``cwdrift run`` does."""
    env = {key: compose_expand(str(value)) for key, value in service["environment"].items()}
    mount = next(v for v in service["volumes"] if v.endswith(":/etc/cwdrift/cwdrift.yaml:ro"))
    config = load_config(DEPLOY / mount.split(":", 1)[0], env=env).config
    host = option(service["command"], "--health-host") or config.daemon.health_host
    port = option(service["command"], "--health-port") or config.daemon.health_port
    assert port is not None, "a trial node without a health port"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    return ipaddress.ip_address(host).is_loopback


def published() -> dict[int, str]:
    """Host port -> host address, for every port the trial publishes."""
    ports = {}
    for service in compose()["services"].values():
        for entry in service.get("ports", []):
            address, host_port, _container = entry.rsplit(":", 2)
            ports[int(host_port)] = address
    return ports


def test_the_trial_has_nodes_to_check() -> None:
    assert set(cwdrift_services()) == {"node1", "node2"}


@pytest.mark.parametrize("name", ["node1", "node2"])
def test_no_containerised_health_server_binds_to_loopback_only(name: str) -> None:
    host, port = served_at(cwdrift_services()[name])
    assert not is_loopback(host), f"{name} serves health on {host}: unreachable when published"
    assert published()[port] == "127.0.0.1"  # ...and the host publishes it on its loopback only


def test_the_image_serves_health_on_all_interfaces_by_default() -> None:
    host = option(image_cmd(), "--health-host")
    assert host is not None and not is_loopback(host)


@pytest.mark.parametrize("name", ["node1", "node2"])
def test_every_node_health_check_targets_a_route_on_its_own_port(name: str) -> None:
    service = cwdrift_services()[name]
    (url,) = URL.findall(" ".join(service["healthcheck"]["test"]))
    parts = urlsplit(url)
    assert parts.path in node_paths(), url
    assert parts.path == "/readyz"  # it marks the container; compose restarts on exit only
    assert parts.port == served_at(service)[1], f"{name} checks a port it does not serve"


def test_the_image_health_check_targets_a_route_that_exists() -> None:
    healthcheck = [arg for op, arg in dockerfile_instructions() if op == "HEALTHCHECK"][-1]
    (url,) = URL.findall(healthcheck)
    assert urlsplit(url).path in node_paths()


def trial_commands() -> list[str]:
    """The shell commands of OPERATIONS.md's compose section, as a person would paste them."""
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text[text.index("## Local trial with compose") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split(" #", 1)[0].strip() for line in block.group(1).splitlines() if line]


def test_every_trial_command_in_operations_names_what_the_trial_has() -> None:
    services = set(compose()["services"])
    ports = published()
    commands = trial_commands()
    assert any("up" in c.split() for c in commands)
    for command in commands:
        words = shlex.split(command.split("|", 1)[0])
        if words[:2] == ["docker", "compose"]:
            assert words[2:4] == ["-f", "deploy/compose.yaml"], command
            assert (DEPLOY.parent / words[3]).is_file()
            verb, rest = words[4], words[5:]
            targets = [w for w in rest if not w.startswith("-")]
            if verb in ("exec", "kill", "logs", "stop", "start", "restart"):
                assert targets and targets[0] in services, command
            if verb == "exec":
                assert targets[1] == "cwdrift", command  # the image's console script
        for url in URL.findall(command):
            parts = urlsplit(url)
            assert parts.hostname == "127.0.0.1" and ports.get(parts.port or 80) == "127.0.0.1", url
            if parts.port in {served_at(s)[1] for s in cwdrift_services().values()}:
                assert parts.path in node_paths(), url
            elif parts.path.startswith("/slack/"):
                assert parts.path == "/slack/messages", url
        grep = re.search(r"\| grep (\S+)", command)
        if grep:
            wanted = grep.group(1)
            families = list(REGISTRY.collect())  # a labelled counter has no sample before use
            names = {m.name + ("_total" if m.type == "counter" else "") for m in families}
            assert wanted in names, f"{command}: no series named {wanted}"


# -- the trial's own config, end to end -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def trial_simulator(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The simulator service's own command (``simulate ... --slack-sink``) on a free port."""
    command = list(compose()["services"]["simulator"]["command"])
    assert "--slack-sink" in command
    port = free_port()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    log = tmp_path / "simulator.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process)
        yield url, log
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the simulator accepts connections (bounded; fails if it exited)."""
    for _ in range(600):
        if process.poll() is not None:
            pytest.fail(f"the simulator exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
    pytest.fail("the simulator did not listen within 60 s")


@pytest.mark.slow
def test_the_trial_config_delivers_alerts_to_the_simulators_slack_sink(
    trial_simulator: tuple[str, Path], pg_url: str
) -> None:
    url, log = trial_simulator
    webhook = compose_expand(load_config_text()["notify"]["slack"][0]["webhook_url"])
    assert urlsplit(webhook).port == 8900  # the simulator service's port in the trial
    env = {
        **{k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
        # What compose gives the nodes, but on this machine's free port and database (the
        # trial runs in cluster mode, which needs PostgreSQL):
        "CWDRIFT_SIM_URL": url,
        "CWDRIFT_DATABASE_URL": pg_url,
        "CWDRIFT_TRIAL_SLACK_URL": webhook.replace(":8900", f":{urlsplit(url).port}"),
    }
    config = DEPLOY / "compose" / "cwdrift.yaml"
    for _ in range(3):  # umbrella's revoked key alerts after failure_threshold (3) failed reads
        check = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "check"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert check.returncode == 2, check.stdout + check.stderr  # umbrella cannot be read

    messages = httpx.get(f"{url}/slack/messages", timeout=10).json()["messages"]
    texts = [m["text"] for m in messages]
    assert any("globex" in t.lower() for t in texts), texts  # drift on the first check
    assert any("umbrella" in t.lower() for t in texts), texts  # cannot verify, third check
    printed = log.read_text(encoding="utf-8")
    assert "slack (webhook):" in printed  # `docker compose logs simulator` shows them


def load_config_text() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose" / "cwdrift.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
