"""Choosing how ``diffusion`` handles blank cells (issue 19) without test labels.

RULE (written and committed before any candidate was scored, 2026-12-05 ~20:05 UTC):

* Data: the 23 ADBench Classical sets with <= 10000 rows, seed 0, and ONLY the training part of
  ``semi_supervised_split(y, 0)`` (normal rows). The test part and every label stay unused.
* The training rows are split 70 / 30 by an rng seeded by the set name: the first part fits the
  detector, the second (held-out normals) is scored together with synthetic anomalies:
  ``dependency`` anomalies (:mod:`adgdm.generation.anomalies`: every feature drawn independently
  from the fit part's marginals), as many as there are held-out normals.
* For each rate in 0, 10%, 30%: each cell of the fit rows, then of the scored rows, is blanked
  (NaN) with that probability (rng seeded by set and rate; the same cells for every candidate).
  ``DiffusionDetector`` (defaults, ``standardize=True``) is fitted on the fit rows and scores the
  held-out normals + synthetic anomalies; AUROC (synthetic = 1).
* Candidates: ``missing="impute"`` with ``impute_level`` 0.1, 0.3, 1.0 (1.0: practically uniform
  weights over the 10 nearest rows, the old experimental ``--impute neighbours``);
  ``missing="draws"`` (8 systematic draws) with ``impute_level`` 0.3 and 1.0.
  Mean fill (encoder, 0 + indicator) is scored too, as the reference, not as a candidate.
* Decision: the candidate with the smallest mean AUROC drop (rate 0 minus rate 10%, mean over the
  23 sets) wins; candidates within 0.10 points of the best are tied, and among tied ones the
  smaller mean drop at 30% wins; if still within 0.10 points, the cheaper one
  (``impute`` before ``draws``, then the smaller ``impute_level``).
* Also written (information only, not used to decide): RMSE of the imputation on 10% extra
  observed cells hidden in the held-out normals at rate 10%.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/missing_select.py
"""
from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

CANDIDATES = [("impute", 0.1), ("impute", 0.3), ("impute", 1.0), ("draws", 0.3), ("draws", 1.0), ("meanfill", None)]
RATES = (0.0, 0.1, 0.3)


def rng_for(*parts):
    return np.random.default_rng([zlib.crc32("/".join(map(str, parts)).encode())])


