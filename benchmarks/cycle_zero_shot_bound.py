"""Can the zero-shot cycle add to `diffusion` on ADBench? A bound, not a tuning run (issue 19).

The zero-shot `cycle` adds to the diffusion score (robust z) the robust z of a classifier trained
on normals vs generated anomalies (weight 1). Per dataset and seed (ADBench semi split, as
`adgdm bench generation` with shots 0) this script scores the test rows with:

* `diffusion` (the base, as `cycle` fits it) and `cycle@0` (weight 1, the shipped rule);
* `head`: the generated-anomaly classifier alone, on the real test anomalies;
* `head-synthetic`: the same classifier on a fresh batch of generated anomalies vs the test
  normals (how well it learned what it was shown);
* `oracle`: the best weight of the classifier in {0, 0.25, 0.5, 1, 2, 4, 8} chosen ON THE TEST
  LABELS: an upper bound on what any fixed-weight fusion of the two parts could add. It is a
  diagnostic and is never used to choose anything.

Usage:
    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/cycle_zero_shot_bound.py --seeds 1 --resume \
        --out benchmarks/results/cycle_zero_shot_bound.csv
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
from adgdm.detectors import CycleDetector, DiffusionDetector
from adgdm.detectors.tabular.cycle import log_odds, make_generator
from adgdm.generation import generate_anomalies
from adgdm.metrics import auroc
from adgdm.scores.fusion import RobustZ

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# the 29 sets of the committed generation run's cycle@0 rows (generation.md)
DATASETS = ("42_WBC 21_Lymphography 39_vertebral 29_Pima 7_Cardiotocography 18_Ionosphere 43_WDBC 17_InternetAds "
            "30_satellite 35_SpamBase 26_optdigits 24_mnist 25_musk 15_Hepatitis 45_wine 14_glass 20_letter "
            "38_thyroid 46_WPBC 2_annthyroid 27_PageBlocks 41_Waveform 31_satimage-2 32_shuttle 34_smtp 5_campaign "
            "22_magic.gamma 16_http 1_ALOI").split()
COLUMNS = ["dataset", "seed", "diffusion", "cycle0", "head", "head_synthetic", "oracle", "oracle_weight", "kept",
           "generated", "fit_s"]


def run_one(X, y, seed, steps, generator="ddpm"):
    tr, te = semi_supervised_split(y, seed)
    X_tr, X_te = standardize(X[tr], X[te])
    y_te = y[te]
    t0 = time.perf_counter()
    base = DiffusionDetector(calibration="train").fit(X_tr)
    gen = make_generator(steps, 128, seed, kind=generator).fit(X_tr)
    cyc = CycleDetector(random_state=seed, generator_steps=steps, generator_kind=generator).fit_reusing(
        X_tr, base=base, generator=gen)
    fit_s = time.perf_counter() - t0
    h = cyc.heads_["generic"]
    zb = RobustZ(cyc.base_center_, cyc.base_scale_)(base.decision_function(X_te))
    zg = RobustZ(h["center"], h["scale"])(log_odds(h["model"], X_te))
    fused = {w: auroc(y_te, zb + w * zg) for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: fused[w])
    # a fresh batch of the kinds the head was trained on, seeds it never saw
    held = X_te[y_te == 0]
    n = min(len(held), 600)
    fresh = np.vstack([generate_anomalies(gen if k != "dependency" else None, X_tr, n // 3, kind=k, severity=1.0,
                                          random_state=seed + 7919 + j)
                       for j, k in enumerate(("local", "masked", "dependency"))])
    lo = log_odds(h["model"], np.vstack([held, fresh]))
    rep = cyc.generation_report_
    return {"diffusion": auroc(y_te, zb), "cycle0": auroc(y_te, cyc.decision_function(X_te)),
            "head": auroc(y_te, zg), "head_synthetic": auroc(np.r_[np.zeros(len(held)), np.ones(len(fresh))], lo),
            "oracle": fused[best], "oracle_weight": best, "kept": sum(r["kept"] for r in rep),
            "generated": sum(r["generated"] for r in rep), "fit_s": round(fit_s, 2)}


def summarise(path: Path, out_md: Path, command: str) -> None:
    rows = list(csv.DictReader(open(path)))
    by = {}
    for r in rows:
        by.setdefault(r["dataset"], []).append(r)
    keys = ["diffusion", "cycle0", "head", "head_synthetic", "oracle"]
    mean = {d: {k: 100 * np.mean([float(r[k]) for r in rs]) for k in keys} for d, rs in by.items()}
    tot = {k: np.mean([m[k] for m in mean.values()]) for k in keys}
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"# Zero-shot cycle: what fusing a generated-anomaly classifier can add (issue 19)", "",
             f"Command: `{command}`", "",
             f"Machine: {os.cpu_count()} CPU cores, no GPU used, {platform.machine()}, Python {platform.python_version()}.",
             "", f"ADBench semi split, seeds {', '.join(seeds)}, {len(by)} datasets; AUROC in points, mean over "
             "seeds then datasets. `oracle` picks the classifier's weight on the test labels (a bound, never a choice).",
             "", "| | diffusion | cycle@0 | head alone (real anomalies) | head on fresh generated (unfiltered) | oracle |",
             "|---|---|---|---|---|---|",
             f"| mean | {tot['diffusion']:.2f} | {tot['cycle0']:.2f} | {tot['head']:.2f} | {tot['head_synthetic']:.2f} "
             f"| {tot['oracle']:.2f} |", "",
             f"- cycle@0 - diffusion: {tot['cycle0'] - tot['diffusion']:+.2f}; oracle - diffusion: "
             f"{tot['oracle'] - tot['diffusion']:+.2f} (target for cycle@0: +1.0)",
             f"- sets where the head alone beats diffusion: "
             f"{sum(m['head'] > m['diffusion'] for m in mean.values())} of {len(mean)}",
             f"- sets where the oracle adds >= 1.0: {sum(m['oracle'] - m['diffusion'] >= 1.0 for m in mean.values())}; "
             f"sets with diffusion >= 99: {sum(m['diffusion'] >= 99 for m in mean.values())}", "",
             "| dataset | diffusion | cycle@0 | head | head on generated | oracle | oracle weights |",
             "|---|---|---|---|---|---|---|"]
    for d in sorted(mean):
        m = mean[d]
        ws = ",".join(r["oracle_weight"] for r in by[d])
        lines.append(f"| {d} | {m['diffusion']:.1f} | {m['cycle0']:.1f} | {m['head']:.1f} | {m['head_synthetic']:.1f} "
                     f"| {m['oracle']:.1f} | {ws} |")
    out_md.write_text("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("ADGDM_DATA", "../shared/data") + "/adbench/Classical")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1500, help="generator training steps (cycle's default)")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--generator", choices=["ddpm", "tabddpm"], default="ddpm", help="the generator cycle trains")
    ap.add_argument("--out", default="benchmarks/results/cycle_zero_shot_bound.csv")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    done = set()
    if args.resume and out.exists():
        done = {(r["dataset"], r["seed"]) for r in csv.DictReader(open(out))}
    new = not out.exists() or not args.resume
    with open(out, "w" if new else "a", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        if new:
            w.writeheader()
        for name in args.datasets.split(","):
            path = Path(args.data) / f"{name}.npz"
            if not path.exists():
                print(f"skip {name}: {path} not found", file=sys.stderr)
                continue
            X, y = load_npz(path)
            for seed in range(args.seeds):
                if (name, str(seed)) in done:
                    continue
                res = run_one(X, y, seed, args.steps, args.generator)
                w.writerow({"dataset": name, "seed": seed} | {k: (round(float(v), 5) if k not in ("kept", "generated")
                                                                 else v) for k, v in res.items()})
                f.flush()
                print(name, seed, {k: round(float(v), 3) for k, v in res.items()}, flush=True)
    summarise(out, out.with_suffix(".md"), "PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/cycle_zero_shot_bound.py "
              + " ".join(a for a in (argv if argv is not None else sys.argv[1:])))


if __name__ == "__main__":
    main()
