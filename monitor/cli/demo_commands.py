"""``cwdrift simulate`` and ``cwdrift demo``: the simulator, and the real monitor against it.

The demo starts the ConnectWise simulator (``config/scenarios/demo.yaml``) and a local
Slack-compatible sink on free loopback ports, writes a config from ``config/demo.yaml`` into
``workdir``, and then drives the real command line: check, a person changes settings in "the
ConnectWise UI", check again, history. Nothing is faked beyond the simulator and the Slack sink.
The commands run through the root command the demo itself was invoked from, so this module does
not import the app that composes it. The demo checks its own results (each command's exit
status, each tenant's outcome in the store after each check) and exits 1 naming every surprise,
so a broken install cannot pass for a working demo.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.rule import Rule

from monitor.cli import render
from monitor.data import bundled_file
from monitor.errors import CwdriftError
from monitor.settings import load_config
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator, serve_asgi, serve_forever
from monitor.simulator.slack import SlackSink, create_slack_app
from monitor.simulator.state import SimulatorState
from monitor.store.database import Database
from monitor.store.history import tenant_summaries

commands = typer.Typer()
console = Console(highlight=False)
RunCommand = Callable[[Sequence[str]], int]

# What the demo scenario must produce after each check (umbrella's keys are revoked on purpose,
# so every check exits 2): anything else means the install or the code is broken.
CHECK_EXIT = 2
OUTCOMES_FIRST = {"acme": "compliant", "globex": "drift", "initech": "drift", "umbrella": "error"}
OUTCOMES_AFTER_CHANGE = {**OUTCOMES_FIRST, "acme": "drift", "globex": "compliant"}


@commands.command()
def simulate(
    scenario: Annotated[
        str,
        typer.Option(help="A scenario YAML file, or the name of a bundled one (demo, edge-cases)."),
    ],
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 8900,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    slack_sink: Annotated[
        bool,
        typer.Option(
            help="Also answer as Slack under /slack (webhooks: /slack/services/...), printing "
            "each message; GET /slack/messages lists them."
        ),
    ] = False,
) -> None:
    """Serve the ConnectWise Manage API simulator until interrupted.

    Example: cwdrift simulate --scenario demo --port 8900 --slack-sink
    """
    path = Path(scenario)
    if not path.exists() and "/" not in scenario and not scenario.endswith(".yaml"):
        path = bundled_file(f"scenarios/{scenario}.yaml")
    state_ = SimulatorState(load_scenario(path))
    render.out.print(f"ConnectWise simulator on http://{host}:{port} (Ctrl-C to stop)")
    sink = None
    if slack_sink:
        sink = SlackSink(echo=_print_slack_message)
        render.out.print(f"Slack-compatible sink on http://{host}:{port}/slack/services/...")
    serve_forever(state_, host=host, port=port, slack=sink)


def _print_slack_message(message: dict[str, Any]) -> None:
    render.out.print(f"slack ({message['via']}): {message.get('text', '')}", markup=False)


@commands.command()
def demo(
    ctx: typer.Context,
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and config.")
    ] = Path("demo-out"),
) -> None:
    """Run the real monitor against the bundled simulator: check, change a setting, check again.

    Example: cwdrift demo
    """
    root = ctx.find_root().command

    def run(argv: Sequence[str]) -> int:
        return _run_command(root, argv)

    problems = run_demo(workdir, run)
    if problems:
        console.print("\nThe demo did not go as expected:", style="bold red")
        for problem in problems:
            console.print(f"  - {problem}", markup=False, style="red")
        raise typer.Exit(1)


def run_demo(workdir: Path, run: RunCommand) -> list[str]:
    """Run the demo; returns what did not go as the scenario says it must (empty: all did)."""
    problems: list[str] = []
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("cwdrift.db*"):
        stale.unlink()  # every demo starts from an empty history
    config_file = workdir / "cwdrift.yaml"
    shutil.copyfile(bundled_file("demo.yaml"), config_file)
    sink = SlackSink()

    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        os.environ["CWDRIFT_SIM_URL"] = sim.url
        os.environ["CWDRIFT_DEMO_SLACK_URL"] = f"{slack_url}/services/T000/B000/demo"
        step(f"ConnectWise simulator at {sim.url}; Slack sink at {slack_url}")
        problems += cli(run, config_file, ["tenants"])

        step("1. First check of every tenant")
        problems += cli(run, config_file, ["check"], expect=CHECK_EXIT)
        problems += outcomes(config_file, OUTCOMES_FIRST, "after the first check")
        slack_report(sink, 0)

        delivered = len(sink.messages)
        step(
            "2. In the ConnectWise UI, jsmith turns 'Include Sales Tax' off for acme, "
            "and mwilson turns 'Transfer Expenses as a Bill' off for globex (the fix)"
        )
        sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
        sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")

        step("3. Second check: acme drifts, globex is resolved")
        problems += cli(run, config_file, ["check"], expect=CHECK_EXIT)
        problems += outcomes(config_file, OUTCOMES_AFTER_CHANGE, "after the second check")
        slack_report(sink, delivered)

        step(
            "4. Third check: no repeat for acme or initech; umbrella has now failed three "
            "times in a row, so one 'cannot verify' alert (a failed read is never drift)"
        )
        delivered = len(sink.messages)
        problems += cli(run, config_file, ["check"], expect=CHECK_EXIT)
        problems += outcomes(config_file, OUTCOMES_AFTER_CHANGE, "after the third check")
        slack_report(sink, delivered)

        step("5. History: when did it change, and who changed it?")
        problems += cli(run, config_file, ["history", "--tenant", "acme"])
        problems += cli(
            run, config_file, ["history", "--tenant", "globex", "--setting", "transfer expenses"]
        )
        if not sink.messages:
            problems.append("no alert reached the Slack sink")
    console.print(
        f"\nThe demo's config and database are in {workdir}/. Try for example:\n"
        f"  .venv/bin/cwdrift --config {config_file} show --tenant initech\n"
        f"  .venv/bin/cwdrift --config {config_file} history --tenant acme --json"
    )
    return problems


def step(title: str) -> None:
    console.print()
    console.print(Rule(title, align="left"))


def cli(run: RunCommand, config_file: Path, args: Sequence[str], *, expect: int = 0) -> list[str]:
    """Run a real ``cwdrift`` command in-process, show its exit status, and say if unexpected."""
    argv = ["--config", str(config_file), *args]
    console.print(f"[dim]$ cwdrift {' '.join(argv)}[/]")
    code = run(argv)
    console.print(f"[dim](exit status {code})[/]")
    if code != expect:
        return [f"`cwdrift {' '.join(args)}` exited {code}, expected {expect}"]
    return []


def outcomes(config_file: Path, expected: dict[str, str], when: str) -> list[str]:
    """Each tenant's newest outcome in the store, compared with what the scenario must give."""
    db = Database(load_config(config_file).config.database)
    try:
        with db.session() as session:
            found = {s.tenant_id: s for s in tenant_summaries(session)}
    finally:
        db.dispose()
    problems = []
    for tenant, outcome in expected.items():
        summary = found.get(tenant)
        got = summary.outcome.value if summary and summary.outcome else "never checked"
        if got != outcome:
            why = f" ({summary.error_message})" if summary and summary.error_message else ""
            problems.append(f"{tenant} is {got} {when}, expected {outcome}{why}")
    return problems


def _run_command(root: Any, argv: Sequence[str]) -> int:
    # ``root`` is typer's click Command (typer vendors click; its type is not click's).
    try:
        code = root.main(list(argv), prog_name="cwdrift", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    except CwdriftError as exc:
        console.print(f"error: {exc}", markup=False, style="red")
        code = 2
    return int(code or 0)


def slack_report(sink: SlackSink, since: int) -> None:
    new = sink.messages[since:]
    if not new:
        console.print("[dim]Slack sink: no new messages[/]")
        return
    console.print(f"Slack sink received {len(new)} message(s):")
    for message in new:
        console.print(f"  • {message.get('text', '')}", markup=False)