def main(argv=None):
    import pandas as pd

    from adgdm.bench.tabular import select_datasets
    from adgdm.data import load_npz, semi_supervised_split
    from adgdm.detectors.tabular.diffusion import DiffusionDetector
    from adgdm.metrics import auroc
    from missing_cells import encode

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/adbench/Classical")
    ap.add_argument("--max-rows", type=int, default=10000)
    ap.add_argument("--out", default="benchmarks/results/missing_select.csv")
    args = ap.parse_args(argv)
    files, names = select_datasets(args.data, None)
    sizes = {}
    for n in names:
        with np.load(files[n], allow_pickle=False) as f:
            sizes[n] = f["y"].shape[0]
    names = sorted([n for n in names if sizes[n] <= args.max_rows], key=lambda n: (sizes[n], n))
    out = Path(args.out)
    rows = []
    for name in names:
        X, y = load_npz(files[name])
        tr, _ = semi_supervised_split(y, 0)
        Xn = X[tr].astype(np.float64)
        perm = rng_for(name, "split").permutation(len(Xn))
        cut = int(0.7 * len(Xn))
        fit_rows, held = Xn[perm[:cut]], Xn[perm[cut:]]
        rng = rng_for(name, "anomalies")
        anom = np.stack([fit_rows[rng.integers(0, len(fit_rows), size=len(held)), j] for j in range(X.shape[1])], 1)
        ev = np.vstack([held, anom])
        lab = np.r_[np.zeros(len(held)), np.ones(len(anom))]
        for rate in RATES:
            r = rng_for(name, "cells", rate)
            F = fit_rows.copy()
            E = ev.copy()
            if rate > 0:
                F[r.random(F.shape) < rate] = np.nan
                E[r.random(E.shape) < rate] = np.nan
            # rows left with no observed cell: dropped from both sides (the detector refuses them)
            F = F[~np.isnan(F).all(1)]
            keep = ~np.isnan(E).all(1)
            E_, lab_ = E[keep], lab[keep]
            # hidden extra cells (information only): 10% of the observed cells of held-out normals
            H = E_[lab_ == 0].copy()
            hide = (rng_for(name, "hide", rate).random(H.shape) < 0.1) & ~np.isnan(H)
            hide &= (~np.isnan(H)).sum(1, keepdims=True) - hide.sum(1, keepdims=True) > 0
            truth = H[hide]
            Hh = H.copy()
            Hh[hide] = np.nan
            sd = np.nanstd(F, axis=0)
            sd = np.where(sd > 1e-12, sd, 1.0)
            for mode, level in CANDIDATES:
                t0 = time.perf_counter()
                rmse = np.nan
                if mode == "meanfill":
                    try:
                        Zf, Ze = encode(F, E_)
                    except ValueError:  # a column blank in the scored rows only: the encoder refuses
                        rows.append({"dataset": name, "rate": rate, "mode": mode, "level": level, "auroc": np.nan})
                        continue
                    det = DiffusionDetector(standardize=False).fit(Zf)
                    s = det.decision_function(Ze)
                else:
                    det = DiffusionDetector(missing=mode, impute_level=level).fit(F)
                    s = det.decision_function(E_)
                    if rate > 0 and hide.any():
                        imp = det.impute(Hh)
                        rmse = float(np.sqrt(np.mean(((imp[hide] - truth) / sd[np.nonzero(hide)[1]]) ** 2)))
                a = 100 * auroc(lab_, s)
                rows.append({"dataset": name, "rate": rate, "mode": mode, "level": level, "auroc": round(a, 3),
                             "rmse_hidden": rmse, "seconds": round(time.perf_counter() - t0, 2)})
                print(name, rate, mode, level, f"{a:.2f}", f"{rmse:.3f}", file=sys.stderr, flush=True)
        pd.DataFrame(rows).to_csv(out, index=False)
    summarise(out)


def summarise(out: Path):
    import pandas as pd

    df = pd.read_csv(out)
    df["cand"] = df["mode"] + " " + df["level"].map(lambda v: "-" if pd.isna(v) else str(v))
    piv = df.pivot_table(index=["dataset", "cand"], columns="rate", values="auroc")
    drop10 = (piv[0.0] - piv[0.1]).groupby("cand").mean()
    drop30 = (piv[0.0] - piv[0.3]).groupby("cand").mean()
    rmse = df[df["rate"] == 0.1].groupby("cand")["rmse_hidden"].mean()
    secs = df.groupby("cand")["seconds"].sum()
    n_sets = df["dataset"].nunique()
    tab = pd.DataFrame({"drop 10%": drop10, "drop 30%": drop30, "AUROC 0%": piv[0.0].groupby("cand").mean(),
                        "RMSE hidden (sd units)": rmse, "seconds": secs}).round(3)
    md = ["| candidate | " + " | ".join(tab.columns) + " |", "|---|" + "---|" * len(tab.columns)]
    md += ["| " + c + " | " + " | ".join(f"{v:.3f}" for v in tab.loc[c]) + " |" for c in tab.index]
    print(f"{n_sets} sets\n" + "\n".join(md))
    cands = tab.drop(index=[c for c in tab.index if c.startswith("meanfill")])
    best = cands["drop 10%"].min()
    tied = cands[cands["drop 10%"] <= best + 0.10]
    best30 = tied["drop 30%"].min()
    tied = tied[tied["drop 30%"] <= best30 + 0.10]
    order = sorted(tied.index, key=lambda c: (c.split()[0] != "impute", float(c.split()[1])))
    print(f"chosen by the rule: {order[0]} (tied after both criteria: {order})")
    return tab, order[0]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summary-only"]:
        summarise(Path("benchmarks/results/missing_select.csv"))
    else:
        main()
