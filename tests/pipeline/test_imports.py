"""Import hygiene (STYLE.md rule 1), read from the source with ``ast``: imports run one way,
no stage imports another stage's private modules, the core imports no stage, no cycles.

The known exceptions are listed by name, each owned by the stage that has to move it; a new
exception fails, and a fixed one must be taken off the list (so the list stays true).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "microtrial"
STAGES = {"reads", "denoise", "taxonomy", "phylogeny", "diversity", "differential", "clinical",
          "function", "report", "simulate"}
UPPER = {"pipeline", "cli", "study"}  # may import stages (their public API)

KNOWN_PRIVATE: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Every module's imports of microtrial modules (module level and inside functions)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        found[_module(path)] = {n for n in names if n.startswith("microtrial")}
    modules = set(found)
    return {m: {n for n in names if n in modules and n != m} for m, names in found.items()}


def test_no_stage_imports_another_stages_private_modules() -> None:
    bad = set()
    for mod, imports in _graph().items():
        src = mod.split(".")[1] if "." in mod else ""
        for imp in imports:
            parts = imp.split(".")
            if len(parts) >= 3 and parts[1] in STAGES and parts[2].startswith("_") and parts[1] != src \
                    and src in STAGES:
                bad.add((mod, imp))
    assert bad <= KNOWN_PRIVATE, sorted(bad - KNOWN_PRIVATE)
    assert bad == KNOWN_PRIVATE, f"fixed, take off KNOWN_PRIVATE: {sorted(KNOWN_PRIVATE - bad)}"


def test_the_core_imports_no_stage() -> None:
    bad = set()
    for mod, imports in _graph().items():
        src = mod.split(".")[1] if "." in mod else ""
        if src in STAGES | UPPER:
            continue
        bad |= {(mod, imp) for imp in imports if imp.count(".") and imp.split(".")[1] in STAGES}
    assert not bad, sorted(bad)


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package and its own submodules import each other by design (re-exports)
    graph = {m: {i for i in deps if not (i.startswith(m + ".") or m.startswith(i + "."))}
             for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.add(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles <= KNOWN_CYCLES, sorted(cycles - KNOWN_CYCLES)
    assert cycles == KNOWN_CYCLES, f"fixed, take off KNOWN_CYCLES: {sorted(KNOWN_CYCLES - cycles)}"
