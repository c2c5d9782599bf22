"""The files cwdrift ships, found the same way in a checkout and in an installed wheel.

The repository's top-level ``config/`` (baseline, demo config, scenarios) and ``templates/``
(Jinja2) are the source of truth. pyproject maps them onto the packages ``monitor.data.config``
and ``monitor.data.templates`` (``package-dir``), so a wheel carries them as package data and
an editable install points at the folders themselves. Everything reads them through here, with
``importlib.resources``: no symlink, no environment variable, no path arithmetic.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError
from monitor.printable import printable

if TYPE_CHECKING:  # Jinja2 is imported by what renders: finding a shipped file needs none of it
    from jinja2 import Environment

CONFIG_PACKAGE = "monitor.data.config"
TEMPLATES_PACKAGE = "monitor.data.templates"


def bundled_file(relative: str) -> Path:
    """A shipped file under ``config/``, e.g. ``baseline.yaml`` or ``scenarios/demo.yaml``.

    A wheel is installed unpacked, so every resource is a real file; a zipped install would be
    a packaging bug, reported as such rather than as a missing file.
    """
    resource = files(CONFIG_PACKAGE).joinpath(relative)
    if not isinstance(resource, Path):
        raise RuntimeError(f"cwdrift's bundled {relative} is not on the file system: {resource}")
    return resource


def _printable_value(value: Any) -> Any:
    """Every ``{{ value }}`` of every template: control characters escaped (ConnectWise text)."""
    return printable(value) if isinstance(value, str) else value


def template_environment() -> Environment:
    """A new Jinja2 environment over the shipped templates: HTML autoescaped, strict undefined.

    Every value a template prints has its control characters escaped (``monitor.printable``):
    a text report or alert read in a terminal must not carry a ConnectWise caption's escape
    sequences to it, and HTML gains nothing from them either.
    """
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader(TEMPLATES_PACKAGE, ""),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_printable_value,
    )


def check_templates(env: Environment | None = None) -> int:
    """Read every shipped template (``/healthz``, and a node's start); returns how many.

    A wheel built without its package data has no templates at all, and then every report and
    e-mail alert would fail at send time: say so up front, as a ConfigError naming the fix.
    """
    from jinja2 import TemplateError

    fix = "reinstall cwdrift from a wheel that carries monitor/data/templates (see deploy/)"
    try:
        env = env or template_environment()
        loader = env.loader
        assert loader is not None  # template_environment() always sets one
        names = env.list_templates(extensions=["j2"])
        for name in names:
            # The source, not a compile: the filters are the renderers' own (reports, alerts).
            loader.get_source(env, name)
    except (TemplateError, OSError, ValueError) as exc:  # ValueError: PackageLoader, no package
        raise ConfigError(
            f"cannot load the shipped templates: {type(exc).__name__}: {exc}",
            location=TEMPLATES_PACKAGE,
            fix=fix,
        ) from None
    if not names:
        raise ConfigError("no templates are installed", location=TEMPLATES_PACKAGE, fix=fix)
    return len(names)
