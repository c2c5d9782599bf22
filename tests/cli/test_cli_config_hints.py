"""Every hint that names a command or a config key is followed here, literally, and works.

A hint is read from the error line as a user would: the command in backticks is run, the key in
quotes is edited, and the original command then succeeds.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from bad_configs import config, tenant
from cli_env import Outcome, run_main
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store.scratch import scratch_postgres


def fix_of(outcome: Outcome) -> str:
    assert outcome.code == 2, outcome.stdout + outcome.stderr
    [line] = outcome.stderr.splitlines()
    return line.split("(fix: ", 1)[1].removesuffix(")")


def commands_in(hint: str) -> list[list[str]]:
    """The commands a hint names in backticks, as argument lists (without 'cwdrift')."""
    found = [shlex.split(c) for c in re.findall(r"`([^`]+)`", hint)]
    assert found and all(c[0] == "cwdrift" for c in found), hint
    return [c[1:] for c in found]


def test_an_unusable_database_hint_names_the_real_key_and_command(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config().replace("sqlite:///cwdrift.db", f"sqlite:///{blocker}/cwdrift.db"))

    hint = fix_of(run_main("--config", str(path), "status", "--json"))

    # The key it names exists in the config file: set it to a usable database ...
    [key] = re.findall(r"'(\w+):' in the config", hint)
    text_before = path.read_text()
    assert re.search(rf"^{key}: ", text_before, re.MULTILINE)
    path.write_text(
        re.sub(rf"^{key}: .*$", f"{key}: sqlite:///fresh.db", text_before, flags=re.MULTILINE)
    )
    # ... and the command it names creates the schema.
    [command] = commands_in(hint)
    assert command == ["db", "migrate"]
    migrated = run_main("--config", str(path), *command)
    assert migrated.code == 0, migrated.stderr
    assert run_main("--config", str(path), "status", "--json").code == 0


@pytest.mark.postgres
def test_migrate_to_a_missing_database_hint_is_followed_to_success(
    tmp_path: Path, postgres_url: str
) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config())
    assert run_main("--config", str(path), "db", "migrate").code == 0
    with scratch_postgres(postgres_url, prefix="cwdrift_hint") as existing:
        target = make_url(existing)
        missing = target.set(database=f"{target.database}_new")
        missing_url = missing.render_as_string(hide_password=False)

        outcome = run_main("--config", str(path), "db", "migrate-to", missing_url)
        hint = fix_of(outcome)
        assert "database.url" not in hint and "`cwdrift migrate`" not in hint
        assert "createdb" in hint
        [command] = commands_in(hint)
        assert command == ["db", "migrate-to"]

        admin = create_engine(target, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:  # what `createdb` does
                connection.execute(text(f'CREATE DATABASE "{missing.database}"'))
            done = run_main("--config", str(path), *command, missing_url)
            assert done.code == 0, done.stderr
            assert "copied" in done.stdout
        finally:
            with admin.connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{missing.database}" WITH (FORCE)')
                )
            admin.dispose()


def test_a_waiver_for_a_mistyped_rule_suggests_the_rule_that_validates(tmp_path: Path) -> None:
    waiver = (
        "    waivers:\n"
        "      - {rule: include-sales-tax-is-onn, value: 'off', reason: r, accepted_by: me,"
        " expires: 2030-01-01T00:00:00Z}\n"
    )
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config(tenants=tenant(extra=waiver)))

    hint = fix_of(run_main("--config", str(path), "config", "validate"))

    [suggested] = re.findall(r"did you mean '([\w-]+)'\?", hint)
    assert "the bundled baseline (config/baseline.yaml)" in hint
    path.write_text(path.read_text().replace("include-sales-tax-is-onn", suggested))
    validated = run_main("--config", str(path), "config", "validate")
    assert validated.code == 0, validated.stderr


def test_a_mistyped_setting_suggests_the_real_one(tmp_path: Path) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config(tenants=tenant(extra="    shedule: {every: 2h}\n")))

    hint = fix_of(run_main("--config", str(path), "config", "validate"))

    [suggested] = re.findall(r"rename it to '(\w+)'", hint)
    path.write_text(path.read_text().replace("shedule:", f"{suggested}:"))
    assert run_main("--config", str(path), "config", "validate").code == 0


def test_an_unset_variable_hint_works_as_written(tmp_path: Path) -> None:
    path = tmp_path / "cwdrift.yaml"
    path.write_text(config(tenants=tenant(site="${CWDRIFT_TEST_HINT_SITE}")))

    hint = fix_of(run_main("--config", str(path), "config", "validate"))

    [name] = re.findall(r"export (\w+)=", hint)
    assert (
        run_main(
            "--config", str(path), "config", "validate", env={name: "na.myconnectwise.net"}
        ).code
        == 0
    )
    [default] = re.findall(r"use (\$\{\w+:-default\})", hint)
    path.write_text(path.read_text().replace("${CWDRIFT_TEST_HINT_SITE}", default))
    assert run_main("--config", str(path), "config", "validate").code == 0
