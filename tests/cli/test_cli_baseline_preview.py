"""``baseline preview`` and ``baseline diff`` on a store built by REAL checks (the simulator over
HTTP), and the daemon's reload previewing a new baseline first. No preview asks ConnectWise: the
simulator's request log stays empty.

The story: the config's baseline is the bundled one *loosened* to require only "Edit - My" on
Finance > Invoicing (rule ``role-grants-invoicing-edit-all``); the tight one is the bundled one.

    11-02 09:00  check: globex and initech grant Invoicing Edit "My", acme "All"; initech also
                 lacks Invoicing Delete (fails under both baselines); umbrella's key is revoked
    11-09 09:00  initech's admin raises Invoicing Edit to "All"; check again
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.connectwise.session import SharedHttp
from monitor.daemon.node import node_daemon
from monitor.data import bundled_file
from monitor.jobs.check import check_many
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import RunningSimulator, running_simulator

RULE = "role-grants-invoicing-edit-all"
DELETE_RULE = "role-grants-invoicing-delete-all"

TENANT = """  - id: {id}
    name: {name}
    site: {site}
    company_id: {id}
    public_key: {public}
    private_key: {private}
    client_id: 00000000-0000-4000-8000-000000000001
    integration_member: GozyntaAPI
"""
KEYS = {
    "acme": ("Acme Corporation", "acmepub00000001", "fake-acme-private-key-0001"),
    "globex": ("Globex Corporation", "globexpub000001", "fake-globex-private-key-0001"),
    "initech": ("Initech", "initechpub00001", "fake-initech-private-key-0001"),
    "umbrella": ("Umbrella Corporation", "umbrellapub0001", "revoked-umbrella-private-key"),
}


@dataclass
class Store:
    sim: RunningSimulator
    workdir: Path
    database: Path
    loose: Path
    tight: Path

    def config(self, directory: Path, baseline: Path, database: Path | None = None) -> Path:
        tenants = "".join(
            TENANT.format(id=t, name=name, site=self.sim.url, public=public, private=private)
            for t, (name, public, private) in KEYS.items()
        )
        path = directory / f"cwdrift-{baseline.stem}.yaml"
        path.write_text(
            f"database: sqlite:///{database or self.database}\nbaseline: {baseline}\n"
            f"tenants:\n{tenants}"
        )
        return path


def loosened(bundled: str) -> str:
    """The bundled baseline with the one rule asking for "My" instead of "All"."""
    head, rule = bundled.split(f"  - id: {RULE}\n", 1)
    return f"{head}  - id: {RULE}\n" + rule.replace("level: All", "level: My", 1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    workdir = tmp_path_factory.mktemp("baseline-preview")
    bundled = bundled_file("baseline.yaml").read_text(encoding="utf-8")
    loose, tight = workdir / "loose.yaml", workdir / "tight.yaml"
    loose.write_text(loosened(bundled))
    tight.write_text(bundled)
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as sim:
        made = Store(sim, workdir, workdir / "cwdrift.db", loose, tight)
        loaded = load_config(made.config(workdir, loose))

        def check_all(at: str) -> None:
            async def run(rt: Runtime) -> None:
                async with rt:
                    await check_many(rt, rt.config.tenants)

            with freeze_time(at, real_asyncio=True):
                rt = Runtime.open(loaded)
                asyncio.run(run(rt))
                rt.db.dispose()

        for tenant in ("globex", "initech"):
            sim.state.set_permission(tenant, "Gozynta API", "Finance", "Invoicing", edit="My")
        check_all("2026-11-02T09:00:00Z")
        with freeze_time("2026-11-09T08:00:00Z"):
            sim.state.set_permission(
                "initech", "Gozynta API", "Finance", "Invoicing", edit="All", by="jsmith"
            )
        check_all("2026-11-09T09:00:00Z")
        assert sim.state.requests  # the checks really read ConnectWise
        yield made


def preview(store: Store, config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``baseline preview --json``: its exit code and output; it must not reach ConnectWise."""
    store.sim.state.clear_requests()
    result = CliRunner().invoke(
        app, ["--config", str(config), "baseline", "preview", *args, "--json"]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert store.sim.state.requests == []  # not one ConnectWise request
    data: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, data


def flipped(data: dict[str, Any]) -> list[tuple[str, str, str, str | None, str | None]]:
    return [
        (
            f["tenant"],
            f["rule"],
            f["kind"],
            f["before"] and f["before"]["status"],
            f["after"] and f["after"]["status"],
        )
        for f in data["flips"]
    ]


def test_tightening_a_rule_flips_exactly_the_tenants_that_violate_it(store: Store) -> None:
    code, data = preview(store, store.config(store.workdir, store.loose), str(store.tight))
    assert code == 1  # new failures
    assert flipped(data) == [("globex", RULE, "fails", "pass", "fail")]
    (flip,) = data["flips"]
    assert (flip["after"]["expected"], flip["after"]["actual"]) == ("All", "My")
    assert data["newly_failing_tenants"] == ["globex"]
    assert data["tenants_previewed"] == ["acme", "globex", "initech"]
    assert data["tenants_without_snapshot"] == ["umbrella"]  # its key never worked
    assert data["rules"] == [
        {
            "rule": RULE,
            "change": "changed",
            "fields": [{"field": "level", "old": "My", "new": "All"}],
        }
    ]
    # initech's unrelated failure (Invoicing Delete) fails under both: it is no flip
    assert DELETE_RULE not in {f["rule"] for f in data["flips"]}


def test_loosening_it_again_flips_them_back(store: Store) -> None:
    code, data = preview(store, store.config(store.workdir, store.tight), str(store.loose))
    assert code == 0  # nothing newly fails
    assert flipped(data) == [("globex", RULE, "passes", "fail", "pass")]
    assert data["counts"]["passes"] == 1 and data["new_failures"] == 0


def test_at_a_past_time_uses_the_configurations_then_in_force(store: Store) -> None:
    config = store.config(store.workdir, store.loose)
    code, data = preview(store, config, str(store.tight), "--at", "2026-11-05T00:00:00Z")
    assert code == 1
    # on 11-05 initech still granted only "My": it would have failed too
    assert [(t, kind) for t, _, kind, _, _ in flipped(data)] == [
        ("globex", "fails"),
        ("initech", "fails"),
    ]
    # before the first check there is nothing to preview
    code, data = preview(store, config, str(store.tight), "--at", "2026-11-01")
    assert (code, data["flips"], data["tenants_previewed"]) == (0, [], [])


def test_tenant_filter_and_the_same_baseline(store: Store) -> None:
    config = store.config(store.workdir, store.loose)
    code, data = preview(store, config, str(store.tight), "--tenant", "acme")
    assert (code, data["flips"], data["tenants_previewed"]) == (0, [], ["acme"])
    code, data = preview(store, config, str(store.loose))
    assert (code, data["rules"], data["flips"]) == (0, [], [])


def test_text_output_names_the_flip_and_the_summary(store: Store) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(store.config(store.workdir, store.loose)),
            "baseline",
            "preview",
            str(store.tight),
        ],
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    flip_at = lines.index("pass -> fail (1)")
    assert lines[flip_at + 1 : flip_at + 5] == [
        f"  globex (Globex Corporation): {RULE} [high]",
        "      Finance > Invoicing: Edit - All",
        "      before: pass, expected My, actual My",
        "      after:  fail, expected All, actual My",
    ]
    text = " ".join(result.stdout.split())
    assert f"changed {RULE} level: 'My' -> 'All'" in text
    assert "not previewed (no stored configuration: never read successfully): umbrella" in text
    assert f"baseline preview {store.tight}: 1 of 3 tenants would newly fail (globex)" in text


