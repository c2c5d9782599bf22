"""The README points only at files inside the repository, and they exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
FOLDERS = ("config", "deploy", "docs", "monitor", "templates", "bench", "tests")


def test_readme_links_stay_inside_the_repository() -> None:
    assert "../" not in README


def test_every_file_the_readme_names_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    paths = re.findall(rf"`((?:{'|'.join(FOLDERS)})/[\w./-]+)`", README)
    named = {p.rstrip("/") for p in (*links, *paths) if "://" not in p}
    assert "docs/scheduling.md" in named
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert missing == []
