"""The ``cwdrift`` command line. Each command is a thin shell over ``monitor.jobs`` and the store.

``app.py`` holds the typer app and the core commands; each ``*_commands`` module registers one
group of commands on it (importing them here is the registration).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from monitor.cli.app import app
from monitor.errors import CwdriftError

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_commands"):
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    """Console-script entry point: typed errors become one clear line and exit code 2."""
    try:
        app()
    except CwdriftError as exc:
        from monitor.cli.render import err

        # ConnectWise data may contain [brackets]: never let it be read as markup.
        err.print(f"error: {exc}", markup=False, style="bold red")
        sys.exit(2)


__all__ = ["app", "main"]
