"""Markdown summary of a generation benchmark CSV: fidelity of generated normals and detection
AUROC/AUPRC per detector and shot count, with the issue's targets checked."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .summary import _table, summary_start


FIDELITY_ROWS = ("ddpm-sample", "ddim50-sample", "tabddpm-sample", "series-recon-sample", "train-windows")


def summarize_generation(csv_path, out_md=None, command: str | None = None) -> str:
    df, parts = summary_start(csv_path, "Generation", command,
                              "Protocol: ADBench semi-supervised split per seed (half the normals train; the rest and the anomalies "
                              "test); `max(shots)` anomalies leave the test part as the labelled pool (k-shot uses the first k). "
                              "Fidelity: the `ddpm` generator's samples against held-out test normals (C2ST AUC: 0.5 = "
                              "indistinguishable; DCR ratio: about 1 = no closer to training rows than new real rows are). "
                              "Detection: AUROC/AUPRC in points on the test part, mean over seeds then datasets.")
    seeds = df.groupby("dataset").seed.nunique()
    short = seeds[seeds < seeds.max()]
    if len(short):
        parts += [f"Datasets with fewer than {seeds.max()} seeds (a stopped run): "
                  + ", ".join(f"`{d}` ({n})" for d, n in short.items()) + ".", ""]
    samplers = [n for n in FIDELITY_ROWS if n in set(df.detector)]
    fid = df[df.detector == samplers[0]] if samplers else df.iloc[:0]
    if samplers:
        rows = []
        for name in samplers:
            per = df[df.detector == name].groupby("dataset")[["c2st_auc", "mmd", "density", "coverage",
                                                              "dcr_ratio", "score_s"]].mean()
            rows.append([f"`{name}`", f"{len(per)}", f"{per.c2st_auc.median():.3f}", f"{per.c2st_auc.mean():.3f}",
                         f"{(per.c2st_auc <= 0.65).sum()}", f"{per.mmd.median():.4f}", f"{per.density.median():.2f}",
                         f"{per.coverage.median():.2f}", f"{per.dcr_ratio.median():.2f}", f"{per.score_s.sum():.0f}"])
        parts += ["## Fidelity of generated normals", "",
                  "`ddpm-sample` is the generator's default sampler (the ancestral chain over all 1000 timesteps), "
                  "`ddim50-sample` the same model with 50 DDIM steps; `series-recon-sample`: windows drawn by "
                  "`series-recon` and `train-windows` the real training windows against the same reference, the ceiling under drift (see `adgdm.bench.generation_series`). Sample s: seconds to draw the samples, "
                  "summed over datasets.", "",
                  _table(rows, ["sampler", "datasets", "median C2ST", "mean C2ST", "sets <= 0.65", "median MMD",
                                "median density", "median coverage", "median DCR ratio", "sample s"]), ""]
    det = df[~df.detector.isin(FIDELITY_ROWS)].copy()
    if not len(det):
        lines = []
        if len(fid):
            med = fid.groupby("dataset").c2st_auc.mean().median()
            lines.append(f"- fidelity: median C2ST {med:.3f} (target <= 0.65: {'met' if med <= 0.65 else 'not met'})")
        per = fid.groupby("dataset")[["c2st_auc", "mmd", "density", "coverage", "dcr_ratio"]].mean()
        parts += ["## Targets", ""] + lines + ["", "### Fidelity per dataset", "",
                                                _table([[ds] + [f"{v:.3f}" for v in r] for ds, r in
                                                        zip(per.index, per.to_numpy())],
                                                       ["dataset", "C2ST", "MMD", "density", "coverage", "DCR ratio"]), ""]
        text = "\n".join(parts)
        if out_md:
            Path(out_md).write_text(text)
        return text
    det["name"] = det.detector + np.where(det.detector == "diffusion", "", "@" + det.shots.astype(str))
    per = det.groupby(["dataset", "name"])[["auroc", "auprc"]].mean().reset_index()
    wide = per.pivot(index="dataset", columns="name", values="auroc")
    wide_pr = per.pivot(index="dataset", columns="name", values="auprc")
    order = list(dict.fromkeys(det.sort_values(["shots"]).name))
    wide, wide_pr = wide[order], wide_pr[order]
    rows = []
    for name in order:
        col = wide[name].dropna()
        rows.append([f"`{name}`", len(col), f"{col.mean():.2f}", f"{wide_pr[name].dropna().mean():.2f}",
                     f"{det[det.name == name].groupby('seed').size().size}"])
    parts += ["## Detection (each row over the datasets it has)", "", _table(rows, ["detector@shots", "datasets",
                                                                                  "AUROC", "AUPRC", "seeds"]), ""]
    # targets, each on the datasets where both sides exist
    lines = []

    def paired(a, b):
        both = wide[[a, b]].dropna() if a in wide and b in wide else None
        return both

    both = paired("cycle@0", "diffusion")
    if both is not None and len(both):
        d = both["cycle@0"].mean() - both["diffusion"].mean()
        lines.append(f"- zero-shot: `cycle@0` {both['cycle@0'].mean():.2f} vs `diffusion` {both['diffusion'].mean():.2f} "
                     f"on {len(both)} sets: {d:+.2f} (target +1.0: {'met' if d >= 1.0 else 'not met'}); "
                     f"cycle ahead on {(both['cycle@0'] > both['diffusion']).sum()} sets")
    for k in sorted(det.shots.unique()):
        if k == 0 or f"cycle@{k}" not in wide:
            continue
        cols = [c for c in (f"supervised@{k}", f"xgbod@{k}") if c in wide]
        sub = wide[[f"cycle@{k}"] + cols].dropna()
        if not len(sub) or not cols:
            continue
        best = max(cols, key=lambda c: sub[c].mean())
        d = sub[f"cycle@{k}"].mean() - sub[best].mean()
        target = " (target +2.0: " + ("met" if d >= 2.0 else "not met") + ")" if k == 20 else ""
        lines.append(f"- {k}-shot: `cycle@{k}` {sub[f'cycle@{k}'].mean():.2f} vs best baseline `{best}` "
                     f"{sub[best].mean():.2f} on {len(sub)} sets: {d:+.2f}{target}")
    if len(fid):
        med = fid.groupby("dataset").c2st_auc.mean().median()
        lines.append(f"- fidelity: median C2ST {med:.3f} (target <= 0.65: {'met' if med <= 0.65 else 'not met'})")
    parts += ["## Targets", ""] + lines + ["", "### AUROC per dataset", "",
                                            _table([[ds] + [("" if np.isnan(v) else f"{v:.1f}") for v in r]
                                                    for ds, r in zip(wide.index, wide.to_numpy())],
                                                   ["dataset"] + [f"`{c}`" for c in order]), ""]
    text = "\n".join(parts)
    if out_md:
        Path(out_md).write_text(text)
    return text
