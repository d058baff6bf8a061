"""Markdown summary of ``adgdm bench series`` results: threshold-free means per detector, SKAB's
pooled F1 / false-alarm / missed-alarm rates, NAB's normalised score."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._results import failed_section, split_failed
from .summary import _table, summary_header

SKAB_ANCHORS = [("Conv-AE", 0.78, 13.55, 28.02), ("MSET", 0.78, None, None), ("T-squared+Q (PCA)", 0.76, None, None),
                ("LSTM-AE", 0.74, None, None), ("Isolation Forest", 0.29, None, None)]


def _nab_tuned(df, data, out_csv) -> dict:
    """NAB's own protocol: one threshold per detector tuned on the labels over the corpus (a grid of
    quantiles of the pooled scores), on scores standardised by each file's training part (median,
    IQR); alarms are threshold-crossing onsets. Mean over seeds."""
    from ..data.series import load_nab
    from ..metrics.series import nab_normalized_score, nab_score
    from .series import alarm_onsets, score_cache_path

    recs = {r.name: r for r in load_nab(data)}
    res = {}
    for det, sub in df.groupby("detector", sort=False):
        vals = []
        for seed, s2 in sub.groupby("seed"):
            wins, scores, probs = [], [], []
            for name in s2.dataset:
                path = score_cache_path(Path(out_csv), name, det, int(seed))
                if name not in recs or not path.exists():
                    break
                s = np.load(path)["scores"].astype(np.float64)
                r = recs[name]
                q25, q50, q75 = np.percentile(s[: r.train_end], [25, 50, 75])
                scores.append((s - q50) / (q75 - q25 if q75 > q25 else 1.0))
                wins.append(r.windows)
                probs.append(r.train_end)
            else:
                pooled = np.concatenate([s[p:] for s, p in zip(scores, probs)])
                best = -np.inf
                for thr in np.unique(np.quantile(pooled, np.linspace(0.5, 1.0, 101))):
                    per_file = [nab_score(w, alarm_onsets(s >= thr), p) for w, s, p in zip(wins, scores, probs)]
                    best = max(best, nab_normalized_score([r.score for r in per_file], [r.null for r in per_file],
                                                          [r.perfect for r in per_file]))
                vals.append(max(best, 0.0))  # no alarm at all scores 0
        if vals:
            res[det] = float(np.mean(vals))
    return res


def summarize_series(csv_paths, out_md=None, command: str | None = None, data=None, anchors=None) -> str:
    import pandas as pd

    paths = [csv_paths] if isinstance(csv_paths, (str, Path)) else list(csv_paths)
    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    df, failed = split_failed(df, ["dataset", "detector", "seed"])   # failed jobs (--engine ray): no metrics
    parts = summary_header(f"# Series benchmark summary: {', '.join(f'`{Path(p).name}`' for p in paths)}",
                           command,
                           "Per file: fit on the training part, score the whole series, evaluate the steps after it. Threshold-free "
                           "metrics are means over files with both labels in the test part (mean over seeds first). `thr` "
                           "metrics use a label-free threshold: the detector's own `threshold_` (adgdm detectors: from held-out or "
                           "leave-one-out training scores), else the 99th percentile of its scores on the training part; "
                           "F1/FAR/MAR pool the points of all files (SKAB's protocol). PA-F1 is point-adjusted (optimistic). "
                           "NAB scores count alarms, the onsets of threshold exceedances; `NAB (tuned)` tunes one threshold on "
                           "the labels over the corpus, as NAB does.")
    for suite, sub in df.groupby("suite", sort=False):
        order = list(dict.fromkeys(sub.detector))
        files = sub.groupby("dataset").detector.nunique()
        seeds = sub.groupby("detector").seed.nunique()
        complete = [d for d in files.index if files[d] == len(order)]
        sub = sub[sub.dataset.isin(complete)]
        per = sub.groupby(["detector", "dataset"])[["auroc", "auprc", "vus_pr", "vus_roc", "f1", "pa_f1"]].mean()
        pooled = sub.groupby(["detector", "seed"])[["tp", "fp", "fn", "tn"]].sum()
        f1 = (2 * pooled.tp / (2 * pooled.tp + pooled.fp + pooled.fn)).groupby("detector").mean()
        far = (100 * pooled.fp / (pooled.fp + pooled.tn)).groupby("detector").mean()
        mar = (100 * pooled.fn / (pooled.fn + pooled.tp)).groupby("detector").mean()
        secs = sub.groupby("detector")[["fit_s", "score_s"]].sum()
        nab_own = {}
        if suite == "nab" and "nab_raw" in sub:
            for det, s2 in sub.groupby("detector"):
                g = s2.groupby("seed")[["nab_raw", "nab_null", "nab_perfect"]].sum()
                nab_own[det] = float((100 * (g.nab_raw - g.nab_null) / (g.nab_perfect - g.nab_null)).mean())
        nab_tuned = _nab_tuned(sub, data, paths[0]) if suite == "nab" and data else {}
        mean = per.groupby("detector").mean()
        rows = []
        for det in sorted(order, key=lambda d: -mean.loc[d, "vus_pr"] if d in mean.index else 0):
            r = [f"`{det}`"] + [f"{mean.loc[det, c]:.3f}" if c in ("vus_pr", "vus_roc", "f1", "pa_f1") else
                                f"{mean.loc[det, c]:.2f}" for c in ("vus_pr", "vus_roc", "auroc", "auprc", "f1", "pa_f1")]
            r += [f"{f1[det]:.3f}", f"{far[det]:.2f}", f"{mar[det]:.2f}"]
            if suite == "nab":
                r += [f"{nab_own.get(det, float('nan')):.1f}", f"{nab_tuned[det]:.1f}" if det in nab_tuned else "n/a"]
            r += [f"{secs.loc[det, 'fit_s']:.0f}", f"{secs.loc[det, 'score_s']:.1f}", int(seeds[det])]
            rows.append(r)
        header = ["detector", "VUS-PR", "VUS-ROC", "AUROC", "AUPRC", "best F1", "PA-F1", "thr F1", "thr FAR %",
                  "thr MAR %"] + (["NAB (thr)", "NAB (tuned)"] if suite == "nab" else []) + ["fit s", "score s", "seeds"]
        n_eval = int(per.reset_index().dropna(subset=["vus_pr"]).dataset.nunique())
        parts += [f"## {suite}: {len(complete)} files ({n_eval} with anomalies in the test part)", "",
                  _table(rows, header), ""]
        if len(complete) < len(files):
            parts += [f"Left out (not finished by every detector): {sorted(set(files.index) - set(complete))}", ""]
        if suite == "skab":
            folders = sorted({str(d).split("/", 1)[0] for d in sub.dataset})
            if len(folders) > 1:  # pooled thr F1 / FAR per folder (the loco groups), seeds pooled
                g = sub.assign(folder=sub.dataset.astype(str).str.split("/").str[0])
                c = g.groupby(["detector", "folder"])[["tp", "fp", "fn", "tn"]].sum()
                rows_f = []
                for det in order:
                    r = [f"`{det}`"]
                    for f in folders:
                        tp, fp, fn, tn = c.loc[(det, f)]
                        r.append(f"{2 * tp / max(2 * tp + fp + fn, 1):.3f} / {100 * fp / max(fp + tn, 1):.1f}")
                    rows_f.append(r)
                parts += ["Thresholded F1 / FAR % pooled per folder:", "",
                          _table(rows_f, ["detector"] + folders), ""]
            parts += ["Published SKAB leaderboard (outlier detection, F1 / FAR % / MAR %; anchors, not results): "
                      + "; ".join(f"{n} {f}" + (f" / {a} / {m}" if a else "") for n, f, a, m in SKAB_ANCHORS), ""]
        if suite == "nab" and anchors and (Path(anchors) / "nab_scoreboard.csv").exists():
            nb = pd.read_csv(Path(anchors) / "nab_scoreboard.csv")
            parts += ["Published NAB scoreboard, standard profile (streaming detectors; anchors, not results): "
                      + "; ".join(f"{d} {s}" for d, s in zip(nb.detector, nb.standard)), ""]
        if anchors and (Path(anchors) / "tsbad_leaderboard_U.csv").exists():
            lb = pd.read_csv(Path(anchors) / "tsbad_leaderboard_U.csv").head(5)
            parts += ["TSB-AD univariate leaderboard, VUS-PR over its whole benchmark (anchors): "
                      + "; ".join(f"{m} {v}" for m, v in zip(lb.Method, lb["VUS-PR"])), ""]
        wide = per.vus_pr.unstack(0)[order].round(3).reset_index().values.tolist()
        parts += ["### VUS-PR per file", "", _table(wide, ["dataset"] + order), ""]
    parts += failed_section(failed, ["dataset", "detector", "seed"])
    text = "\n".join(parts)
    if out_md:
        Path(out_md).write_text(text)
    return text
