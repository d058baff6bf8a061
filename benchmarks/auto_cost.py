"""Fit cost of ``auto`` against the tables default ``diffusion`` (issue 32 target: at most 5x),
measured warm: each is fitted twice in the same process on the same training rows (ADBench semi:
half the normal rows, seed 0) and the second fit is timed, so import and first-call costs are
not counted for either.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/auto_cost.py --data ../shared/data/adbench/Classical \
        --max-rows 10000 --out benchmarks/results/auto_cost
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import adgdm
from adgdm.data.tabular import list_npz, load_npz, semi_supervised_split


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/adbench/Classical")
    ap.add_argument("--max-rows", type=int, default=10_000)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rows = []
    for name, path in sorted(list_npz(a.data).items()):
        X, y = load_npz(path)
        train, _ = semi_supervised_split(y, 0)
        Xt = X[train]
        if len(Xt) > a.max_rows:
            continue
        r = {"dataset": name, "n_train": len(Xt), "d": X.shape[1]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for spec in ("diffusion", "auto"):
                for _ in range(2):
                    t0 = time.perf_counter()
                    det = adgdm.make_detector(spec, random_state=0).fit(Xt)
                    r[f"{spec}_s"] = round(time.perf_counter() - t0, 4)
        r["ratio"] = round(r["auto_s"] / r["diffusion_s"], 2)
        r["chosen"] = det.chosen_
        rows.append(r)
        print(r, flush=True)
    df = pd.DataFrame(rows)
    big = df[df.n_train >= 1000]
    text = (f"# auto fit cost against diffusion (warm, second fit timed)\n\nCommand: `OMP_NUM_THREADS=1 PYTHONPATH=src python "
            f"{' '.join(sys.argv)}`  \nMachine: {platform.machine()}, 2 cores (shared), no GPU, 1 thread.\n\n"
            f"Median ratio {df.ratio.median():.1f}x over {len(df)} sets (max {df.ratio.max():.1f}x, "
            f"{df.loc[df.ratio.idxmax(), 'dataset']}); on the {len(big)} sets with at least 1,000 training rows median "
            f"{big.ratio.median():.1f}x, max {big.ratio.max():.1f}x. Target: at most 5x.\n\n")
    cols = list(df.columns)
    table = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                      + ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)])
    if a.out:
        out = Path(a.out)
        df.to_csv(out.with_suffix(".csv"), index=False)
        out.with_suffix(".md").write_text(text + table + "\n")
    print(text)


if __name__ == "__main__":
    main()
