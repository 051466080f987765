"""The house stays easy to walk through: no import cycles, and imports point down the
flow only (cli → pipeline/watch → reports, check → ledger → records/kinds/values)."""
from __future__ import annotations

import ast
from pathlib import Path

import jxc_sheets

ROOT = Path(jxc_sheets.__file__).parent

# A module of the left-hand stage never imports one of those on the right.
NEVER = {
    "jxc_sheets.ledger": ("jxc_sheets.check", "jxc_sheets.reports", "jxc_sheets.pipeline", "jxc_sheets.validate",
                          "jxc_sheets.sheets", "jxc_sheets.watch", "jxc_sheets.cli"),
    "jxc_sheets.check": ("jxc_sheets.reports", "jxc_sheets.pipeline", "jxc_sheets.validate", "jxc_sheets.watch",
                         "jxc_sheets.cli"),
    "jxc_sheets.reports": ("jxc_sheets.pipeline", "jxc_sheets.check", "jxc_sheets.watch", "jxc_sheets.cli"),
    "jxc_sheets.pipeline": ("jxc_sheets.watch", "jxc_sheets.cli"),
    "jxc_sheets.watch": ("jxc_sheets.cli",),
    "jxc_sheets.workspace": ("jxc_sheets.cli",),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for candidate in (target, *(f"{target}.{a.name}" for a in node.names)):
                if candidate in modules and candidate != name:
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_there_is_no_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_point_down_the_flow():
    wrong = []
    for name, targets in _graph().items():
        for stage, forbidden in NEVER.items():
            if name == stage or name.startswith(stage + "."):
                wrong += [f"{name} → {t}" for t in targets if any(t == f or t.startswith(f + ".") for f in forbidden)]
    assert wrong == []
