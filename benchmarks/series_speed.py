"""Scoring speed of series detectors: fit on a 2,000-step univariate series, score N new points.

Usage: python benchmarks/series_speed.py [--n 1000000] [--detectors series] [--threads 2]
Writes benchmarks/results/series_speed.csv (long format) and .md.
"""
import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from adgdm.bench.summary import _table, machine
from adgdm.detectors import make_detector

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=1_000_000)
p.add_argument("--train", type=int, default=2000)
p.add_argument("--detectors", default="series")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--out", default="benchmarks/results/series_speed.csv")
a = p.parse_args()
torch.set_num_threads(a.threads)
rng = np.random.default_rng(0)
t = np.arange(a.train + a.n)
x = np.sin(2 * np.pi * t / 100) + 0.1 * rng.normal(size=len(t))
rows = []
for spec in a.detectors.split(";"):
    det = make_detector(spec, random_state=0)
    t0 = time.perf_counter()
    det.fit(x[: a.train])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = det.decision_function(x[a.train :])
    score_s = time.perf_counter() - t0
    assert s.shape == (a.n,)
    rows.append({"detector": spec, "n_train": a.train, "n_scored": a.n, "threads": a.threads,
                 "fit_s": round(fit_s, 2), "score_s": round(score_s, 2), "points_per_s": int(a.n / score_s)})
    print(rows[-1], flush=True)
out = Path(a.out)
with out.open("w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
cmd = f"python benchmarks/series_speed.py --n {a.n} --train {a.train} --detectors '{a.detectors}' --threads {a.threads}"
md = [f"# Series scoring speed", "", f"Command: `{cmd}`", "", f"Machine: {machine()}.", "",
      "Univariate sine plus noise; fit on the first `n_train` steps, then score `n_scored` new steps in one call.", "",
      _table([list(r.values()) for r in rows], list(rows[0])), ""]
out.with_suffix(".md").write_text("\n".join(md))
