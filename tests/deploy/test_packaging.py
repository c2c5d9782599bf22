"""The wheel carries everything cwdrift reads at run time, and works installed (not editable).

The wheel is built from exactly the files the Dockerfile's builder stage copies (read from the
Dockerfile), so the image and this test cannot drift apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA_FOLDERS = {"monitor.data.config": "config", "monitor.data.templates": "templates"}


def builder_copies() -> list[str]:
    """The repository paths the Dockerfile's first (builder) stage COPYs."""
    text = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stage = -1
    sources: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            stage += 1
        elif stage == 0 and words and words[0].upper() == "COPY" and words[1][:6] != "--from":
            sources += words[1:-1]
    assert sources, "the Dockerfile's builder stage copies nothing"
    return sources


def test_pyproject_lists_every_package_on_disk() -> None:
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "monitor").rglob("__init__.py")
    }
    for package, folder in DATA_FOLDERS.items():
        on_disk.add(package)
        for sub in (REPO / folder).rglob("*"):
            if sub.is_dir() and "__pycache__" not in sub.parts:
                on_disk.add(".".join([package, *sub.relative_to(REPO / folder).parts]))
    assert listed == on_disk


def test_no_symlinks_are_committed() -> None:
    staged = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert [line for line in staged.splitlines() if line.startswith("120000")] == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wheel built from a copy of only what the Docker builder stage copies."""
    source = tmp_path_factory.mktemp("builder-src")
    for path in builder_copies():
        origin = REPO / path
        if origin.is_dir():
            shutil.copytree(
                origin, source / path, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(origin, source / path)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("cwdrift-*.whl")
    yield built


def test_the_wheel_carries_the_baseline_every_template_and_every_scenario(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"monitor/data/config/baseline.yaml", "monitor/data/config/demo.yaml"}
    wanted |= {
        f"monitor/data/config/scenarios/{p.name}" for p in (REPO / "config/scenarios").iterdir()
    }
    wanted |= {
        f"monitor/data/templates/{p.relative_to(REPO / 'templates')}"
        for p in (REPO / "templates").rglob("*")
        if p.suffix in (".j2", ".css", ".js", ".svg")
    }
    wanted.add("monitor/store/migrations/script.py.mako")
    assert wanted <= names, sorted(wanted - names)


def test_an_installed_wheel_validates_the_baseline_and_renders_a_report(
    wheel: Path, tmp_path: Path
) -> None:
    # Installed beside (not over) the editable checkout: the wheel's own files come first on
    # sys.path, and the command runs outside the repository.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    config = work / "cwdrift.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            database: sqlite:///cwdrift.db
            tenants:
              - id: acme
                name: Acme
                site: https://acme.example.com
                company_id: acme
                public_key: pub
                private_key: ${ACME_KEY}
                client_id: 00000000-0000-4000-8000-000000000001
                integration_member: GozyntaAPI
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(target), "ACME_KEY": "k"}

    def cwdrift(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import monitor.data as d; print(d.bundled_file('baseline.yaml'))"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(target)), where

    validated = cwdrift("baseline", "validate")
    assert validated.returncode == 0, validated.stderr
    assert f"{target}/monitor/data/config/baseline.yaml: OK" in validated.stdout

    report = cwdrift("report", "--format", "html", "--out", str(work / "report.html"))
    assert report.returncode == 0, report.stderr
    html = (work / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "Acme" in html
