"""Dependencies point one way: core below everything, domains below api/cli/app, sim only for tests and demo."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tianyan"
DOMAINS = ("registry", "security", "planning", "gb28181", "media", "health", "alarms", "checkpoints", "analytics")
TOP = ("api", "cli", "app")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = _module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("tianyan"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tianyan"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = found
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = _imports()


def test_the_scan_sees_the_code() -> None:
    assert "tianyan.core.gbid" in GRAPH and "tianyan.security.scope" in GRAPH


def test_core_imports_nothing_else_of_ours() -> None:
    offenders = [
        (m, t) for m, targets in GRAPH.items() if _package(m) == "core" for t in targets if _package(t) != "core"
    ]
    assert not offenders


def test_domains_do_not_import_the_top_layers() -> None:
    bad = sorted(
        (module, target)
        for module, targets in GRAPH.items()
        if _package(module) in (*DOMAINS, "db", "core")
        for target in targets
        if _package(target) in (*TOP, "sim")
    )
    assert bad == []


DEMO_MODULES = ("tianyan.app.demo", "tianyan.app.demo_devices", "tianyan.app.demo_fleet", "tianyan.cli.sim",
                "tianyan.cli.sim_rtsp")  # fmt: skip


def test_only_the_demo_imports_sim() -> None:
    bad = sorted(
        (module, target)
        for module, targets in GRAPH.items()
        if _package(module) != "sim" and module not in DEMO_MODULES
        for target in targets
        if _package(target) == "sim"
    )
    assert bad == []


def test_no_module_import_cycles() -> None:
    modules = set(GRAPH)
    edges = {m: {t for t in GRAPH[m] if t in modules and t != m} for m in modules}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(modules):
        if module not in state and (cycle := visit(module)):
            raise AssertionError(" -> ".join(cycle))
