"""The package layout reads as the data flow: no import cycles, no arrow pointing back up, no private
names imported across modules.

Imports are read from the source with :mod:`ast` (nothing is imported), both module-level ones and
those inside functions (a lazy import is still a dependency). Two kinds are not dependencies and are
left out: imports under ``if TYPE_CHECKING:`` (annotations only), and the presentation a result
object delegates to in its ``plot``/``report`` methods (``QuantResult.plot``, ``Ranking.plot``,
``SeriesResult.report``: the result draws itself, lmfit's ``ModelResult.plot``, with the drawing code
in the report layer).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import phasetrace

PACKAGE = Path(phasetrace.__file__).parent

#: The stages in data-flow order: a module may import from its own stage and the stages before it.
#: ``base`` holds the small shared modules every stage uses (errors, Scan, atomic writes, CIF syntax).
LAYERS = [
    ("base", {"errors", "scan", "_atomic", "_json", "_cif", "timing"}),
    ("io", {"io"}),
    ("preprocess", {"preprocess"}),
    ("peaks", {"peaks"}),
    ("library", {"library"}),
    ("simulate", {"simulate"}),
    ("match", {"match"}),
    ("quantify", {"quantify"}),
    ("series", {"series"}),
    ("pipeline", {"pipeline"}),
    ("report", {"report"}),
    ("cli", {"cli"}),
]
RANK = {top: k for k, (_, tops) in enumerate(LAYERS) for top in tops}

#: Methods in which an import is presentation a result object delegates to (not a dependency).
PRESENTATION = {"plot", "report"}

#: Known back-arrows, each with the reason it stands; this list only shrinks.
ALLOWED_BACK: set[tuple[str, str]] = set()

#: Known private names imported across modules (module, name), each to be removed; this list only shrinks.
ALLOWED_PRIVATE: set[tuple[str, str]] = set()

#: Known cycles between modules (pairs); each is to be removed, this list only shrinks.
ALLOWED_CYCLES: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every import in a file, relative ones resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        typing_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        presentation = isinstance(node, ast.FunctionDef) and node.name in PRESENTATION
        if typing_only or presentation:
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("phasetrace"):
                continue
            names = [a.name for a in node.names]
            if node.module is None or (target + "." + names[0]) in MODULES:
                # "from . import io": the names are modules
                for n in names:
                    out.append((f"{target}.{n}" if f"{target}.{n}" in MODULES else target, [], node.lineno))
            else:
                out.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("phasetrace"):
                    out.append((a.name, [], node.lineno))
    return out


FILES = sorted(PACKAGE.rglob("*.py"))
MODULES = {_module_name(p) for p in FILES}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself (phasetrace/__init__ re-exports lazily)
    return parts[1]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for path in FILES:
        src = _module_name(path)
        for target, _, _ in _imports(path):
            # a package import resolves to the package's __init__
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != src and target in MODULES:
                graph[src].add(target)
    return graph


def test_every_stage_is_placed():
    stages = {_stage(m) for m in MODULES} - {None}
    assert stages <= set(RANK), f"place these in LAYERS: {sorted(stages - set(RANK))}"


def test_no_arrow_points_back_up_the_data_flow():
    back = []
    for path in FILES:
        src = _module_name(path)
        s = _stage(src)
        if s is None:
            continue
        for target, _, line in _imports(path):
            t = _stage(target)
            if t is None or t not in RANK or t == s:
                continue
            if RANK[t] > RANK[s] and (src, target) not in ALLOWED_BACK:
                back.append(f"{src}:{line} imports {target} ({s} comes before {t})")
    assert not back, "\n".join(back)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = _graph()
    # a package's __init__ re-exporting its submodules is not a cycle with them
    for m in list(graph):
        graph[m] = {t for t in graph[m] if not (m.startswith(t + ".") and t in MODULES)}
    for pair in ALLOWED_CYCLES:
        a, b = sorted(pair)
        graph[a].discard(b)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_private_names_imported_across_modules():
    bad = []
    for path in FILES:
        src = _module_name(path)
        for target, names, line in _imports(path):
            for n in names:
                if n.startswith("_") and not n.startswith("__") and (src, n) not in ALLOWED_PRIVATE:
                    # a package's private helper modules (io._registry) are imported as modules, not names
                    if f"{target}.{n}" in MODULES:
                        continue
                    bad.append(f"{src}:{line} imports {n} from {target}")
    assert not bad, "\n".join(bad)


def test_click_is_for_the_command_line_only():
    users = []
    for path in FILES:
        src = _module_name(path)
        if src.startswith("phasetrace.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == "click" or n.startswith("click.") for n in names):
                users.append(f"{src}:{node.lineno}")
    assert not users, "library code imports click: " + ", ".join(users)


@pytest.mark.parametrize("name", ["identify", "quantify", "analyse_series", "load", "PipelineConfig"])
def test_the_pipeline_is_public(name):
    assert callable(getattr(phasetrace, name))