def test_diff_shows_rule_level_differences(store: Store) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["baseline", "diff", str(store.loose), "builtin"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{store.loose} -> builtin: 1 rules changed, 0 rules added, 0 rules removed",
        f"  changed  {RULE}",
        "             level: 'My' -> 'All'",
    ]
    trimmed = store.workdir / "trimmed.yaml"  # the bundled baseline without the rule
    head, rule_and_rest = store.tight.read_text().split(f"  - id: {RULE}\n", 1)
    trimmed.write_text(head + rule_and_rest.split("\n\n", 1)[1])
    result = runner.invoke(app, ["baseline", "diff", "builtin", str(trimmed), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"] == {"changed": 0, "added": 0, "removed": 1}
    assert data["rules"] == [{"rule": RULE, "change": "removed", "fields": []}]


def test_a_bad_proposed_baseline_is_one_clear_line(store: Store) -> None:
    broken = store.workdir / "broken.yaml"
    broken.write_text("version: 1\nrules: []\n")
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(store.config(store.workdir, store.loose)),
            "baseline",
            "preview",
            str(broken),
        ],
    )
    assert result.exit_code != 0
    assert "'rules' must be a non-empty list" in str(result.exception)


async def test_a_reload_whose_baseline_would_newly_fail_a_tenant_logs_the_preview_first(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "copy.db"
    shutil.copyfile(store.database, database)  # the daemon's own checks stay out of the story
    loose_config = store.config(tmp_path, store.loose, database)
    config = tmp_path / "cwdrift.yaml"
    shutil.copyfile(loose_config, config)
    http = SharedHttp()
    daemon, _ = node_daemon(config, http=http)
    caplog.set_level(logging.INFO, logger="cwdrift")
    try:
        await daemon.start()
        # the same tenants, the tight baseline: globex would newly fail
        shutil.copyfile(store.config(tmp_path, store.tight, database), config)
        assert await daemon.reload()
        # a baseline that does not load is refused, and the tight one stays in force
        broken = tmp_path / "broken.yaml"
        broken.write_text("version: 1\nrules: []\n")
        shutil.copyfile(store.config(tmp_path, broken, database), config)
        assert not await daemon.reload()
    finally:
        await daemon.shutdown()
        await http.aclose()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    preview_at = next(
        i for i, (_, m) in enumerate(messages) if m.startswith("new baseline on reload:")
    )
    level, text = messages[preview_at]
    assert level == logging.WARNING
    assert "1 of 3 tenants would newly fail (globex)" in text
    reloaded_at = next(i for i, (_, m) in enumerate(messages) if m.startswith("config reloaded"))
    assert preview_at < reloaded_at  # the summary comes before the new baseline applies
    assert any(
        m.startswith("reload failed, keeping the previous config") and "non-empty list" in m
        for _, m in messages
    )
