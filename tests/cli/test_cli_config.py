"""Config and baseline validation through the CLI, and docs that tests keep honest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.core.baseline import load_baseline
from monitor.data import bundled_file
from monitor.errors import ConfigError
from monitor.settings import load_config
from monitor.simulator.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
SIM_ENV = {
    "CWDRIFT_SIM_URL": "http://127.0.0.1:8900",
    "CWDRIFT_DEMO_SLACK_URL": "http://127.0.0.1:8901/services/T/B/x",
}


def example_env(text: str) -> dict[str, str]:
    """A harmless value for every ${VAR} the example uses (without a default)."""
    env = dict(SIM_ENV)
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        if "DATABASE" in name or name.endswith("DB_URL"):
            # PostgreSQL: the deployment examples run in cluster mode (not contacted here).
            env.setdefault(name, "postgresql+psycopg://cwdrift@db.example/cwdrift")
        elif "WEBHOOK" in name or "SLACK" in name:
            env.setdefault(name, "https://hooks.slack.com/services/T/B/x")
        elif name.endswith("_URL"):
            env.setdefault(name, "https://example.invalid/")
        else:
            env.setdefault(name, f"example-{name.lower()}")
    return env


def config_files() -> list[Path]:
    return sorted(
        p
        for pattern in ("config/*.yaml", "deploy/**/*.yaml")
        for p in REPO.glob(pattern)
        if p.name != "baseline.yaml" and "compose" not in p.name and "scenarios" not in p.parts
    )


@pytest.mark.parametrize("path", config_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_config_passes_the_real_validator(path: Path, tmp_path: Path) -> None:
    # *_file secrets in examples point at deployment paths; give them files that exist here.
    text = path.read_text()
    for secret_path in set(re.findall(r"_file:\s*(\S+)", text)):
        local = tmp_path / Path(secret_path).name
        webhook = "webhook" in local.name
        # Long enough for any secret's rule (a web token has at least 16 characters).
        secret = "example-secret-0123456789\n"
        local.write_text("https://hooks.slack.com/services/T/B/x\n" if webhook else secret)
        text = text.replace(secret_path, str(local))
    env = example_env(text)
    copy = tmp_path / path.name
    copy.write_text(text)
    loaded = load_config(copy, env=env)
    loaded.check_against(load_baseline(loaded.baseline_path))  # waivers and fix modes too
    assert loaded.config.tenants


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "config" / "scenarios").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_every_scenario_loads(path: Path) -> None:
    assert load_scenario(path).tenants


def test_bundled_baseline_validates_through_the_cli() -> None:
    result = CliRunner().invoke(app, ["baseline", "validate"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("tenants:\n  - id: acme\n    name: A\n", "tenants[0]"),
        ("database: sqlite:///x.db\nbogus: 1\n", "bogus"),
        ("tenants: [\n", "invalid YAML"),
        (
            "tenants:\n  - id: acme\n    name: A\n    site: x\n    company_id: a\n"
            "    public_key: p\n    private_key: ${NOT_SET_ANYWHERE}\n    client_id: c\n"
            "    integration_member: m\n",
            "NOT_SET_ANYWHERE",
        ),
    ],
)
def test_broken_config_names_file_line_and_field(
    tmp_path: Path, yaml_text: str, needle: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert str(path) in message and needle in message
    assert "fix:" in message


def test_broken_config_exits_2_from_the_console_script(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "broken.yaml"
    path.write_text("tenants:\n  - id: Bad Id\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.cli.app import main; main()",
            "--config",
            str(path),
            "config",
            "validate",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{path}:2" in proc.stderr


def test_literal_secret_warns_and_secret_files_are_read(tmp_path: Path) -> None:
    secret = tmp_path / "key.txt"
    secret.write_text("from-a-file\n")
    path = tmp_path / "c.yaml"
    path.write_text(
        "tenants:\n"
        "  - {id: a, name: A, site: h, company_id: a, public_key: p, private_key: literal-one,"
        " client_id: c, integration_member: m}\n"
        "  - {id: b, name: B, site: h, company_id: b, public_key: p, private_key_file: key.txt,"
        " client_id: c, integration_member: m}\n"
    )
    loaded = load_config(path, env={})
    assert loaded.config.tenants[1].private_key.get_secret_value() == "from-a-file"
    assert len(loaded.warnings) == 1 and "tenants[0].private_key" in loaded.warnings[0]
    assert "literal-one" not in loaded.warnings[0]
    assert "literal-one" not in repr(loaded.config)


def all_commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [(*prefix, c.name or c.callback.__name__) for c in group.registered_commands]  # type: ignore[union-attr]
    for sub in group.registered_groups:
        # An unnamed group (a command module merged into the root) adds its commands at this level.
        path = (*prefix, sub.name) if sub.name else prefix
        found += all_commands(sub.typer_instance, path)  # type: ignore[arg-type]
    return found


@pytest.mark.parametrize("command", all_commands(app), ids=" ".join)
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout, f"cwdrift {' '.join(command)} --help lacks an example"


def test_a_checkout_reads_the_bundled_files_from_the_repository_folders() -> None:
    # The editable install maps monitor.data.config onto config/: edits there take effect.
    assert bundled_file("baseline.yaml") == REPO / "config" / "baseline.yaml"


def test_a_waiver_for_an_unknown_rule_is_refused_naming_where(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "tenants:\n"
        "  - id: a\n    name: A\n    site: h\n    company_id: a\n    public_key: p\n"
        "    private_key: ${K:-x}\n    client_id: c\n    integration_member: m\n"
        "    waivers:\n      - {rule: include-sales-tax-is-onn, value: 'off', reason: r,"
        " accepted_by: me, expires: 2030-01-01T00:00:00Z}\n"
    )
    result = CliRunner().invoke(app, ["--config", str(path), "config", "validate"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "include-sales-tax-is-onn" in message and "tenants[0].waivers[0].rule" in message
