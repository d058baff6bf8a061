"""The unsupervised series workflow, ``adgdm fit F --modality series`` then ``adgdm score MODEL F``
on the same file F, against the benchmark protocol (fit on the training part, score the rest).

Per file, through the command functions (``run_fit`` / ``run_score``, what the CLI runs):

- ``protocol``: fit on the training part (SKAB: first 400 rows; NAB: the probationary period),
  score the whole file; AUROC on the steps after the training part (``adgdm bench series``'s).
- ``same-file``: fit on the whole file (the label column given as ``--label``, so it is not a
  feature), score the same file: every step gets its cross-fitted training score (in-sample
  detection). AUROC on the same steps as the protocol (``auroc``) and on all steps (``auroc_all``).
- ``same-file, scored anew``: the same model's ``decision_function`` on the fitted file (what
  ``adgdm score`` gave before in-sample detection: each window finds itself in the reference).
- ``same-file, n_folds=2``: sensitivity of the cross-fitting to its block size (``--param
  n_folds=2``: blocks of half the series). Not a default: it was tried after the default's SKAB
  numbers were seen.

``zero_runs``: runs of exactly-zero scores longer than one window (steps after the first window).
A label column never enters the fit; SKAB's ``changepoint`` column (derived from the labels) is
dropped. SKAB's anomaly-free file has no labels: its rows give the flag rate only.

Usage: python benchmarks/same_file_series.py --skab ../shared/data/skab --nab ../shared/data/nab
           [--nab-files realKnownCause/machine_temperature_system_failure,...] [--threads 1]
Writes benchmarks/results/same_file_series.csv and .md.
"""
import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from adgdm import load
from adgdm.bench.summary import _table, summary_header
from adgdm.commands.fit import run_fit
from adgdm.commands.score import run_score
from adgdm.data.series import load_nab, load_skab, load_skab_anomaly_free
from adgdm.metrics import auroc

p = argparse.ArgumentParser()
p.add_argument("--skab", default="../shared/data/skab")
p.add_argument("--nab", default="../shared/data/nab")
p.add_argument("--nab-files", default="realKnownCause/machine_temperature_system_failure,"
                                      "realKnownCause/ambient_temperature_system_failure")
p.add_argument("--skab-files", default=None, help="comma-separated SKAB names (default: all)")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--out", default="benchmarks/results/same_file_series.csv")
a = p.parse_args()
torch.set_num_threads(a.threads)


def zero_runs(s: np.ndarray, w: int) -> int:
    z = np.diff(np.r_[0, (s == 0).astype(int), 0])
    return int(((np.flatnonzero(z == -1) - np.flatnonzero(z == 1)) > w).sum())


def auc(y, s):
    return round(float(auroc(y, s)), 4) if y is not None and 0 < y.sum() < len(y) else np.nan


def write_csv(rec, path, rows=None):
    v = rec.values if rows is None else rec.values[:rows]
    df = pd.DataFrame(v, columns=rec.channels)
    df.insert(0, "time", np.arange(len(df)))
    if rec.labels is not None:
        df["anomaly"] = rec.labels if rows is None else rec.labels[:rows]
    df.to_csv(path, index=False)
    return path


