"""``cwdrift demo``: the real monitor against the bundled simulator, start to finish.

It starts the ConnectWise simulator (``config/scenarios/demo.yaml``) and a local Slack-compatible
sink on free loopback ports, writes a config from ``config/demo.yaml`` into ``workdir``, and then
drives the real command line: check, a person changes settings in "the ConnectWise UI", check
again, history. Nothing is faked beyond the simulator and the Slack sink.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from monitor.errors import CwdriftError
from monitor.resources import bundled_config_dir
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app

console = Console(highlight=False)


def run_demo(workdir: Path) -> None:
    config_dir = bundled_config_dir()
    scenario = load_scenario(config_dir / "scenarios" / "demo.yaml")
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("cwdrift.db*"):
        stale.unlink()  # every demo starts from an empty history
    config_file = workdir / "cwdrift.yaml"
    shutil.copyfile(config_dir / "demo.yaml", config_file)
    sink = SlackSink()

    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        os.environ["CWDRIFT_SIM_URL"] = sim.url
        os.environ["CWDRIFT_DEMO_SLACK_URL"] = f"{slack_url}/services/T000/B000/demo"
        step(f"ConnectWise simulator at {sim.url}; Slack sink at {slack_url}")
        cli(config_file, ["tenants"])

        step("1. First check of every tenant")
        cli(config_file, ["check"])
        slack_report(sink, 0)

        delivered = len(sink.messages)
        step(
            "2. In the ConnectWise UI, jsmith turns 'Include Sales Tax' off for acme, "
            "and mwilson turns 'Transfer Expenses as a Bill' off for globex (the fix)"
        )
        sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
        sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")

        step("3. Second check: acme drifts, globex is resolved")
        cli(config_file, ["check"])
        slack_report(sink, delivered)

        step(
            "4. Third check: no repeat for acme or initech; umbrella has now failed three "
            "times in a row, so one 'cannot verify' alert (a failed read is never drift)"
        )
        delivered = len(sink.messages)
        cli(config_file, ["check"])
        slack_report(sink, delivered)

        step("5. History: when did it change, and who changed it?")
        cli(config_file, ["history", "--tenant", "acme"])
        cli(config_file, ["history", "--tenant", "globex", "--setting", "transfer expenses"])
    console.print(
        f"\nThe demo's config and database are in {workdir}/. Try for example:\n"
        f"  .venv/bin/cwdrift --config {config_file} show --tenant initech\n"
        f"  .venv/bin/cwdrift --config {config_file} history --tenant acme --json"
    )


def step(title: str) -> None:
    console.print()
    console.print(Rule(title, align="left"))


def cli(config_file: Path, args: Sequence[str]) -> None:
    """Run a real ``cwdrift`` command in-process and show its exit status."""
    from monitor.cli.app import app

    argv = ["--config", str(config_file), *args]
    console.print(f"[dim]$ cwdrift {' '.join(argv)}[/]")
    try:
        code = app(argv, standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    except CwdriftError as exc:
        console.print(f"error: {exc}", markup=False, style="red")
        code = 2
    console.print(f"[dim](exit status {code or 0})[/]")


def slack_report(sink: SlackSink, since: int) -> None:
    new = sink.messages[since:]
    if not new:
        console.print("[dim]Slack sink: no new messages[/]")
        return
    console.print(f"Slack sink received {len(new)} message(s):")
    for message in new:
        console.print(f"  • {message.get('text', '')}", markup=False)
