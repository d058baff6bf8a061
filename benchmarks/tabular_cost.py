"""Cost of tabular detectors relative to PyOD KNN, measured in one process (issue 19).

For each ADBench set above ``--min-rows`` rows: the semi split of seed 0, every detector fitted
and scored back to back in the same process with one thread, ``--repeats`` rounds interleaved
(KNN, the candidates, KNN, ...), each detector's fastest round kept (the least disturbed by other
work on the machine). Writes a CSV and a markdown table of fit+score seconds and the ratio to KNN.

Usage:
    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/tabular_cost.py --detectors 'diffusion;dte-np' \
        --out benchmarks/results/tabular_cost.csv
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from adgdm.data import load_npz, semi_supervised_split, standardize
from adgdm.detectors.registry import make_detector


def timed(spec: str, X_tr, X_te) -> float:
    det = make_detector(spec, random_state=0)
    t0 = time.perf_counter()
    det.fit(X_tr)
    det.decision_function(X_te)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("ADGDM_DATA", "../shared/data") + "/adbench/Classical")
    ap.add_argument("--detectors", default="diffusion;dte-np")
    ap.add_argument("--min-rows", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma-separated sets to leave out (e.g. ones measured before)")
    ap.add_argument("--out", default="benchmarks/results/tabular_cost.csv")
    args = ap.parse_args(argv)
    specs = ["pyod-knn"] + [s for s in args.detectors.split(";") if s]
    rows = []
    for path in sorted(Path(args.data).glob("*.npz")):
        X, y = load_npz(path)
        if len(X) <= args.min_rows or path.stem in args.skip.split(","):
            continue
        tr, te = semi_supervised_split(y, 0)
        X_tr, X_te = standardize(X[tr], X[te])
        best = {s: np.inf for s in specs}
        for _ in range(args.repeats):
            for s in specs:
                best[s] = min(best[s], timed(s, X_tr, X_te))
        for s in specs:
            rows.append({"dataset": path.stem, "rows": len(X), "d": X.shape[1], "detector": s,
                         "seconds": round(best[s], 3), "vs_knn": round(best[s] / best["pyod-knn"], 3)})
        print(path.stem, {s: round(best[s] / best["pyod-knn"], 2) for s in specs}, flush=True)
    out = Path(args.out)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cmd = "PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/tabular_cost.py " + " ".join(
        f"'{a}'" if ";" in a else a for a in (argv if argv is not None else sys.argv[1:]))
    sets = sorted({r["dataset"] for r in rows}, key=lambda d: -next(r["rows"] for r in rows if r["dataset"] == d))
    lines = ["# Cost relative to PyOD KNN on the ADBench sets above "
             f"{args.min_rows:,} rows", "", f"Command: `{cmd}`", "",
             f"Machine: {os.cpu_count()} CPU cores, no GPU used, {platform.machine()}, Python "
             f"{platform.python_version()}; one thread; fit + score of the seed-0 semi split, fastest of "
             f"{args.repeats} interleaved rounds.", "",
             "| dataset | rows | d | pyod-knn s | " + " | ".join(f"`{s}`" for s in specs[1:]) + " |",
             "|---|---|---|---|" + "---|" * (len(specs) - 1)]
    for d in sets:
        r = {x["detector"]: x for x in rows if x["dataset"] == d}
        k = r["pyod-knn"]
        lines.append(f"| {d} | {k['rows']} | {k['d']} | {k['seconds']:.1f} | "
                     + " | ".join(f"{r[s]['vs_knn']:.2f}x" for s in specs[1:]) + " |")
    worst = {s: max(x["vs_knn"] for x in rows if x["detector"] == s) for s in specs[1:]}
    lines += ["", "Worst ratio (target <= 3x on every set): " + ", ".join(f"`{s}` {v:.2f}x" for s, v in worst.items())]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
