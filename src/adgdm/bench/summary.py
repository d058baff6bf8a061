"""Markdown summary of a long-format results CSV: mean AUROC/AUPRC, mean rank, wins, seconds."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from ._results import failed_section, split_failed


ANCHOR_METHODS = {"KNN": "pyod-knn", "IForest": "pyod-iforest", "ECOD": "pyod-ecod", "LOF": "pyod-lof",
                  "OCSVM": "pyod-ocsvm", "DDPM": "ddpm", "DTE-NP": "dte-np", "DTE-C": "dte-c", "DTE-IG": "dte-ig"}


def machine() -> str:
    try:
        import torch

        tv = torch.__version__
    except ImportError:
        tv = "n/a"
    return f"{os.cpu_count()} CPU cores, no GPU used, {platform.machine()}, Python {platform.python_version()}, torch {tv}"


def summary_header(title: str, command: str | None, protocol: str) -> list[str]:
    """The opening lines of every bench summary: title, the command line, the machine, the protocol."""
    return [title, ""] + ([f"Command: `{command}`", ""] if command else []) + [f"Machine: {machine()}.", "",
                                                                              protocol, ""]


def summary_start(csv_path, kind: str, command: str | None, protocol: str):
    """``(results frame, opening lines)`` of the summary of one results CSV, titled
    ``# {kind} benchmark summary: `{file name}```."""
    import pandas as pd

    return pd.read_csv(csv_path), summary_header(f"# {kind} benchmark summary: `{Path(csv_path).name}`", command,
                                                 protocol)


def _table(rows: list[list], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def summarize(csv_path, out_md=None, command: str | None = None, anchors: str | None = None, detectors=None) -> str:
    """Write (and return) the markdown summary of ``csv_path`` (one path, or a list of CSVs to pool)."""
    import pandas as pd

    paths = [csv_path] if isinstance(csv_path, (str, Path)) else list(csv_path)
    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    key = ["dataset", "setting", "detector", "seed"]
    df, failed = split_failed(df, key)   # failed jobs (--engine ray) have no metrics
    if detectors:  # a subset, e.g. the detectors that finished every dataset
        df = df[df.detector.isin(list(detectors))]
    parts = summary_header(f"# Benchmark summary: {', '.join(f'`{Path(p).name}`' for p in paths)}",
                           command,
                           "AUROC and AUPRC in points (x100), mean over seeds, then over datasets. Ranks and wins use the "
                           "per-dataset mean AUROC over the datasets every detector finished. Seconds are fit + score, summed over those datasets and seeds.")
    for (suite, setting), sub in df.groupby(["suite", "setting"], sort=False):
        per = sub.groupby(["dataset", "detector"])[["auroc", "auprc"]].mean().reset_index()
        wide = per.pivot(index="dataset", columns="detector", values="auroc")
        order = list(dict.fromkeys(sub["detector"]))
        wide = wide[order]
        n_seeds = sub.groupby(["dataset", "detector"])["seed"].nunique().unstack()[order]
        full = n_seeds.index[(n_seeds == n_seeds.max().max()).all(axis=1)]  # every detector, every seed
        complete = wide.loc[wide.index.isin(full)].dropna()
        ranks = complete.rank(axis=1, ascending=False)
        best = complete.max(axis=1)
        wide_pr = per.pivot(index="dataset", columns="detector", values="auprc").loc[complete.index, order]
        done = sub[sub.dataset.isin(complete.index)]
        secs = done.assign(s=done.fit_s + done.score_s).groupby("detector")["s"].sum()
        seeds = sub.groupby("detector")["seed"].nunique()
        rows = []
        for det in sorted(order, key=lambda d: -complete[d].mean() if len(complete) else 0):
            rows.append([f"`{det}`", f"{complete[det].mean():.2f}", f"{wide_pr[det].mean():.2f}",
                         f"{ranks[det].mean():.2f}", int((complete[det] >= best - 1e-9).sum()),
                         f"{secs.get(det, 0.0):.0f}", int(seeds[det])])
        parts += [f"## {suite}, {setting}: {len(complete)} datasets", ""]
        if len(complete):
            parts += [_table(rows, ["detector", "mean AUROC", "mean AUPRC", "mean rank", "wins", "total s", "seeds"]), ""]
        else:
            parts += ["No dataset is finished by every detector on every seed yet.", ""]
        if len(complete) < len(wide):
            parts += ["Left out of the means (not finished by every detector on every seed): "
                      f"{sorted(set(wide.index) - set(complete.index))}", ""]
        if anchors and Path(anchors).exists():
            parts += _anchor_section(anchors, complete, setting)
        per_ds = wide.round(2).reset_index().values.tolist()
        parts += ["### AUROC per dataset", "", _table(per_ds, ["dataset"] + order), ""]
    parts += failed_section(failed, key)
    text = "\n".join(parts)
    if out_md:
        Path(out_md).write_text(text)
    return text


def _anchor_section(anchors: str, complete, setting: str) -> list[str]:
    import pandas as pd

    a = pd.read_csv(anchors)
    a = a[a["adbench_file"].isin(complete.index) & a["method"].isin(ANCHOR_METHODS)]
    if a.empty:
        return []
    pub = a.pivot(index="adbench_file", columns="method", values="mean")
    common = pub.index.intersection(complete.index)
    rows = []
    for method, ours in ANCHOR_METHODS.items():
        if method in pub and ours in complete:
            rows.append([method, f"{pub.loc[common, method].mean():.2f}", f"`{ours}`", f"{complete.loc[common, ours].mean():.2f}"])
    return [f"### Published anchors ({Path(anchors).name}), same {len(common)} datasets", "",
            "Anchors come from the DTE paper's release; its semi split upsamples tiny sets before splitting, so test "
            "rows have copies in training. They are context, not results.", "",
            _table(rows, ["published method", "published mean AUROC", "ours", "this run mean AUROC"]), ""]
