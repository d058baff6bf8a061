"""Markdown summary of the tabddpm fidelity run next to the old ddpm generator.

    PYTHONPATH=src python benchmarks/generation_tabddpm_summary.py \
        --adbench benchmarks/results/generation_tabddpm.csv \
        --nslkdd benchmarks/results/generation_tabddpm_nslkdd.csv \
        --old benchmarks/results/generation.csv --out benchmarks/results/generation_tabddpm.md \
        --command "..." --command "..."
"""
from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
import pandas as pd


def _fmt(v, nd=3):
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--adbench", type=Path, required=True)
    ap.add_argument("--nslkdd", type=Path)
    ap.add_argument("--old", type=Path, default=Path("benchmarks/results/generation.csv"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", action="append", default=[])
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args(argv)
    import torch

    new = pd.read_csv(a.adbench)
    new = new[new.detector == "tabddpm-sample"]
    old = pd.read_csv(a.old)
    old = old[old.detector == "ddpm-sample"]
    old_all = old.groupby("dataset").c2st_auc.mean()
    old0 = old[old.seed == 0].set_index("dataset").c2st_auc
    old_dcr0 = old[old.seed == 0].set_index("dataset").dcr_ratio
    per = new.groupby("dataset").agg(c2st=("c2st_auc", "mean"), mmd=("mmd", "mean"), density=("density", "mean"),
                                     coverage=("coverage", "mean"), dcr=("dcr_ratio", "mean"), ncat=("kept", "first"),
                                     d=("d", "first"), n_train=("n_train", "first"), fit_s=("fit_s", "sum"),
                                     sample_s=("score_s", "sum"))
    per["old_seed0"] = old0.reindex(per.index)
    per["old_3seeds"] = old_all.reindex(per.index)
    per["old_dcr0"] = old_dcr0.reindex(per.index)
    both = per.dropna(subset=["old_seed0"])
    lines = [f"# Mixed-type generator (`tabddpm`) fidelity: `{a.adbench.name}`", ""]
    lines += ["Commands:", ""] + [f"    {c}" for c in a.command] + [""]
    lines += [f"Machine: 2 CPU cores (shared with other jobs), no GPU used, {platform.machine()}, Python "
              f"{platform.python_version()}, torch {torch.__version__}; one torch/OpenMP thread.", ""]
    lines += ["Protocol: ADBench semi-supervised split (seed 0: a random half of the normal rows train the "
              "generator); C2ST AUC (boosted trees, 5-fold, 0.5 = indistinguishable) of min(2000, held-out) samples "
              "against the held-out test normals, as `adgdm bench generation` computes it for the `ddpm` generator. "
              "`tabddpm` (1,500 training steps like the old generator; width 256, depth 2, EMA 0.995, cosine "
              "schedule) fits the raw training rows with its defaults, chosen on held-out training rows before this "
              "run (`tabddpm_select.md`): on ADBench's all-numeric arrays no column is categorical (`discrete=None`), "
              "so there it is a Gaussian DDPM over quantile-normal columns, few-level columns snapped to their levels; "
              "on NSL-KDD the text columns go through multinomial diffusion. Samples: the full 1000-step ancestral "
              "chain, then standardised like the other rows. The old numbers are the `ddpm-sample` rows of "
              "`generation.csv` (same split for seed 0; 3 seeds for the published median).", ""]
    lines += a.note + ([""] if a.note else [])
    med_new = per.c2st.median()
    lines += ["## Summary", "",
              "| generator | datasets | median C2ST | mean C2ST | sets <= 0.65 | median density | median coverage | median DCR ratio |",
              "|---|---|---|---|---|---|---|---|",
              f"| `tabddpm` (seed 0) | {len(per)} | {med_new:.3f} | {per.c2st.mean():.3f} | {(per.c2st <= 0.65).sum()} | "
              f"{per.density.median():.2f} | {per.coverage.median():.2f} | {per.dcr.median():.2f} |",
              f"| `ddpm` (old, seed 0, same sets) | {len(both)} | {both.old_seed0.median():.3f} | {both.old_seed0.mean():.3f} | "
              f"{(both.old_seed0 <= 0.65).sum()} | | | |",
              f"| `ddpm` (old, 3 seeds, all 29 sets; published) | {old_all.size} | {old_all.median():.3f} | "
              f"{old_all.mean():.3f} | {(old_all <= 0.65).sum()} | | | |", ""]
    if len(both):
        lines += [f"On the {len(both)} sets both have (seed 0): `tabddpm` median {both.c2st.median():.3f} vs `ddpm` "
                  f"{both.old_seed0.median():.3f}; `tabddpm` lower (better) on {(both.c2st < both.old_seed0).sum()} sets.", ""]
    nsl = None
    if a.nslkdd and a.nslkdd.exists():
        nsl = pd.read_csv(a.nslkdd).groupby("detector").c2st_auc.mean()
    lines += ["## Targets", "",
              f"- ADBench median C2ST <= 0.70: {med_new:.3f} over {len(per)} of 29 sets "
              f"({'met' if med_new <= 0.70 else 'not met'}" + (" on the sets reached; the run did not cover all 29: "
              "missing " + ", ".join(sorted(set(old_all.index) - set(per.index))) if len(per) < 29 else "")
              + f"; old `ddpm` 0.749 over 29 sets, {both.old_seed0.median():.3f} on the same {len(both)} sets, seed 0)"]
    if nsl is not None and "tabddpm-sample" in nsl:
        v = nsl["tabddpm-sample"]
        lines.append(f"- NSL-KDD C2ST <= 0.65: {v:.3f} ({'met' if v <= 0.65 else 'not met'}; `ddpm` on the one-hot "
                     f"encoding: {_fmt(nsl.get('ddpm-sample', np.nan))})")
    lines += ["", "## Per dataset", "",
              "| dataset | n train | d | categorical cols | C2ST `tabddpm` | C2ST `ddpm` seed 0 | C2ST `ddpm` 3 seeds | density | coverage | DCR ratio | DCR ratio `ddpm` seed 0 | fit s | sample s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for ds, r in per.sort_values("n_train").iterrows():
        lines.append(f"| {ds} | {int(r.n_train)} | {int(r.d)} | {int(r.ncat)} | {r.c2st:.3f} | {_fmt(r.old_seed0)} | "
                     f"{_fmt(r.old_3seeds)} | {r.density:.2f} | {r.coverage:.2f} | {r.dcr:.2f} | {_fmt(r.old_dcr0, 2)} | "
                     f"{r.fit_s:.0f} | {r.sample_s:.0f} |")
    if a.nslkdd and a.nslkdd.exists():
        df = pd.read_csv(a.nslkdd)
        lines += ["", "## NSL-KDD (normal rows of KDDTrain+; half train, half held out)", "",
                  "| generator | seeds | C2ST | MMD | density | coverage | DCR ratio | categorical cols | fit s | sample s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, g in df.groupby("detector"):
            lines.append(f"| `{name}` | {g.seed.nunique()} | {g.c2st_auc.mean():.3f} | {g.mmd.mean():.4f} | "
                         f"{g.density.mean():.2f} | {g.coverage.mean():.2f} | {g.dcr_ratio.mean():.2f} | "
                         f"{_fmt(g.kept.mean(), 0)} | {g.fit_s.mean():.0f} | {g.score_s.mean():.0f} |")
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
