"""Where the bundled files live: ``config/`` (baseline, scenarios, demo config) and ``templates/``.

In a checkout (and an editable install) they sit beside the ``monitor`` package. An installed
wheel carries them under ``monitor/data/`` (see pyproject's package-data), and a deployment can
point ``CWDRIFT_RESOURCES`` at a directory holding both.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _root() -> Path:
    override = os.environ.get("CWDRIFT_RESOURCES")
    if override:
        return Path(override)
    checkout = _PACKAGE.parent
    if (checkout / "config" / "baseline.yaml").is_file():
        return checkout
    return _PACKAGE / "data"


def bundled_config_dir() -> Path:
    return _root() / "config"


def templates_dir() -> Path:
    return _root() / "templates"
