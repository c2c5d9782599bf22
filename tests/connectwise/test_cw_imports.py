"""One HTTP seam to ConnectWise: who may import httpx and aiohttp, read from monitor's source.

aiohttp (and httpx-aiohttp) belong to the one module that builds the transport; httpx to the
ConnectWise package (and the simulator, which may use it freely). Imports under
``if TYPE_CHECKING:`` do not run, so they do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import monitor

MONITOR = Path(monitor.__file__).parent
TRANSPORT = "monitor/connectwise/transport.py"


def runtime_imports(tree: ast.AST) -> Iterator[str]:
    """Top-level package names imported anywhere in a module, except under TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            branches = node.orelse  # the else branch does run
        else:
            branches = [node]
        for branch in branches:
            if isinstance(branch, ast.Import):
                yield from (alias.name.split(".")[0] for alias in branch.names)
            elif isinstance(branch, ast.ImportFrom) and branch.level == 0 and branch.module:
                yield branch.module.split(".")[0]
            yield from runtime_imports(branch)


def importers() -> dict[str, set[str]]:
    """Package name -> the monitor modules (``monitor/...py``) that import it at runtime."""
    found: dict[str, set[str]] = {}
    for path in sorted(MONITOR.rglob("*.py")):
        module = f"monitor/{path.relative_to(MONITOR).as_posix()}"
        for package in runtime_imports(ast.parse(path.read_text(), filename=module)):
            found.setdefault(package, set()).add(module)
    return found


def test_only_the_transport_module_imports_aiohttp() -> None:
    found = importers()
    assert found["aiohttp"] == {TRANSPORT}
    assert found["httpx_aiohttp"] == {TRANSPORT}


def test_only_the_connectwise_package_imports_httpx() -> None:
    allowed = ("monitor/connectwise/", "monitor/simulator/")
    users = importers()["httpx"]
    assert TRANSPORT in users
    assert "monitor/connectwise/client.py" in users
    assert [m for m in sorted(users) if not m.startswith(allowed)] == []


def test_the_scan_sees_nested_imports_and_skips_type_checking_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import aiohttp\nelse:\n    import yarl\n"
        "def later() -> None:\n    from httpx import AsyncClient\n"
        "from . import sibling\n"
    )
    assert sorted(runtime_imports(ast.parse(source))) == ["httpx", "typing", "yarl"]
