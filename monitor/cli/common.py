"""What every command shares: the config for this invocation, option types, dates and output.

Commands live in ``*_commands`` modules, one group each; ``monitor/cli/app.py`` composes them.
The config loader and the store are imported when a command asks for them, not here: every
command module imports this one, and ``cwdrift --help`` must not pay for pydantic or the ORM.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import render
from monitor.errors import ConfigError
from monitor.printable import printable

if TYPE_CHECKING:
    from monitor.settings import LoadedConfig
    from monitor.store.database import Database

# The exit codes (README, "Exit codes"): scripts tell drift from a failure from a cwdrift bug.
EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id from the config.")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
]


class State:
    config_file: Path | None = None


state = State()  # set by the root callback (--config) before any command runs


def load(*, connectwise: bool = True, tenants: bool = False, warn: bool = True) -> LoadedConfig:
    """The config for this invocation; its warnings (never secrets) go to stderr, once.

    ``connectwise=False`` for commands that only use the database: values only ConnectWise reads
    and alert sends need may be unset (see :func:`monitor.settings.load_config`).
    ``tenants=True`` for the commands that monitor: a config without tenants is an error.
    ``warn=False`` when the caller logs the warnings itself (``run``: JSON logs stay JSON).
    """
    from monitor.settings import config_path, load_config

    loaded = load_config(
        config_path(state.config_file), connectwise=connectwise, require_tenants=tenants
    )
    if warn:
        for warning in loaded.warnings:
            render.err.print(f"warning: {warning}", markup=False, style="yellow")
    return loaded


def open_database(loaded: LoadedConfig) -> Database:
    """The configured database, migrated (idempotent: a command may be the first thing run)."""
    from monitor.store.database import Database

    db = Database(loaded.config.database)
    db.migrate()
    return db


def parse_when(value: str | None, option: str) -> datetime | None:
    """ISO date or datetime; naive values are UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"cannot read {value!r} as a date or time",
            location=option,
            fix="use ISO format, e.g. 2026-11-20 or 2026-11-20T14:30:00Z",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expiry(value: str, now: datetime, option: str = "--expires") -> datetime:
    """A duration from now such as 2d, 30d or 12w, or an ISO date/time."""
    from monitor.durations import parse_duration  # pydantic: only the commands that take one

    try:
        relative = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(str(exc), location=option, fix="use e.g. 2d, 12h or 2w") from None
    if isinstance(relative, timedelta):
        return now + relative
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"cannot read {value!r} as a duration or a date",
            location=option,
            fix=f"give a duration from now such as {option} 2d (s, m, h, d, w), or a date "
            f"such as {option} {(now + timedelta(days=30)).date().isoformat()}",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise ConfigError(
            f"unknown format {value!r}", location=option, fix=f"use one of {', '.join(allowed)}"
        )
    return value


def refuse_binary_on_terminal(out: Path | None) -> None:
    """Binary output (PDF) goes to a file or a pipe, never to a terminal, where it is garbage."""
    if out is None and sys.stdout.isatty():
        raise ConfigError(
            "PDF output is binary and stdout is a terminal",
            location="--format pdf",
            fix="add --out report.pdf, or pipe it: > report.pdf",
        )


def write_output(data: str | bytes, out: Path | None) -> None:
    """To ``out``, or stdout; binary (PDF) is refused on a terminal."""
    if out is not None:
        if isinstance(data, bytes):
            out.write_bytes(data)
        else:
            out.write_text(data, encoding="utf-8")
        render.err.print(f"wrote {out}", markup=False)
    elif isinstance(data, bytes):
        refuse_binary_on_terminal(out)
        sys.stdout.buffer.write(data)
    elif sys.stdout.isatty():
        # A report or CSV shown on a terminal: ConnectWise text must not drive the terminal.
        sys.stdout.write(printable(data, keep_lines=True))
    else:
        sys.stdout.write(data)
