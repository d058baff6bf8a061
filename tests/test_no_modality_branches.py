"""Outside ``detectors/`` and ``modalities/`` no code branches on a modality's name: what differs
between modalities is the adapter's and its I/O's (``adgdm.modalities``), so a new modality needs no
edit in the command line, the server, the Ray engine, reports or benchmarks."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "adgdm"
NAMES = {"tabular", "series", "image", "video", "multimodal"}
EXEMPT = ("detectors", "modalities")


def _names_in(node) -> set:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_names_in(e) for e in node.elts)) if node.elts else set()
    return set()


def branches(tree) -> list[tuple[int, str]]:
    """``(line, what)`` of each comparison with a modality name, and of each dict keyed by them."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            found = set().union(_names_in(node.left), *(_names_in(c) for c in node.comparators))
            if found:
                out.append((node.lineno, f"compares with {sorted(found)}"))
        elif isinstance(node, ast.Dict):
            keys = [k for k in node.keys if k is not None]
            if len(keys) >= 2 and all(_names_in(k) for k in keys):
                out.append((node.lineno, "a table keyed by modality names"))
    return out


def test_no_branch_on_a_modality_name_outside_detectors_and_modalities():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in EXEMPT:
            continue
        bad += [f"{rel}:{line}: {what}" for line, what in branches(ast.parse(path.read_text()))]
    assert not bad, "\n".join(bad)


def test_the_check_finds_a_branch():
    tree = ast.parse('if meta["modality"] == "image":\n    pass\nunits = {"image": "images", "video": "frames"}\n'
                     'ok = kind in ("series", "tabular")\nfine = name == "imagery"\n')
    assert [line for line, _ in branches(tree)] == [1, 3, 4]
