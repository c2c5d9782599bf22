"""The house rules, enforced: no import circles, arrows that point one way, one HTTP engine.

Imports are read from the source with ``ast``, including imports inside functions: a lazy
import may save start-up time, but it does not make a circle go away.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "monitor"

# Modules of ours that import nothing of ours but each other: anything may use them.
LEAVES = {
    "permissions",
    "errors",
    "clock",
    "durations",
    "yamlfile",
    "configfile",
    "crontab",
    "data",
    "observability",
    "printable",
    "weblinks",
}

# Component (first name under monitor/) -> the components it may import besides the leaves.
ALLOWED: dict[str, set[str]] = {
    "core": set(),  # pure: snapshot, findings, options, baseline, evaluation, rule kinds
    "connectwise": {"core"},
    # connectwise: the ticket sender files tickets in the MSP's own ConnectWise, through the
    # one HTTP seam (alerts/ticket_sender.py only; the planning stays pure).
    "alerts": {"core", "connectwise"},
    "reports": {"core", "alerts", "settings"},
    "settings": {"core", "alerts", "connectwise"},  # connectwise: site parsing only
    "store": {"core", "alerts", "reports"},  # reports: the report's input records only
    "simulator": {"settings"},
    "jobs": {"core", "connectwise", "alerts", "reports", "store", "settings"},
    # web: read-only pages, their JSON twins and /healthz, /readyz, /metrics over the store.
    "web": {"store", "core", "reports", "settings"},
    "daemon": {"jobs", "store", "settings", "connectwise", "web"},  # node wires HTTP pool, web
    "cli": {"jobs", "daemon", "core", "store", "reports", "settings", "simulator", "web"},
    "__main__": {"cli"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> Iterator[str]:
    base = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                parts = parts[: len(parts) - node.level + 1]
                target = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the modules of ours it imports (anywhere in the file)."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, frozenset[str]] = {}
    for module, path in known.items():
        targets = {resolve(name) for name in _imports(module, path) if name.startswith("monitor")}
        edges[module] = frozenset(
            t
            for t in targets
            if t and t != module and t != "monitor" and not module.startswith(t + ".")
        )
    return edges


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def third_party_importers(name: str) -> set[str]:
    found = set()
    for module, path in modules().items():
        if any(t == name or t.startswith(name + ".") for t in _imports(module, path)):
            found.add(module)
    return found


def test_no_import_circles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.append(w)
                if w == v:
                    break
            if len(members) > 1:
                circles.append(sorted(members))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert circles == []


@pytest.mark.parametrize("source", sorted(ALLOWED))
def test_arrows_point_one_way(source: str) -> None:
    allowed = ALLOWED[source] | LEAVES | {source}
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if component(module) == source
        for target in targets
        if component(target) not in allowed
    )
    assert wrong == []


def test_leaves_import_only_leaves() -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if component(module) in LEAVES
        for target in targets
        if component(target) not in LEAVES
    )
    assert wrong == []


def test_every_component_has_a_contract() -> None:
    assert {component(m) for m in graph()} - {""} <= set(ALLOWED) | LEAVES


def test_the_sql_lives_in_the_store() -> None:
    outside = sorted(
        module
        for name in ("sqlalchemy", "sqlmodel")
        for module in third_party_importers(name)
        if component(module) != "store"
    )
    # Session is passed through as a type; URLs are parsed where the mode is chosen and where the
    # config is validated (a URL the store could not open is a config error).
    permitted = {
        "monitor.settings",
        "monitor.jobs.check",
        "monitor.jobs.report",
        "monitor.jobs.preview",
        "monitor.daemon.loop",
        "monitor.daemon.mode",
        "monitor.daemon.cluster.queue",
        "monitor.daemon.cluster.status",
    }
    assert set(outside) <= permitted, sorted(set(outside) - permitted)
    for module in permitted:
        # Reading a file (``read_text(``) is not SQL's ``text(``.
        source = modules()[module].read_text(encoding="utf-8").replace("read_text(", "")
        assert "select(" not in source and "text(" not in source, module
