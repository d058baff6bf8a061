"""The ideal denoiser (EmpiricalDenoiser, as video-obj builds it) against the learned conditional
density (LearnedObjectDensity, conditioned on position) on a synthetic object-feature problem
where size and speed depend on position (issue 31).

Nine columns like video-obj's: position y, x; size log_h, log_w, log_area (perspective: larger
lower in the frame); motion dx, dy, speed, speed_q90 (faster lower in the frame, two lanes with
opposite directions left and right). Anomalies are features that are normal *elsewhere*: the
size block (``size``) or the motion block (``speed``) of a normal object 0.3-0.7 (``far``) or
0.1-0.25 (``near``) frame heights away, pasted onto an object at its own position. Features are standardised by the training rows'
mean and deviation (as video-obj does). AUROC on 2,000 normal + 500 anomalous test rows per data
seed; fit seconds; score throughput on 20,000 new normal rows. 1 torch thread. No setting was
tuned on these labels (the models run with their defaults and video-obj's denoiser settings).

    OMP_NUM_THREADS=1 python benchmarks/obj_density_check.py benchmarks/results/obj_density_check
"""
import csv
import platform
import sys
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from adgdm.detectors.video.obj_density import LearnedObjectDensity
from adgdm.scores import EmpiricalDenoiser

torch.set_num_threads(1)
COLUMNS = ["y", "x", "log_h", "log_w", "log_area", "dx", "dy", "speed", "speed_q90"]
SIZE, MOTION = [2, 3, 4], [5, 6, 7, 8]


def objects(rng, n, y=None):
    y = rng.uniform(0, 1, n) if y is None else y
    x = rng.uniform(0, 1, n)
    log_h = 1.5 * y + rng.normal(0, 0.1, n)
    log_w = log_h - 0.7 + rng.normal(0, 0.1, n)
    log_area = log_h + log_w + rng.normal(0, 0.05, n)
    speed = np.abs(rng.normal(2 * y, 0.1))
    dx = np.where(x < 0.5, 1.0, -1.0) * speed + rng.normal(0, 0.05, n)
    dy = rng.normal(0, 0.05, n)
    q90 = 1.2 * speed + rng.normal(0, 0.05, n)
    return np.c_[y, x, log_h, log_w, log_area, dx, dy, speed, q90]


SHIFTS = {"far": (0.3, 0.7), "near": (0.1, 0.25)}


def misplaced(rng, n, block, shift):
    """Objects whose ``block`` columns come from a normal object ``shift`` frame heights away."""
    rows = objects(rng, n)
    donor = objects(rng, n, y=(rows[:, 0] + rng.choice([-1, 1], n) * rng.uniform(*shift, n)) % 1.0)
    if block == MOTION:  # keep the lane direction of the object's own x
        donor[:, 5] = np.abs(donor[:, 5]) * np.where(rows[:, 1] < 0.5, 1.0, -1.0)
    rows[:, block] = donor[:, block]
    return rows


def models(seed):
    yield "ideal (EmpiricalDenoiser)", lambda n: EmpiricalDenoiser(
        noise_levels=(0.1, 0.2, 0.3), n_neighbors=10, coarse_neighbors=min(50, n - 1), marginal_sigma=0.5,
        knn_backend="torch")
    yield "learned (LearnedObjectDensity given y and x)", lambda n: LearnedObjectDensity(
        cond_columns=(0, 1), random_state=seed)


def run(n_train, seed):
    rng = np.random.default_rng(1000 + seed)
    train = objects(rng, n_train)
    mu, sd = train.mean(axis=0), train.std(axis=0)
    std = lambda a: (a - mu) / sd  # noqa: E731
    normal = objects(rng, 2000)
    tests = {k: std(np.r_[normal, misplaced(rng, 250, SIZE, v), misplaced(rng, 250, MOTION, v)])
             for k, v in SHIFTS.items()}
    kind = np.r_[np.zeros(2000), np.ones(250), 2 * np.ones(250)]
    bulk = std(objects(rng, 20_000))
    out = []
    for name, make in models(seed):
        t0 = time.perf_counter()
        den = make(n_train).fit(std(train))
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        den.score(bulk)
        rate = len(bulk) / (time.perf_counter() - t0)
        for shift, test in tests.items():
            s = den.score(test)
            row = {"n_train": n_train, "seed": seed, "model": name, "shift": shift, "fit_s": round(fit_s, 2),
                   "score_rows_per_s": round(rate), "auroc": roc_auc_score(kind > 0, s)}
            for k, label in ((1, "auroc_size"), (2, "auroc_speed")):
                keep = (kind == 0) | (kind == k)
                row[label] = roc_auc_score(kind[keep] > 0, s[keep])
            out.append(row)
            print(row, flush=True)
    return out


def main(stem):
    rows = [r for n in (2000, 20_000) for seed in (0, 1) for r in run(n, seed)]
    with open(f"{stem}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = ["# Ideal vs learned conditional density of object features (synthetic, issue 31)", "",
             f"Command: `OMP_NUM_THREADS=1 python {' '.join(sys.argv)}`", "",
             f"Machine: {platform.machine()}, 2 CPU cores (shared with other jobs), no GPU; torch {torch.__version__} "
             f"on 1 thread; Python {platform.python_version()}.", "",
             "Problem (module docstring of `benchmarks/obj_density_check.py`): 9 object features, size and speed "
             "depend on the position y; anomalies carry the size or the motion block of a normal object "
             "0.3-0.7 (`far`) or 0.1-0.25 (`near`) frame heights away (normal elsewhere, wrong at their position). "
             "2,000 normal + 500 anomalous test rows; mean over 2 data/model seeds. Scores on 20,000 new rows "
             "for the throughput.", "",
             "| train rows | anomalies | model | AUROC | AUROC size | AUROC speed | fit s | score rows/s |",
             "|---|---|---|---|---|---|---|---|"]
    for n in (2000, 20_000):
        for shift, name in ((s, m) for s in SHIFTS for m in dict.fromkeys(r["model"] for r in rows)):
            sel = [r for r in rows if r["n_train"] == n and r["model"] == name and r["shift"] == shift]
            m = {k: np.mean([r[k] for r in sel]) for k in ("auroc", "auroc_size", "auroc_speed", "fit_s",
                                                         "score_rows_per_s")}
            lines.append(f"| {n:,} | {shift} | {name} | {100 * m['auroc']:.2f} | {100 * m['auroc_size']:.2f} | "
                         f"{100 * m['auroc_speed']:.2f} | {m['fit_s']:.1f} | {m['score_rows_per_s']:,.0f} |")
    open(f"{stem}.md", "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
