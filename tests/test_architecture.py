"""The import structure of ``src/adgdm``, read from the code (imports inside functions included):
no circles between files, and no import from a lower layer to a higher one."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "adgdm"

# low -> high; a module may import from its own layer or lower ones
LAYERS = [
    {"_version", "_params", "_atomic", "_progress", "_torch", "_validation", "_ray", "io", "thresholds", "results",
     "nets", "data", "metrics"},
    {"diffusion"},
    {"scores"},
    {"explain", "modalities", "pretrained"},
    {"generation"},
    {"detectors"},
    {"pipeline"},
    {"bench", "report", "demo", "__init__"},
    {"commands", "distributed", "serve"},
    {"cli"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    root = ".".join(base + ([node.module] if node.module else []))
                else:
                    root = node.module or ""
                subs = [f"{root}.{a.name}" for a in node.names]
                # ``from pkg import name``: the submodule ``pkg.name`` if there is one, else pkg itself
                targets = [s if s in files else root for s in subs]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                # the longest known module the import names (a name imported from a package is
                # the package's own module unless it is a submodule)
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    deps.add(t)
        graph[mod] = deps
    return graph


def _top(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_top_level_module_has_a_layer():
    assert {_top(m) for m in _graph()} <= set(LAYER), {_top(m) for m in _graph()} - set(LAYER)


def test_no_import_from_a_lower_layer_to_a_higher_one():
    bad = [f"{m} -> {d}" for m, deps in _graph().items() for d in deps if LAYER[_top(d)] > LAYER[_top(m)]]
    assert not bad, "\n".join(sorted(bad))


def test_no_import_circles_between_files():
    graph = _graph()
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                cycles.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_function_longer_than_150_lines():
    """Long closures were where options travelled as a dozen positional arguments (the old 711-line
    ``_build_app``); a function this long is a sign to split it."""
    long = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 150:
                long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})")
    assert not long, "\n".join(long)
