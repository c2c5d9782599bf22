"""The ``cwdrift`` command line: the root command and the list of command groups it serves.

Every command's help ends with an example (a test keeps that true). A command group is one
``*_commands`` module with a ``commands`` typer; adding one is the module plus one line in
``COMMAND_GROUPS``.

Every group is imported to build the root command, so a group module imports at module level
only what its typer definitions need (typer, ``common``, ``render``, the pure leaves); the use
cases, the store, ConnectWise, reports, the web view and the simulator are imported inside the
commands. ``cwdrift --help`` and ``--version`` then answer in a blink, and ``cwdrift history``
loads the store and nothing else (tests/cli/test_cli_startup.py keeps that true).
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
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
    tickets_commands,
    web_commands,
)
from monitor.cli.common import EXIT_ERROR, EXIT_INTERNAL, state
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
    tickets_commands.commands,  # tickets check
    ops_commands.commands,  # db migrate, db migrate-to
    demo_commands.commands,  # simulate, demo
    web_commands.commands,  # web
)
for _group in COMMAND_GROUPS:
    app.add_typer(_group)


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("cwdrift")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from monitor import __version__ as number
    sys.stdout.write(f"cwdrift {number}\n")
    raise typer.Exit()


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
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print cwdrift's version and exit.",
        ),
    ] = False,
) -> None:
    state.config_file = config


def main() -> None:
    """Console-script entry point: every failure ends in clear lines and a documented exit code.

    A typed error (a bad config, an unreadable database) prints one line per problem and exits 2.
    Anything else is a bug in cwdrift: one line pointing at a file holding the traceback, exit 3,
    so a crash is never read as drift (1) or as a bad config (2). The traceback is printed only
    with CWDRIFT_DEBUG=1, and never with local variables (they may hold secrets).
    """
    try:
        app()
    except CwdriftError as exc:
        # ConnectWise data may contain [brackets]: never let it be read as markup.
        for line in str(exc).splitlines():
            err.print(f"error: {line}", markup=False, style="bold red")
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # the last line of defence: no traceback on a user's terminal
        err.print(internal_error(exc), markup=False, style="bold red")
        sys.exit(EXIT_INTERNAL)


def internal_error(exc: BaseException) -> str:
    """Write ``exc``'s traceback to a private file; the one line to print about it."""
    text = "".join(traceback.format_exception(exc))  # frames and messages, no locals
    if os.environ.get("CWDRIFT_DEBUG"):
        sys.stderr.write(text)
    try:
        handle, name = tempfile.mkstemp(prefix="cwdrift-crash-", suffix=".log")  # mode 0600
        with os.fdopen(handle, "w", encoding="utf-8") as crash_file:
            crash_file.write(text)
        where = f"the traceback is in {name}"
    except OSError:
        where = "the traceback could not be saved; run again with CWDRIFT_DEBUG=1 to see it"
    return (
        f"internal error: {type(exc).__name__} (a bug in cwdrift, not in your input); {where}; "
        "please report it"
    )
