"""Leave-one-folder-out choice of the drift-aware alarm rule's parameters on SKAB, on a finer grid
than ``adgdm bench series --protocol loco`` can afford (issue 18, item 4).

``series`` is fitted once per file (its scores do not depend on the seed at SKAB's 400 training
rows: every training window is a reference window); then, for each grid point, the fitted detector's
rule is refitted on its calibration scores (``set_params(alarm="drift", ...)`` + ``_fit_alarm``:
what ``fit`` does, without refitting the model) and its own flags (``predict`` of the whole series)
are counted on the test part. ``contamination`` here moves only the rule's ``q``: the thresholded
counts equal those of a detector fitted with the spec string. The choice per held-out folder is
:func:`adgdm.bench.loco.choose_pooled_per_group` (best pooled F1 on the other folder with pooled
FAR <= 20%).

Usage: OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/skab_drift_loco.py ../shared/data/skab \
    benchmarks/results/skab_drift_fine.csv
"""
from __future__ import annotations

import csv
import itertools
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from adgdm.bench.loco import write_loco
from adgdm.data.series import load_skab
from adgdm.detectors import make_detector

Q = (0.005, 0.01, 0.02, 0.05)
DEPTH = (25, 50, 100, 200)
ABSORB = (None, 200, 250, 300, 350, 400, 500, 600, 800)
COLUMNS = ["suite", "dataset", "detector", "seed", "tp", "fp", "fn", "tn", "thr_f1", "far", "mar"]


def spec(q, depth, absorb) -> str:
    return f"series:alarm=drift,contamination={q},alarm_depth={depth},alarm_absorb={absorb}"


def counts(pred: np.ndarray, y: np.ndarray) -> dict:
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "thr_f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4),
            "far": round(100 * fp / max(fp + tn, 1), 3), "mar": round(100 * fn / max(fn + tp, 1), 3)}


def main(data, out) -> None:
    out = Path(out)
    grid = list(itertools.product(Q, DEPTH, ABSORB))
    rows = []
    t0 = time.perf_counter()
    for rec in load_skab(data):
        det = make_detector("series", random_state=0).fit(rec.train_values)
        scores = det.decision_function(rec.values)
        te, y = rec.train_end, rec.labels[rec.train_end:]
        rows.append({"suite": "skab", "dataset": rec.name, "detector": "series", "seed": 0,
                     **counts(scores[te:] > det.threshold_, y)})
        for q, depth, absorb in grid:
            det.set_params(alarm="drift", contamination=q, alarm_depth=depth, alarm_absorb=absorb)
            det._fit_alarm()
            rows.append({"suite": "skab", "dataset": rec.name, "detector": spec(q, depth, absorb), "seed": 0,
                         **counts(det._flags(scores)[te:].astype(bool), y)})
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    command = "OMP_NUM_THREADS=1 PYTHONPATH=src python " + " ".join(shlex.quote(a) for a in sys.argv)
    loco_csv, md = write_loco(out, "skab", [spec(*g) for g in grid], ["series"], metrics=["thr_f1"],
                              command=command)
    print(md.split("## ", 1)[-1].split("\n\n")[0:2])
    print(f"wrote {out}, {loco_csv} and {loco_csv.with_suffix('.md')} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main(*sys.argv[1:3])
