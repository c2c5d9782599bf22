"""``cwdrift simulate`` and ``cwdrift demo``: the simulator, and the real monitor against it.

The demo starts the ConnectWise simulator (``config/scenarios/demo.yaml``) and a local
Slack-compatible sink on free loopback ports, writes a config from ``config/demo.yaml`` into
``workdir`` (with their URLs written in, so the copy needs no environment variable), and then
drives the real command line: check, a person changes settings in "the ConnectWise UI", check
again, history. Nothing is faked beyond the simulator and the Slack sink. Every command it
prints is a shell line that works as pasted; the ones it suggests at the end read only the
database, so they work after the demo (and its simulator) has ended.
The commands run through the root command the demo itself was invoked from, so this module does
not import the app that composes it. The demo checks its own results (each command's exit
status, each tenant's outcome in the store after each check) and exits 1 naming every surprise,
so a broken install cannot pass for a working demo.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.rule import Rule

from monitor.cli import render
from monitor.clock import utcnow
from monitor.data import bundled_file
from monitor.errors import CwdriftError

if TYPE_CHECKING:  # the simulator (Starlette, uvicorn) is imported by the commands
    from monitor.simulator.slack import SlackSink

commands = typer.Typer()
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
    from monitor.simulator.scenario import load_scenario
    from monitor.simulator.server import serve_forever
    from monitor.simulator.slack import SlackSink
    from monitor.simulator.state import SimulatorState

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
        render.out.print()
        render.out.print("The demo did not go as expected:", style="bold red")
        for problem in problems:
            render.out.print(f"  - {problem}", style="red", soft_wrap=True)
        raise typer.Exit(1)


# The demo config's placeholders for the endpoints the demo starts (config/demo.yaml).
SIM_URL_VAR, SLACK_URL_VAR = "${CWDRIFT_SIM_URL}", "${CWDRIFT_DEMO_SLACK_URL}"


def run_demo(workdir: Path, run: RunCommand) -> list[str]:
    """Run the demo; returns what did not go as the scenario says it must (empty: all did)."""
    from monitor.simulator.scenario import load_scenario
    from monitor.simulator.server import running_simulator, serve_asgi
    from monitor.simulator.slack import SlackSink, create_slack_app

    problems: list[str] = []
    scenario = load_scenario(bundled_file("scenarios/demo.yaml"))
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("cwdrift.db*"):
        stale.unlink()  # every demo starts from an empty history
    config_file = workdir / "cwdrift.yaml"
    sink = SlackSink()

    with running_simulator(scenario) as sim, serve_asgi(create_slack_app(sink)) as slack_url:
        webhook = f"{slack_url}/services/T000/B000/demo"
        write_demo_config(config_file, sim_url=sim.url, slack_url=webhook)
        step("0. The simulated ConnectWise and a local Slack sink")
        detail(f"ConnectWise simulator at {sim.url}, Slack sink at {slack_url}")
        problems += cli(run, config_file, ["tenants"])

        step("1. First check of every tenant")
        problems += cli(run, config_file, ["check"], expect=CHECK_EXIT)
        problems += outcomes(config_file, OUTCOMES_FIRST, "after the first check")
        slack_report(sink, 0)

        delivered = len(sink.messages)
        step("2. Two people change settings in the ConnectWise UI")
        detail(
            "jsmith turns 'Include Sales Tax' off for acme; mwilson turns 'Transfer Expenses "
            "as a Bill' off for globex (the fix)"
        )
        sim.state.set_accounting("acme", "includeSalesTaxFlag", False, by="jsmith")
        sim.state.set_accounting("globex", "transferExpensesAsBillFlag", False, by="mwilson")

        step("3. Second check: acme drifts, globex is resolved")
        problems += cli(run, config_file, ["check"], expect=CHECK_EXIT)
        problems += outcomes(config_file, OUTCOMES_AFTER_CHANGE, "after the second check")
        slack_report(sink, delivered)

        step("4. Third check: nothing repeats; umbrella cannot be verified")
        detail(
            "no repeat for acme or initech; umbrella has now failed three times in a row, so "
            "one 'cannot verify' alert (a failed read is never drift)"
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
    step("Next: try these (they read only the demo's database)")
    for args in follow_ups():
        render.out.print(f"  {typed(config_file, args)}", soft_wrap=True)
    port = sim.url.rsplit(":", 1)[1]
    detail(
        f"The demo's config and database are in {shell_path(workdir)}/. The check commands "
        "above need the simulator: start it again in another shell with "
        f"{cwdrift_executable()} simulate --scenario demo --port {port}"
    )
    render.out.print()
    render.out.print("The web view of the demo's database (fleet, tenants, timelines, alerts):")
    render.out.print(f"  {typed(config_file, dashboard_command())}", soft_wrap=True)
    detail(f"then open {dashboard_url()} in a browser (Ctrl-C stops it)")
    return problems


def dashboard_url() -> str:
    """Where ``cwdrift web`` serves the demo's database: web:'s defaults."""
    from monitor.settings import WebConfig

    web = WebConfig()
    return f"http://{web.host}:{web.port}/"


def dashboard_command() -> list[str]:
    """What serves the web view over the demo's database (the demo does not start it)."""
    return ["web"]


