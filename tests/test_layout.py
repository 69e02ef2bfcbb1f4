"""The package's shape: imports point down the pipeline, never in a circle, and no module grows too big.

Walks ``qa/`` with ``ast`` (imports inside functions and under TYPE_CHECKING count too: a lazy import
hides a circle, it does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

QA = Path(__file__).resolve().parents[1] / "qa"
MAX_LINES = 500

# Rank of each part of the package: a module may import its own subpackage's modules or anything of a
# lower rank, never a higher one, and never a sibling stage of the same rank.
RANKS = {
    "qa.errors": 0, "qa.config": 1, "qa.text": 2, "qa.ingest": 3, "qa.models": 4, "qa.index": 5,
    "qa.retrieval": 6, "qa.answer": 7, "qa.check": 7, "qa.pipeline": 8, "qa.evaluation": 9, "qa.serve": 9,
    "qa.cli": 10,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(QA.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in QA.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """The qa modules ``path`` imports (``from qa.x import y`` counts qa.x.y when that is a module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("qa"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            out |= subs or ({node.module} & known)
    return out - {"qa"}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(p, set(mods)) - {m} for m, p in mods.items() if m != "qa"}


def part(module: str) -> str:
    return next(p for p in sorted(RANKS, key=len, reverse=True) if module == p or module.startswith(p + "."))


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_point_down_the_pipeline():
    wrong = []
    for mod, deps in graph().items():
        mine = part(mod)
        for dep in deps:
            theirs = part(dep)
            if theirs != mine and RANKS[theirs] >= RANKS[mine]:
                wrong.append(f"{mod} -> {dep}")
    assert wrong == []


def test_every_module_belongs_to_a_ranked_part():
    assert all(part(m) for m in graph())


def test_no_module_is_over_the_size_limit():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}