def run(rec, suite, tmp: Path) -> list[dict]:
    label = "anomaly" if rec.labels is not None else None
    full = write_csv(rec, tmp / "full.csv")
    y, te = rec.labels, slice(rec.train_end, rec.n_steps)
    out = []

    def row(workflow, scores, det, fit_s, score_s, in_sample=0, flagged=None):
        w = int(det.window_)
        flags = scores > det.threshold_ if flagged is None else flagged
        out.append({"suite": suite, "dataset": rec.name, "workflow": workflow, "window": w, "n_steps": rec.n_steps,
                    "train_end": rec.train_end,
                    "auroc": auc(None if y is None else y[te], scores[te]),
                    "auroc_all": auc(y, scores) if workflow.startswith("same") else np.nan,
                    "zero_frac": round(float((scores[w - 1:] == 0).mean()), 4),
                    "zero_runs": zero_runs(scores[w - 1:], w), "flagged": int(flags.sum()),
                    "first_window_flags": int(flags[: w - 1].sum()), "in_sample": int(in_sample),
                    "fit_s": round(fit_s, 2), "score_s": round(score_s, 2)})
        print({k: out[-1][k] for k in ("dataset", "workflow", "auroc", "auroc_all", "zero_runs", "flagged")},
              flush=True)

    if 0 < rec.train_end < rec.n_steps:
        train = write_csv(rec, tmp / "train.csv", rec.train_end)
        t0 = time.perf_counter()
        run_fit(train, modality="series", out=tmp / "prot", label=label, time_col="time")
        fit_s, t0 = time.perf_counter() - t0, time.perf_counter()
        run_score(tmp / "prot", full, out=tmp / "prot.csv", explain=False)
        s = pd.read_csv(tmp / "prot.csv")
        row("protocol", s["score"].to_numpy(), load(tmp / "prot"), fit_s, time.perf_counter() - t0,
            s["in_sample"].sum(), s["flagged"].to_numpy())
    for workflow, params in (("same-file", {}), ("same-file, n_folds=2", {"n_folds": 2})):
        t0 = time.perf_counter()
        run_fit(full, modality="series", out=tmp / "same", params=params, label=label, time_col="time")
        fit_s, t0 = time.perf_counter() - t0, time.perf_counter()
        run_score(tmp / "same", full, out=tmp / "same.csv", explain=False)
        score_s = time.perf_counter() - t0
        s = pd.read_csv(tmp / "same.csv")
        det = load(tmp / "same")
        row(workflow, s["score"].to_numpy(), det, fit_s, score_s, s["in_sample"].sum(), s["flagged"].to_numpy())
        if not params:
            t0 = time.perf_counter()
            anew = det.decision_function(rec.values)
            row("same-file, scored anew", anew, det, fit_s, time.perf_counter() - t0)
    return out


records = [("skab", r) for r in load_skab(a.skab, a.skab_files.split(",") if a.skab_files else None)]
if not a.skab_files:
    records.append(("skab", load_skab_anomaly_free(a.skab)))
if a.nab_files:
    records += [("nab", r) for r in load_nab(a.nab, a.nab_files.split(","))]
rows = []
for suite, rec in records:
    with tempfile.TemporaryDirectory() as tmp:
        rows += run(rec, suite, Path(tmp))
df = pd.DataFrame(rows)
out = Path(a.out)
out.parent.mkdir(parents=True, exist_ok=True)
df.to_csv(out, index=False)

command = "python benchmarks/same_file_series.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
order = ["protocol", "same-file", "same-file, scored anew", "same-file, n_folds=2"]
md = summary_header("# Same-file series workflow: `adgdm fit F` then `adgdm score MODEL F`", command,
                    "Protocol: SKAB trains on the first 400 rows of each file, NAB on the probationary period; "
                    "`auroc` is on the steps after that training part for every workflow (so the rows compare "
                    "like for like), `auroc_all` on every step. The same-file model is fitted on the whole file "
                    "(the label column given as `--label`, never a feature). `zero_runs`: runs of exactly-zero "
                    "scores longer than one window; `first_window_flags`: flags among the first window - 1 steps. "
                    "Detector `series` (defaults), seed 0.")
for suite in ("skab", "nab"):
    part = df[df["suite"] == suite]
    if part.empty:
        continue
    agg = []
    for wf in order:
        r = part[part["workflow"] == wf]
        if r.empty:
            continue
        agg.append([wf, int(r["auroc"].notna().sum()), f"{r['auroc'].mean():.4f}",
                    f"{r['auroc_all'].mean():.4f}" if r["auroc_all"].notna().any() else "",
                    f"{r['zero_frac'].mean():.3f}", int(r["zero_runs"].sum()), int((r["zero_runs"] > 0).sum()),
                    int(r["first_window_flags"].sum()), int(r["flagged"].sum()), int(r["in_sample"].sum())])
    md += [f"## {suite.upper()} ({part['dataset'].nunique()} files)", "",
           _table(agg, ["workflow", "files with AUROC", "mean auroc", "mean auroc_all", "mean zero share",
                        "zero runs", "files with zero runs", "first-window flags", "flagged", "in-sample steps"]),
           "", "Per file:", ""]
    wide = part.pivot_table(index="dataset", columns="workflow", values="auroc", sort=False)
    zr = part.pivot_table(index="dataset", columns="workflow", values="zero_runs", sort=False)
    per = [[d] + [("" if pd.isna(wide.loc[d].get(wf)) else f"{wide.loc[d][wf]:.3f}") for wf in order]
           + [("" if wf not in zr.columns else int(zr.loc[d][wf])) for wf in order[1:3]] for d in wide.index]
    md += [_table(per, ["dataset"] + [f"auroc {wf}" for wf in order] + [f"zero runs {wf}" for wf in order[1:3]]), ""]
out.with_suffix(".md").write_text("\n".join(md) + "\n")
print(f"wrote {out} and {out.with_suffix('.md')}")