def follow_ups() -> list[list[str]]:
    """Read-only commands worth trying after the demo; they need no running simulator."""
    week = utcnow().strftime("%G-W%V")
    return [
        ["show", "--tenant", "initech", "--failing"],
        ["timeline", "--tenant", "globex", "--setting", "transfer expenses"],
        ["history", "--tenant", "acme", "--json"],
        ["report", "--week", week],
        ["status"],
    ]


def write_demo_config(config_file: Path, *, sim_url: str, slack_url: str) -> None:
    """config/demo.yaml with the simulator's and the sink's URLs written in as the variables'
    defaults, so the copy loads in any shell, with no environment variable, after the demo has
    ended (a default, not a literal: the webhook URL is a secret, and literals get a warning)."""
    text = bundled_file("demo.yaml").read_text(encoding="utf-8")
    for placeholder, url in ((SIM_URL_VAR, sim_url), (SLACK_URL_VAR, slack_url)):
        text = text.replace(placeholder, f"{placeholder[:-1]}:-{url}}}")
    config_file.write_text(text, encoding="utf-8")


def cwdrift_executable() -> str:
    """How to run this cwdrift from here: the script next to this Python (``.venv/bin/cwdrift``
    after ``make demo``), relative when it is under the current directory."""
    script = Path(sys.executable).parent / "cwdrift"
    if not script.exists():
        return "cwdrift"
    return shell_path(script, executable=True)


def shell_path(path: Path, *, executable: bool = False) -> str:
    """``path`` as a shell word: relative to the current directory when under it, quoted."""
    absolute = path.absolute()
    try:
        text = str(absolute.relative_to(Path.cwd()))
    except ValueError:
        text = str(absolute)
    if executable and "/" not in text:
        text = f"./{text}"  # a bare name would be looked up on PATH
    return shlex.quote(text)


def typed(config_file: Path, args: Sequence[str]) -> str:
    """The shell line that runs ``cwdrift --config config_file args`` from here, quoted."""
    words = [shlex.quote(a) for a in ("--config", str(config_file), *args)]
    words[1] = shell_path(config_file)
    return " ".join([cwdrift_executable(), *words])


def step(title: str) -> None:
    """A heading that fits an 80-column terminal (details go on the next line)."""
    render.out.print()
    render.out.print(Rule(title, align="left"))


def detail(text: str) -> None:
    render.out.print(text, style="dim", soft_wrap=True)


def cli(run: RunCommand, config_file: Path, args: Sequence[str], *, expect: int = 0) -> list[str]:
    """Run a real ``cwdrift`` command in-process; show it as it would be typed, and its status;
    say so if the status is not the one expected."""
    render.out.print(f"$ {typed(config_file, args)}", style="dim", soft_wrap=True)
    status = run(["--config", str(config_file), *args])
    render.out.print(f"(exit status {status})", style="dim")
    if status != expect:
        return [f"`cwdrift {' '.join(args)}` exited {status}, expected {expect}"]
    return []


def outcomes(config_file: Path, expected: dict[str, str], when: str) -> list[str]:
    """Each tenant's newest outcome in the store, compared with what the scenario must give."""
    from monitor.settings import load_config
    from monitor.store.database import Database
    from monitor.store.history import tenant_summaries

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
        render.out.print(f"error: {exc}", style="red")
        code = 2
    return int(code or 0)


def slack_report(sink: SlackSink, since: int) -> None:
    new = sink.messages[since:]
    if not new:
        render.out.print("Slack sink: no new messages", style="dim")
        return
    render.out.print(f"Slack sink received {len(new)} message(s):")
    for message in new:
        render.out.print(f"  • {message.get('text', '')}")
