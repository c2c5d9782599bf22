"""``cwdrift web``: it needs only the database, and refuses, in one line, what is not safe."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from web_process import cwdrift_process
from web_store import WebStore

SCRIPT = [sys.executable, "-m", "monitor"]


def cwdrift(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCRIPT, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("CWDRIFT_")},
    )


@contextmanager
def serving(config: Path, *args: str) -> Iterator[str]:
    """``cwdrift web`` on a free port; yields its URL."""
    with cwdrift_process(
        "--config", str(config), "web", "--port", "0", *args, listening="cwdrift web view on"
    ) as (url, _):
        yield url


def config_copy(store: WebStore, folder: Path, extra: str = "", keys: bool = True) -> Path:
    """The store's config (same database); ``keys=False`` leaves every secret unresolvable."""
    text = store.config.read_text(encoding="utf-8")
    if not keys:
        text = re.sub(r"private_key: .*", "private_key: ${NOT_SET_ANYWHERE}", text)
        text = re.sub(r"site: .*", "site: ${NOT_SET_EITHER}", text)
    text = text.replace("sqlite:///cwdrift.db", f"sqlite:///{store.config.parent}/cwdrift.db")
    copy = folder / "cwdrift.yaml"
    copy.write_text(text + extra, encoding="utf-8")
    return copy


def test_web_needs_only_the_database(web_store: WebStore, tmp_path: Path) -> None:
    config = config_copy(web_store, tmp_path, keys=False)
    with serving(config) as base:
        fleet = httpx.get(base + "/", params={"format": "json"}, timeout=30)
        assert fleet.status_code == 200 and fleet.json()["total"] == 4
        assert httpx.get(base + "/healthz", timeout=30).json()["status"] == "ok"


def test_off_loopback_without_a_token_it_refuses_to_start(
    web_store: WebStore, tmp_path: Path
) -> None:
    config = config_copy(web_store, tmp_path)
    done = cwdrift(config, "web", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: web: the pages would be open to the network on 0.0.0.0 without an access "
        "token (fix: set web.token (or web.token_file), or listen on 127.0.0.1)"
    ]


def test_off_loopback_without_tls_it_refuses_to_start(web_store: WebStore, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("a-long-enough-token-for-tests\n")
    config = config_copy(web_store, tmp_path, "web:\n  token_file: token\n")
    done = cwdrift(config, "web", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "the token would cross the network unencrypted on 0.0.0.0" in done.stderr
    assert "web.behind_tls_proxy: true" in done.stderr
    assert "a-long-enough-token" not in done.stderr + done.stdout


def test_the_file_says_so_too_naming_the_line(web_store: WebStore, tmp_path: Path) -> None:
    config = config_copy(web_store, tmp_path, "web:\n  host: 0.0.0.0\n  token: short\n")
    done = cwdrift(config, "config", "validate")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any(re.search(r"cwdrift\.yaml:\d+: web\.token: must be at least 16", x) for x in lines)
    assert "short" not in done.stderr.replace("a short token", "")


def test_a_literal_token_is_a_warning_and_token_file_is_quiet(
    web_store: WebStore, tmp_path: Path
) -> None:
    literal = config_copy(web_store, tmp_path, "web:\n  token: literal-token-0123456789\n")
    done = cwdrift(literal, "config", "validate")
    assert "literal secret in the config file; use ${VAR} or token_file" in done.stderr
    assert "literal-token-0123456789" not in done.stderr
    (tmp_path / "token").write_text("file-token-0123456789\n")
    quiet = config_copy(web_store, tmp_path, "web:\n  token_file: token\n")
    assert "literal secret" not in cwdrift(quiet, "config", "validate").stderr


def test_a_port_in_use_is_one_line(web_store: WebStore, tmp_path: Path) -> None:
    config = config_copy(web_store, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cwdrift(config, "web", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: web.port: cannot listen on 127.0.0.1:{port}")
    assert len(done.stderr.strip().splitlines()) == 1


def test_with_a_token_it_serves_behind_a_proxy(web_store: WebStore, tmp_path: Path) -> None:
    token = "proxy-token-0123456789abcdef"
    (tmp_path / "token").write_text(token)
    config = config_copy(
        web_store, tmp_path, "web:\n  token_file: token\n  behind_tls_proxy: true\n"
    )
    with serving(config, "--host", "0.0.0.0") as base:
        local = base.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(local + "/", timeout=30).status_code == 401
        assert httpx.get(local + "/metrics", timeout=30).status_code == 200
        allowed = httpx.get(local + "/", headers={"authorization": f"Bearer {token}"}, timeout=30)
        assert allowed.status_code == 200 and token not in allowed.text


def test_a_node_off_loopback_without_a_token_serves_health_only(
    web_store: WebStore, tmp_path: Path
) -> None:
    """A container binds 0.0.0.0 for its probes: those keep working, the pages stay off, and
    the log says why and how to turn them on."""
    config = config_copy(web_store, tmp_path)
    args = ("--config", str(config), "run", "--health-host", "0.0.0.0", "--health-port", "0")
    with cwdrift_process(*args, listening="listening on") as (url, lines):
        local = url.replace("0.0.0.0", "127.0.0.1")
        deadline = time.monotonic() + 60  # the scheduler starts just after the port opens
        while httpx.get(local + "/healthz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "/healthz never answered 200"
            time.sleep(0.1)
        assert httpx.get(local + "/", timeout=30).status_code == 404
    assert any("web pages not served on 0.0.0.0" in line and "web.token" in line for line in lines)
