"""Ablation of the `image` detector's two branches: image AUROC of the global branch alone, the
local (segmentation) branch alone, and three ways to combine their z-scores, on MTD and MNIST.

This is how the default weighting (global z + 0.5 x local z) was chosen, on test labels of seed 0,
so it is reported beside the results as a caveat, not as a clean held-out number.

    OMP_NUM_THREADS=1 python benchmarks/image_branches.py --suite mnist --data ../shared/data/mnist --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/image_branches.py --suite mtd --data ../shared/data/mtd --seeds 0

Writes long-format rows (suite, dataset, seed, variant, auroc) to --out (appends).
"""
from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from adgdm.data.images import load_mnist, load_mtd
from adgdm.detectors.image.default import ImageDiffusion

VARIANTS = {"global": lambda g, l: g, "local": lambda g, l: l, "sum": lambda g, l: g + l,
            "max": lambda g, l: np.maximum(g, l), "sum_w0.5": lambda g, l: g + 0.5 * l}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", choices=("mtd", "mnist"), required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--out", default="benchmarks/results/image_branches.csv")
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    new = not out.exists()
    with out.open("a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["suite", "dataset", "seed", "variant", "auroc"])
        for seed in map(int, a.seeds.split(",")):
            if a.suite == "mnist":
                jobs = [(str(d), *load_mnist(a.data, d, seed=seed)) for d in range(10)]
            else:
                jobs = [("all", *load_mtd(a.data, size=128, seed=seed))]
            for name, tr, te in jobs:
                det = ImageDiffusion(random_state=seed).fit(tr.images)
                b = det.branch_scores(te.images)
                kinds = np.array(te.kinds)
                groups = [name] if a.suite == "mnist" else ["Blowhole", "Break", "Crack"]
                for g in groups:
                    m = np.ones(len(kinds), bool) if a.suite == "mnist" else (kinds == "good") | (kinds == g)
                    for v, f in VARIANTS.items():
                        w.writerow([a.suite, g, seed, v, round(100 * roc_auc_score(te.labels[m], f(b["global"], b["local"])[m]), 3)])
                fh.flush()
                print(a.suite, name, seed, "done", flush=True)


if __name__ == "__main__":
    main()
