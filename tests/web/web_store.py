"""A real history for the web tests: the demo's tenants checked by the real command line against
the simulator over real HTTP, on three days, with people changing settings in between.

    DAY1 09:00  first check: acme compliant, globex and initech drift, umbrella unreadable
    DAY1 10:00  `cwdrift fix --apply` turns globex's "Transfer Expenses as a Bill" off
                jsmith turns acme's "Include Sales Tax" off; a caption with markup is
                typed into initech's GL setup
    DAY2 09:00  second check: acme drifts, globex resolved
    DAY3 09:00  third check: nothing new

Initech's name in the config is ``<script>alert(1)</script>``, and the person who last edited
acme's accounting setup signs as ``<b>jsmith</b>``: every page must show both as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from freezegun import freeze_time
from starlette.applications import Starlette
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.cli.demo_commands import write_demo_config
from monitor.settings import LoadedConfig, load_config
from monitor.simulator.server import RunningSimulator
from monitor.store import Database
from monitor.web.health import Health, health_routes, templates_probe
from monitor.web.serve import web_app_for

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
DAY3 = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
FIXED = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # cwdrift fix --apply, for globex
BEFORE_CHANGE = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # between the first and second check
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_EDITOR = "<b>jsmith</b>"
HOSTILE_CAPTION = '<img src=x onerror="alert(2)">'
SALES_TAX = "accounting.includeSalesTaxFlag"
SALES_TAX_RULE = "include-sales-tax-is-on"
EXPENSES_RULE = "transfer-expenses-as-bill-is-off"
FIXER = "ops@msp.example"
WEEK = "2026-W45"  # the week of the three days
NOW = DAY3.replace(hour=12)  # the pages' clock: three hours after the last check


@dataclass(frozen=True)
class WebStore:
    config: Path
    loaded: LoadedConfig
    sim: RunningSimulator


def write_config(folder: Path, sim: RunningSimulator, *, extra: str = "") -> Path:
    """The demo config against ``sim``, initech renamed to markup, ``extra`` YAML appended."""
    config = folder / "cwdrift.yaml"
    write_demo_config(config, sim_url=sim.url, slack_url="http://127.0.0.1:9/services/T/B/x")
    text = config.read_text(encoding="utf-8").replace(
        "name: Initech\n", f'name: "{HOSTILE_NAME}"\n'
    )
    config.write_text(text + extra, encoding="utf-8")
    return config


def cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.stdout


def build_history(config: Path, sim: RunningSimulator) -> LoadedConfig:
    """Three checks on three days, the people's changes between the first two."""
    with freeze_time(DAY1, real_asyncio=True):
        cli(config, "check")
    with freeze_time(FIXED, real_asyncio=True):  # cwdrift fixes globex: written, re-read
        cli(config, "fix", "--tenant", "globex", "--rule", EXPENSES_RULE, "--apply", "--yes",
            "--by", FIXER)  # fmt: skip
    sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by=HOSTILE_EDITOR)
    sim.state.set_segment("initech", 2, caption=HOSTILE_CAPTION, by="ana")
    with freeze_time(DAY2, real_asyncio=True):
        cli(config, "check")
    with freeze_time(DAY3, real_asyncio=True):
        cli(config, "check")
    return load_config(config, connectwise=False)


def app_for(
    store: WebStore, db: Database, *, host: str = "127.0.0.1", now: datetime = NOW
) -> Starlette:
    """The app a server on ``host`` runs: pages, login, health; the clock fixed at ``now``."""
    health = Health({"templates": templates_probe()})
    return web_app_for(lambda: store.loaded, db, host, health_routes(health), clock=lambda: now)
