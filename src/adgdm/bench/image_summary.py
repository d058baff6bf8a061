"""Markdown summary of an image benchmark CSV: per suite and detector, image and pixel metrics
(mean over seeds, then over datasets), speed, and the issue's targets."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .summary import _table, summary_start

DEFAULT = "image"   # the recommended detector of it (its name)

METRICS = ["auroc", "auprc", "pixel_auroc", "aupro"]
TARGETS = {"mtd": "`image` image AUROC >= 90 and pixel AUROC >= 90 over the defect classes, scoring >= 5 images/s",
           "mnist": "mean AUROC over the 10 digits >= 95",
           "mvtec-emb": "best adgdm detector mean AUROC >= `pyod-knn`"}


def _fmt(v, digits=2) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def summarize_image(csv_path, out_md=None, command: str | None = None) -> str:
    df, parts = summary_start(csv_path, "Image", command,
                              "AUROC, AUPRC, pixel AUROC and AUPRO (integrated to FPR 0.3, normalised) in points, mean over "
                              "seeds, then over datasets (defect classes, digits or categories). Images/s: test images scored "
                              "per second (maps included); fit s: mean per fit.")
    for suite, sd in df.groupby("suite", sort=False):
        per = sd.groupby(["detector", "dataset"])[METRICS + ["images_per_s", "fit_s"]].mean()
        seeds = sd.groupby("detector").seed.nunique()
        rows = []
        for det, g in per.groupby(level=0, sort=False):
            m = g.mean()
            rows.append([f"`{det}`", len(g), _fmt(m.auroc), _fmt(m.auprc), _fmt(m.pixel_auroc), _fmt(m.aupro),
                         _fmt(m.images_per_s, 1), _fmt(m.fit_s, 1), int(seeds[det])])
        rows.sort(key=lambda r: -float(r[2] or 0))
        parts += [f"## {suite}: {sd.dataset.nunique()} datasets", "",
                  _table(rows, ["detector", "datasets", "AUROC", "AUPRC", "pixel AUROC", "AUPRO", "images/s",
                                "fit s", "seeds"]), ""]
        line = _target(suite, per)
        if line:
            parts += [f"Target: {TARGETS[suite]}. {line}", ""]
        wide = per.auroc.unstack(0)
        parts += [f"### AUROC per dataset ({suite})", "",
                  _table([[ds] + [_fmt(v, 1) for v in r] for ds, r in zip(wide.index, wide.to_numpy())],
                         ["dataset"] + [f"`{c}`" for c in wide.columns]), ""]
        if per.pixel_auroc.notna().any():
            wp = per.pixel_auroc.unstack(0)
            parts += [f"### Pixel AUROC per dataset ({suite})", "",
                      _table([[ds] + [_fmt(v, 1) for v in r] for ds, r in zip(wp.index, wp.to_numpy())],
                             ["dataset"] + [f"`{c}`" for c in wp.columns]), ""]
    text = "\n".join(parts)
    if out_md:
        Path(out_md).write_text(text)
    return text


def _target(suite: str, per) -> str:
    means = per.groupby(level=0).mean()
    if suite == "mtd" and DEFAULT in means.index:
        m = means.loc[DEFAULT]
        ok = m.auroc >= 90 and m.pixel_auroc >= 90 and m.images_per_s >= 5
        return (f"`image`: AUROC {m.auroc:.2f}, pixel AUROC {_fmt(m.pixel_auroc)}, {m.images_per_s:.1f} images/s: "
                f"{'met' if ok else 'not met'}.")
    if suite == "mnist" and len(means):
        best = means.auroc.idxmax()
        return f"best `{best}` {means.auroc.max():.2f}: {'met' if means.auroc.max() >= 95 else 'not met'}."
    if suite == "mvtec-emb" and "pyod-knn" in means.index:
        ours = means.drop(index=[d for d in means.index if d.startswith("pyod-")])
        if len(ours):
            best = ours.auroc.idxmax()
            knn = means.loc["pyod-knn"].auroc
            return (f"best adgdm `{best}` {ours.auroc.max():.2f} vs `pyod-knn` {knn:.2f}: "
                    f"{'met' if ours.auroc.max() >= knn else 'not met'}.")
    return ""
