"""Benchmark tables -> report: aggregation of long results (one row per dataset, detector, seed)
and ``bench_report``, which turns one or more result CSVs into a saved HTML page.

Example
-------
>>> from adgdm.report import bench_report
>>> bench_report(["benchmarks/results/adbench_semi_a.csv"], "bench.html")   # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _checks, _html
from ._html import esc, fmt

__all__ = ["METRICS", "CONTEXT", "pick_metrics", "summarise", "section_html"]

# Higher-is-better metrics, in order of preference for the headline chart.
METRICS = ("auroc", "vus_pr", "auprc", "vus_roc", "f1", "best_f1", "pa_f1", "pixel_auroc", "aupro",
           "nab", "nab_score")
# Columns that describe the protocol; when they vary, results are not comparable across their values.
CONTEXT = ("suite", "setting", "shots")
TIMES = ("fit_s", "score_s")
REQUIRED = ("dataset", "detector", "seed")


@dataclass
class BenchSummary:
    metric: str
    detectors: list            # ordered best first by the mean metric
    per_detector: object       # DataFrame indexed by detector: mean, err, n_datasets, n_seeds, other metrics, times
    heat: object               # DataFrame: datasets x detectors, mean over seeds of the metric
    duplicates: int            # rows dropped because the same (dataset, detector, seed) appeared again
    errors: dict               # detector -> number of rows with an error message


def pick_metrics(df) -> list[str]:
    """Metric columns of ``df`` that hold at least one number, preferred first."""
    import pandas as pd

    return [m for m in METRICS if m in df.columns and pd.to_numeric(df[m], errors="coerce").notna().any()]


def _prepare(df):
    import pandas as pd

    _checks.columns(df, REQUIRED, "bench results")
    df = df.copy()
    ctx = [c for c in CONTEXT if c in df.columns and df[c].nunique(dropna=False) > 1]
    key = df["dataset"].astype(str)
    for c in reversed(ctx):  # e.g. "semi · 42_WBC": the same dataset under two protocols is two cells
        key = df[c].astype(str) + " · " + key
    df["_dataset"] = key
    df["detector"] = df["detector"].astype(str)
    for m in METRICS + TIMES:
        if m in df.columns:
            df[m] = pd.to_numeric(df[m], errors="coerce")
    n = len(df)
    df = df.drop_duplicates(["_dataset", "detector", "seed"], keep="last")  # resumed runs: last row wins
    return df, n - len(df)


def _two_stage(df, col):
    """Mean over seeds per (dataset, detector), then per detector: mean and mean seed std over datasets."""
    per_ds = df.dropna(subset=[col]).groupby(["_dataset", "detector"])[col].agg(["mean", "std"])
    per_det = per_ds.groupby("detector").agg(mean=("mean", "mean"), err=("std", "mean"), n_datasets=("mean", "size"))
    return per_ds, per_det


def summarise(df, metric: str | None = None) -> BenchSummary:
    """Aggregate a long results table. ``metric=None`` picks the first of :data:`METRICS` present."""
    df, dup = _prepare(df)
    present = pick_metrics(df)
    if metric is None:
        if not present:
            raise ValueError(f"bench results have no metric column with values; expected one of {list(METRICS)}")
        metric = present[0]
    elif metric not in df.columns:
        raise ValueError(f"bench results are missing the metric column {metric!r}; metrics present: {present}")
    elif df[metric].isna().all():
        raise ValueError(f"bench results have no values in the metric column {metric!r}")
    per_ds, per = _two_stage(df, metric)
    per["n_seeds"] = df.dropna(subset=[metric]).groupby("detector")["seed"].nunique()
    for m in [x for x in present if x != metric] + [t for t in TIMES if t in df.columns]:
        per[m] = _two_stage(df, m)[1]["mean"]
    per = per.sort_values("mean", ascending=False, kind="stable")
    heat = per_ds["mean"].unstack("detector").reindex(columns=per.index).sort_index()
    errors = {}
    if "error" in df.columns:
        err = df["error"].notna() & (df["error"].astype(str).str.strip() != "")
        errors = {k: int(v) for k, v in df[err].groupby("detector").size().items()}
    return BenchSummary(metric, list(per.index), per, heat, dup, errors)


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def section_html(b: BenchSummary, fig) -> str:
    """The body of a benchmark section; ``fig(figure)`` embeds a plotly figure and returns its HTML."""
    from . import figures

    per, dets, m = b.per_detector, b.detectors, b.metric
    nd = per["n_datasets"].to_numpy()
    parts = [fig(figures.bench_bars([esc(d) for d in dets], per["mean"].to_numpy(),
                                    per["err"].to_numpy(dtype=float), esc(m), nd))]
    notes = [f"Metric: {m} (mean over seeds per dataset, then over datasets). "
             "Error bars: mean over datasets of the standard deviation over seeds."]
    if nd.min() != nd.max():
        notes.append(f"Detectors cover different datasets ({nd.min()} to {nd.max()}): their means are over "
                     "different sets; compare within the heat table.")
    if b.duplicates:
        notes.append(f"{b.duplicates} repeated (dataset, detector, seed) rows: the last one was kept.")
    parts.append("".join(_note(n) for n in notes))
    extra = [c for c in per.columns if c not in ("mean", "err", "n_datasets", "n_seeds")]
    headers = ["detector", m, "± seed sd", "datasets", "seeds"] + extra + (["errors"] if b.errors else [])
    rows = [[d, r["mean"], r["err"], int(r["n_datasets"]), int(r["n_seeds"])] + [r[c] for c in extra]
            + ([b.errors.get(d, 0)] if b.errors else []) for d, r in per.iterrows()]
    parts.append("<h3>Summary</h3>" + _html.table(headers, rows, numeric=set(range(1, len(headers)))))
    parts.append(f"<h3>{esc(m)} per dataset</h3>" + _heat(b.heat))
    times = [t for t in TIMES if t in per.columns and per[t].notna().any()]
    if times:
        fit, score = (per[t].to_numpy() if t in times else None for t in TIMES)
        parts.append(fig(figures.bench_times([esc(d) for d in dets], fit, score)))
    return "\n".join(parts)


def _heat(heat, max_rows: int = 300) -> str:
    """Datasets x detectors; each row shaded from its worst (white) to its best (green), best bold."""
    vals = heat.to_numpy(dtype=float)[:max_rows]
    with np.errstate(invalid="ignore"):
        lo = np.nanmin(np.where(np.isnan(vals), np.inf, vals), 1)
        hi = np.nanmax(np.where(np.isnan(vals), -np.inf, vals), 1)

    def attrs(i, j):
        v = vals[i, j - 1] if j else np.nan
        if np.isnan(v):
            return ' class="num"' if j else ""
        t = (v - lo[i]) / (hi[i] - lo[i]) if hi[i] > lo[i] else 1.0
        cls = "num heat best" if v == hi[i] else "num heat"
        return f' class="{cls}" style="background:rgba(45,164,78,{0.06 + 0.5 * t:.2f})"'

    rows = [[ds] + [fmt(v) for v in r] for ds, r in zip(heat.index[:max_rows], vals)]
    out = _html.table(["dataset"] + list(heat.columns), rows, cell_attrs=attrs)
    if len(heat) > max_rows:
        out += _note(f"First {max_rows} of {len(heat)} datasets.")
    return out


def _read(paths):
    import pandas as pd

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no bench CSV files given")
    frames = []
    for p in paths:
        if not p.is_file():
            raise ValueError(f"bench CSV {p} does not exist")
        try:  # dataset and detector names stay text ("0" is an MNIST digit, not a number)
            f = pd.read_csv(p, dtype={"dataset": str, "detector": str})
        except pd.errors.EmptyDataError:
            raise ValueError(f"bench CSV {p} is empty (no header)") from None
        if len(f) == 0:
            raise ValueError(f"bench CSV {p} has a header but no rows")
        _checks.columns(f, REQUIRED, f"bench CSV {p.name}")
        frames.append(f)
    return paths, frames
