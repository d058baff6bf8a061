"""Every script in ``examples/`` runs, exits 0 and prints sane results.

Scripts are found by glob, so a new example is run (and held to the conventions below) without
touching this file; the result checks in ``EXPECTED`` are per script. Each script runs in its own
interpreter on one thread, in a temporary working directory; a script that takes ``--out``
writes into ``tmp_path``.
"""
from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))
TIMEOUT = 120  # seconds per script (each takes well under 30 s on one idle thread)

# Per script: (pattern whose first group is a number, minimum value) and lines that must appear.
# The data are easy and seeded, so the bounds leave a wide margin below the measured values.
EXPECTED = {
    "tabular": {
        "min": [(r"diffusion\s+AUROC ([\d.]+)", 0.9), (r"pyod-knn\s+AUROC ([\d.]+)", 0.9)],
        "lines": ["save/load: reloaded scores match", "predict: flagged"],
    },
    "series": {
        "min": [(r"\bAUROC ([\d.]+)", 0.75), (r"VUS-PR ([\d.]+)", 0.5), (r"own threshold ([\d.]+)", 0.3)],
        "lines": ["segments with at least one flagged step"],
    },
    "image": {
        "min": [(r"image AUROC ([\d.]+)", 0.8), (r"pixel AUROC ([\d.]+)", 0.9)],
        "lines": ["wrote "],
        "files": ["anomaly_maps.png"],
    },
    "pipeline": {
        "min": [(r"AUROC on all rows \(\d+ of them fitted on\): ([\d.]+)", 0.85),
                (r"shifted benign rows flagged: ([\d.]+)", 0.3)],
        "max": [(r"new benign rows flagged: ([\d.]+)", 0.2), (r"the other shifted rows flagged: ([\d.]+)", 0.2)],
        "lines": ["left out column 'record_id': an identifier", "fitted on the 200 rows labelled 0"],
    },
    "generation_cycle": {
        "min": [(r"diffusion AUROC ([\d.]+)", 0.9), (r"cycle AUROC ([\d.]+)", 0.9),
                (r"global severity [\d.]+: AUROC vs unseen normals ([\d.]+)", 0.9)],
        "max": [(r"C2ST AUC vs unseen benign rows ([\d.]+)", 0.95)],
        "lines": ["sampled", "generated local", "generated masked"],
    },
}


def _accepts_out(path: Path) -> bool:
    return '"--out"' in path.read_text()


def test_examples_found():
    assert EXAMPLES, f"no examples in {EXAMPLES_DIR}"
    missing = sorted(set(EXPECTED) - {p.stem for p in EXAMPLES})
    assert not missing, f"EXPECTED names scripts that are not in examples/: {missing}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_conventions(path):
    """Module docstring with a run line, argparse with --seed, a __main__ guard."""
    source = path.read_text()
    doc = ast.get_docstring(ast.parse(source))
    assert doc, f"{path.name} has no module docstring"
    assert f"python examples/{path.name}" in doc, f"{path.name}'s docstring does not say how to run it"
    assert "argparse" in source and '"--seed"' in source, f"{path.name} takes no --seed"
    assert 'if __name__ == "__main__":' in source, f"{path.name} has no __main__ guard"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(path), "--seed", "0"] + (["--out", str(out)] if _accepts_out(path) else [])
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    work = tmp_path / "cwd"
    work.mkdir()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{path.name} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    text = proc.stdout
    assert text.strip(), f"{path.name} printed nothing"

    # any printed AUROC / AUPRC / F1 / C2ST value is a finite number in [0, 1]
    for name, value in re.findall(r"(AUROC|AUPRC|AUPRO|VUS-PR|F1|C2ST AUC)[^\d\n]*?(-?\d+\.\d+|\bnan\b|\binf\b)", text):
        v = float(value)
        assert math.isfinite(v) and 0.0 <= v <= 1.0, f"{path.name} printed {name} {value}:\n{text}"

    expected = EXPECTED.get(path.stem, {})
    for line in expected.get("lines", []):
        assert line in text, f"{path.name} did not print {line!r}:\n{text}"
    for pattern, low in expected.get("min", []):
        found = re.search(pattern, text)
        assert found, f"{path.name} printed nothing matching {pattern!r}:\n{text}"
        assert float(found.group(1)) > low, f"{path.name}: {found.group(0)!r} is not above {low}:\n{text}"
    for pattern, high in expected.get("max", []):
        found = re.search(pattern, text)
        assert found, f"{path.name} printed nothing matching {pattern!r}:\n{text}"
        assert float(found.group(1)) < high, f"{path.name}: {found.group(0)!r} is not below {high}:\n{text}"
    for name in expected.get("files", []):
        f = out / name
        assert f.is_file() and f.stat().st_size > 0, f"{path.name} did not write {f}"
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{f} is not a PNG file"
    assert not any(work.iterdir()), f"{path.name} left files in its working directory: {list(work.iterdir())}"
