"""`--json` on every command that prints data, parsed: the shapes scripts rely on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from cli_env import Env

from monitor.cli.app import app
from monitor.data import bundled_file

BUNDLED_BASELINE = bundled_file("baseline.yaml")

# command -> (arguments after the command, keys its JSON object must have). Run in this order on
# one store, so later commands have something to show (a waiver, a silence to expire).
JSON_COMMANDS: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "check": (("--tenant", "acme"), {"checked_at", "tenants"}),
    "tenants": ((), {"tenants"}),
    "config validate": ((), {"config", "ok", "tenants", "baseline", "rules", "warnings"}),
    "baseline validate": ((), {"baseline", "version", "rules"}),
    "history": (("--tenant", "acme"), {"tenant", "changes"}),
    "show": (("--tenant", "acme", "--failing"), {"tenant", "settings", "unknown", "findings"}),
    "timeline": (("--tenant", "acme", "--setting", "sales tax"), {"tenant", "setting", "periods"}),
    "waive": (
        ("--tenant", "acme", "--rule", "include-sales-tax-is-on", "--value", "off",
         "--reason", "r", "--by", "jo", "--expires", "30d"),
        {"action", "tenant", "rule", "value", "expires", "warnings"},
    ),
    "waivers": ((), {"waivers"}),
    "silence add": (
        ("--tenant", "acme", "--reason", "r", "--author", "ana", "--expires", "2d"), {"silence"}
    ),
    "silence list": ((), {"silences"}),
    "silence expire": (("1",), {"silence"}),
    "status": ((), {"daemon", "cluster", "tenants", "channels", "silences"}),
    "prune": ((), {"deleted", "older_than"}),
    "db migrate": ((), {"database", "revision"}),
    "baseline diff": (("builtin", "builtin"), {"old", "new", "counts", "rules"}),
    "baseline preview": ((str(BUNDLED_BASELINE),), {"counts"}),
    "alerts retry": ((), set()),
    "fix": (("--tenant", "acme"), {"tenant", "applied", "rules", "write_credentials"}),
    "tickets check": ((), {"channels"}),
}  # fmt: skip

# Commands with no --json, and why.
NO_JSON = {
    "run": "the daemon: it logs (JSON when not on a terminal), it prints no data",
    "simulate": "serves the simulator until interrupted",
    "demo": "a guided tour for people",
    "report": "--format json",
    "export": "--format json",
    "db migrate-to": "prints the tables as it copies them",
    "web": "serves the web view until interrupted (each page has ?format=json)",
}


def leaf_commands(command: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(name, command) of every runnable command. Typer's click is its own copy: duck-typed."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield prefix, command
        return
    for name, sub in subcommands.items():
        yield from leaf_commands(sub, f"{prefix} {name}".strip())


def has_json(command: Any) -> bool:
    return any("--json" in getattr(p, "opts", ()) for p in command.params)


def test_every_command_has_json_or_a_reason_not_to() -> None:
    commands = dict(leaf_commands(typer.main.get_command(app)))
    with_json = {name for name, command in commands.items() if has_json(command)}
    assert with_json == set(JSON_COMMANDS)
    assert set(commands) - with_json == set(NO_JSON)


@pytest.fixture
def store(demo_env: Env) -> Env:
    demo_env.run("check", "--tenant", "acme")
    demo_env.sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
    return demo_env


def test_every_json_output_parses(store: Env) -> None:
    for name, (args, keys) in JSON_COMMANDS.items():
        code, out = store.run(*name.split(), *args, "--json")
        assert code in (0, 1), f"{name}: {out}"  # 1: check found the drift
        data: Any = json.loads(out)
        assert isinstance(data, dict) and keys <= set(data), f"{name}: {sorted(data)}"
    for name in ("report", "export"):
        args = ("--tenant", "acme") if name == "export" else ()
        code, out = store.run(name, *args, "--format", "json")
        assert code == 0 and isinstance(json.loads(out), dict)
