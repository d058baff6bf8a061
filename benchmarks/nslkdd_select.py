"""The encoder's ``category_scale`` (the value of a one-hot cell, in numeric standard deviations)
chosen WITHOUT KDDTest+ labels (issue 19): on the NSL-KDD training normals only.

For each seed, the ``normal`` rows of the ``KDDTrain+`` sample are split in half: ``diffusion``
(through :class:`adgdm.data.encoder.TableEncoder`, ``standardize=False``, as ``adgdm fit`` runs
it) is fitted on one half and scores the other half against synthetic anomalies made from it:

* ``category``: one categorical column set to another of its training categories (drawn from
  its marginal): a category that does not go with the rest of the row;
* ``numeric``: three non-constant numeric columns set to the values of other random rows
  (marginals kept, dependencies broken);
* ``both``: one of each.

The validation AUROC (held-out normals = 0, their corrupted copies = 1) is averaged over kinds and
seeds; the largest wins, and the default (1.0) is kept unless another beats it by more than
0.1 point. Only then is the choice scored on KDDTest+ (``--test``), once.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/nslkdd_select.py --out benchmarks/results/nslkdd_select.csv --test
"""
from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nslkdd import DATA, load  # noqa: E402

SCALES = (0.5, 1.0, 1.5, 2.0, 3.0)
KINDS = ("category", "numeric", "both")


def corrupt(df, kind: str, rng, cats, nums):
    out = df.copy().reset_index(drop=True)
    n = len(out)
    for i in range(n):
        if kind in ("category", "both"):
            c = cats[rng.integers(len(cats))]
            levels = df[c].to_numpy()
            cur = out.at[i, c]
            for _ in range(50):
                v = levels[rng.integers(len(levels))]
                if v != cur:
                    out.at[i, c] = v
                    break
        if kind in ("numeric", "both"):
            k = 3 if kind == "numeric" else 1
            for c in rng.choice(nums, size=k, replace=False):
                out.at[i, c] = df[c].iloc[rng.integers(n)]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/nslkdd_select.csv"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--test", action="store_true", help="then score the chosen scale on KDDTest+ (once)")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    md_path = args.out.with_suffix(".md")
    if not args.force and (args.out.exists() or md_path.exists()):
        sys.exit(f"{args.out} or {md_path} exists; pass --force")
    import pandas as pd

    from adgdm.data.encoder import TableEncoder
    from adgdm.detectors.tabular.diffusion import DiffusionDetector
    from adgdm.metrics import auprc, auroc

    t_all = time.perf_counter()
    normal, test, y_test = load(args.data)
    cats = [c for c in normal.columns if not pd.api.types.is_numeric_dtype(normal[c].dtype)]
    nums = [c for c in normal.columns if c not in cats and normal[c].nunique() > 1]
    rows = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(normal))
        fit_df, held = normal.iloc[perm[: len(perm) // 2]], normal.iloc[perm[len(perm) // 2:]]
        bad = {k: corrupt(held, k, np.random.default_rng(100 + seed), cats, nums) for k in KINDS}
        for scale in SCALES:
            enc = TableEncoder(category_scale=scale).fit(fit_df)
            det = DiffusionDetector(standardize=False).fit(enc.transform(fit_df))
            s0 = det.decision_function(enc.transform(held))
            for k in KINDS:
                s1 = det.decision_function(enc.transform(bad[k]))
                yv = np.r_[np.zeros(len(s0)), np.ones(len(s1))]
                rows.append({"split": "validation", "seed": seed, "kind": k, "category_scale": scale,
                             "auroc": round(auroc(yv, np.r_[s0, s1]), 6), "auprc": round(auprc(yv, np.r_[s0, s1]), 6)})
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    val = df.groupby("category_scale")["auroc"].mean()
    best = float(val.idxmax())
    chosen = best if val[best] - val[1.0] > 0.001 else 1.0
    if args.test:
        enc = TableEncoder(category_scale=chosen).fit(normal)
        det = DiffusionDetector(standardize=False).fit(enc.transform(normal))
        s = det.decision_function(enc.transform(test))
        rows.append({"split": "KDDTest+", "seed": -1, "kind": "real attacks", "category_scale": chosen,
                     "auroc": round(auroc(y_test, s), 6), "auprc": round(auprc(y_test, s), 6)})
        df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    import torch

    cmd = "PYTHONPATH=src OMP_NUM_THREADS=1 python " + " ".join(shlex.quote(a) for a in sys.argv)
    piv = df[df["split"] == "validation"].pivot_table(index="category_scale", columns="kind", values="auroc")
    lines = ["# NSL-KDD: the encoder's `category_scale` chosen without test labels: `nslkdd_select.csv`", "",
             f"Command: `{cmd}`", "",
             f"Machine: 2 CPU cores, no GPU used, {platform.machine()}, Python {platform.python_version()}, "
             f"torch {torch.__version__}. Wall time {(time.perf_counter() - t_all) / 60:.1f} min.", "",
             "Protocol (script docstring): fit `diffusion` through the encoder on a random half of the KDDTrain+ "
             f"normals, score the other half against synthetic anomalies made from it ({', '.join(KINDS)}); "
             f"validation AUROC, mean of {args.seeds} seeds. No KDDTest+ label is read until the choice is made. "
             "Disclosure: the default (1.0) had been scored on KDDTest+ before this study (`nslkdd.md`).", "",
             "| category_scale | " + " | ".join(piv.columns) + " | mean |", "|---" * (len(piv.columns) + 2) + "|"]
    for sc, r in piv.iterrows():
        lines.append(f"| {sc:g} | " + " | ".join(f"{v:.4f}" for v in r) + f" | {val[sc]:.4f} |")
    lines += ["", f"Chosen by the protocol: `category_scale={chosen:g}` (best mean {val[best]:.4f} at {best:g}; the "
              f"default 1.0 {val[1.0]:.4f}; the default is kept unless beaten by more than 0.1 point)."]
    if chosen == max(SCALES):
        lines += ["", "Reading: the pick sits at the edge of the grid. The `category` and `both` kinds rise "
                  "monotonically with the scale (a swapped category is easier to see the more a category weighs) "
                  "while `numeric` stays flat, so this protocol rewards weighting whatever its synthetic anomalies "
                  "corrupt, and would pick any larger scale too. It is not adopted as the encoder's default, which "
                  "stays 1.0 (a category mismatch ~1.4 numeric standard deviations); the KDDTest+ line below is a "
                  "side result of this variant, not the recommended detector's."]
    if args.test:
        t = df[df["split"] == "KDDTest+"].iloc[0]
        lines += ["", f"KDDTest+ with the choice: AUROC {t['auroc']:.4f}, AUPRC {t['auprc']:.4f}."]
    md_path.write_text("\n".join(lines) + "\n")
    print(f"chosen {chosen}; wrote {args.out} and {md_path}")


if __name__ == "__main__":
    main()
