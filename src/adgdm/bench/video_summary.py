"""Markdown summary of a video benchmark CSV: per detector, frame-level metrics (mean over seeds),
speed, the published Ped2 anchors beside them, and the issue's targets."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .summary import _table, summary_start

DEFAULT = "video"   # the recommended detector of it (its name)

METRICS = ["auroc", "auprc", "auroc_per_clip", "auroc_clipnorm"]
TARGET = "the `video` default pooled frame AUROC >= 97 (3 seeds) ahead of the baselines, >= 25 frames/s, fit <= 15 min"


def _fmt(v, digits=2) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def summarize_video(csv_path, out_md=None, command: str | None = None, anchors=None) -> str:
    import pandas as pd

    df, parts = summary_start(csv_path, "Video", command,
                              "Frame-level metrics in points, mean over seeds: `AUROC` and `AUPRC` over all test frames "
                              "pooled, raw scores (the published protocol); `per clip`: mean AUROC over clips holding both "
                              "classes; `clip-normalised`: pooled AUROC after min-max scaling within each clip (uses the "
                              "whole clip, so not causal; shown beside, not instead). Frames/s: test frames scored per "
                              "second with maps; fit s: mean per fit.")
    for name, sd in df.groupby("dataset", sort=False):
        g = sd.groupby("detector", sort=False)
        m, sdev, seeds = g[METRICS + ["frames_per_s", "fit_s"]].mean(), g.auroc.std(), g.seed.nunique()
        rows = [[f"`{d}`", _fmt(r.auroc), _fmt(sdev.get(d, np.nan)), _fmt(r.auprc), _fmt(r.auroc_per_clip),
                 _fmt(r.auroc_clipnorm), _fmt(r.frames_per_s, 1), _fmt(r.fit_s, 1), int(seeds[d])]
                for d, r in m.iterrows()]
        rows.sort(key=lambda r: -float(r[1] or 0))
        parts += [f"## {name}: {int(sd.n_clips.iloc[0])} test clips, {int(sd.n_test_frames.iloc[0])} frames", "",
                  _table(rows, ["detector", "AUROC", "sd", "AUPRC", "per clip", "clip-normalised", "frames/s",
                                "fit s", "seeds"]), ""]
        if DEFAULT in m.index:
            r = m.loc[DEFAULT]
            base = m.drop(index=DEFAULT).auroc
            ahead = bool(len(base) == 0 or r.auroc > base.max())
            ok = r.auroc >= 97 and ahead and r.frames_per_s >= 25 and r.fit_s <= 900
            parts += [f"Target: {TARGET}. `video`: {r.auroc:.2f}, {r.frames_per_s:.1f} frames/s, fit {r.fit_s:.0f} s, "
                      f"{'ahead of' if ahead else 'not ahead of'} the others: {'met' if ok else 'not met'}.", ""]
        if anchors and Path(anchors).is_file() and name == "ped2":
            a = pd.read_csv(anchors)
            rows = [[r.method, r.year, _fmt(float(r.ped2_frame_auroc), 1), r.uses_pretrained] for r in a.itertuples()]
            parts += ["### Published anchors (not run here: each paper's own run on all twelve Ped2 test clips; "
                      "these rows use the six shared ones)", "",
                      _table(rows, ["method", "year", "Ped2 frame AUROC", "pretrained parts"]), ""]
    text = "\n".join(parts)
    if out_md:
        Path(out_md).write_text(text)
    return text
