"""The ``cwdrift`` command line: the root command and the list of command groups it serves.

Every command's help ends with an example (a test keeps that true). A command group is one
``*_commands`` module with a ``commands`` typer; adding one is the module plus one line in
``COMMAND_GROUPS``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli import (
    alerts_commands,
    check_commands,
    daemon_commands,
    demo_commands,
    fix_commands,
    history_commands,
    ops_commands,
    report_commands,
)
from monitor.cli.common import EXIT_ERROR, state
from monitor.cli.render import err
from monitor.errors import CwdriftError

app = typer.Typer(
    name="cwdrift",
    help=(
        "Configuration drift monitor for ConnectWise Manage: checks every tenant's setup for the "
        "Gozynta Mobius integration against a baseline, records every change, and alerts.\n\n"
        "Example: cwdrift --config cwdrift.yaml check"
    ),
    no_args_is_help=True,
    # Typed errors are printed by main(); never dump locals (they may hold secrets).
    pretty_exceptions_enable=False,
    add_completion=False,
)

COMMAND_GROUPS: tuple[typer.Typer, ...] = (
    check_commands.commands,  # check, tenants, config validate, baseline validate
    history_commands.commands,  # history, show, timeline, export
    report_commands.commands,  # report, waive, waivers, prune
    fix_commands.commands,  # fix (dry run, --apply, --pending, --approve, --resume)
    daemon_commands.commands,  # run, status, silence
    alerts_commands.commands,  # alerts retry
    ops_commands.commands,  # db migrate, db migrate-to
    demo_commands.commands,  # simulate, demo
)
for _group in COMMAND_GROUPS:
    app.add_typer(_group)


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="CWDRIFT_CONFIG",
            help="Config file (default ./cwdrift.yaml; or $CWDRIFT_CONFIG).",
        ),
    ] = None,
) -> None:
    state.config_file = config


def main() -> None:
    """Console-script entry point: typed errors become one clear line and exit code 2."""
    try:
        app()
    except CwdriftError as exc:
        # ConnectWise data may contain [brackets]: never let it be read as markup.
        err.print(f"error: {exc}", markup=False, style="bold red")
        sys.exit(EXIT_ERROR)
