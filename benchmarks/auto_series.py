"""``series-auto`` against its fixed candidates, per dataset (issue 32).

Protocol: ``adgdm bench series``'s (fit on each file's training part: NAB's probationary 15 %,
SKAB's first 400 rows; score the whole series; metrics on the steps after it). Datasets: NAB's
labelled categories and SKAB's folders (``group/file`` names). Per dataset, the mean AUROC and
VUS-PR of ``series-auto`` and of each fixed candidate (``series``, ``series-pre``, ``tsb-subpca``),
and the per-dataset oracle: the candidate best on that dataset's real labels (for the report only;
``series-auto`` never sees a label). Regret of a detector: the oracle's value minus its own,
worst and mean over datasets. "loco": the fixed candidate best on the other datasets (the
leave-one-dataset-out choice a user could make from published numbers). Fit times per file give
the cost ratio ``series-auto`` / ``series``.

Usage: OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/auto_series.py /work/shared/data \
    benchmarks/results/auto_series [--every N]
(``--every N`` keeps every N-th labelled file of each dataset; the committed run keeps them all.)
"""
from __future__ import annotations

import csv
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from adgdm.bench.loco import group_of_name
from adgdm.bench.series import evaluate, load_suite
from adgdm.detectors import make_detector
from adgdm.detectors.auto import AutoFallbackWarning

CANDIDATES = ["series", "series-pre", "tsb-subpca"]
AUTO = "series-auto"
COLUMNS = ["suite", "dataset", "file", "detector", "auroc", "vus_pr", "fit_s", "score_s", "chosen", "fallback", "error"]


def run_file(suite, rec, spec):
    det = make_detector(spec, random_state=0)
    row = {"suite": suite, "dataset": f"{suite}/{group_of_name(rec.name)}", "file": rec.name, "detector": spec,
           "chosen": "", "fallback": "", "error": ""}
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AutoFallbackWarning)
            det.fit(rec.train_values)
        row["fit_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        scores = det.decision_function(rec.values)
        row["score_s"] = round(time.perf_counter() - t0, 3)
        if spec == AUTO:
            row["chosen"] = det.chosen_
            row["fallback"] = int(any(issubclass(w.category, AutoFallbackWarning) for w in caught))
    except ValueError as e:  # as adgdm bench series: constant scores and the message
        row.update(fit_s=round(time.perf_counter() - t0, 3), score_s=0.0, error=f"{type(e).__name__}: {e}"[:200])
        scores = np.zeros(rec.n_steps)
    m = evaluate(rec, np.asarray(scores, dtype=np.float64), 0.99)
    row.update(auroc=m.get("auroc", ""), vus_pr=m.get("vus_pr", ""))
    return row


def summarise(rows, metric):
    """``{dataset: {detector: mean}}`` over the files every detector scored."""
    out: dict = {}
    for ds in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == ds and r[metric] != ""]
        files = set.intersection(*[{r["file"] for r in rs if r["detector"] == d} for d in CANDIDATES + [AUTO]])
        out[ds] = {d: float(np.mean([float(r[metric]) for r in rs if r["detector"] == d and r["file"] in files]))
                   for d in CANDIDATES + [AUTO]}
        out[ds]["_n"] = len(files)
    return out


def report(rows, metric):
    table = summarise(rows, metric)
    dsets = list(table)
    oracle = {ds: max(CANDIDATES, key=lambda c: table[ds][c]) for ds in dsets}
    loco = {ds: max(CANDIDATES, key=lambda c: np.mean([table[o][c] for o in dsets if o != ds])) for ds in dsets}
    cols = [AUTO] + CANDIDATES + ["loco", "oracle"]
    lines = [f"| dataset | files | {' | '.join(cols)} | oracle is |", "|" + "---|" * (len(cols) + 3)]
    vals = {c: [] for c in cols}
    for ds in dsets:
        t = dict(table[ds], loco=table[ds][loco[ds]], oracle=table[ds][oracle[ds]])
        for c in cols:
            vals[c].append(t[c])
        lines.append(f"| {ds} | {table[ds]['_n']} | " + " | ".join(f"{t[c]:.3f}" if metric == "vus_pr" else f"{t[c]:.1f}"
                                                               for c in cols) + f" | {oracle[ds]} |")
    fmt = (lambda v: f"{v:.3f}") if metric == "vus_pr" else (lambda v: f"{v:.1f}")
    lines.append("| **mean** | | " + " | ".join(fmt(np.mean(vals[c])) for c in cols) + " | |")
    short = {c: [o - v for o, v in zip(vals["oracle"], vals[c])] for c in cols}
    lines.append("| **mean regret** | | " + " | ".join(fmt(np.mean(short[c])) for c in cols) + " | |")
    lines.append("| **worst regret** | | " + " | ".join(fmt(np.max(short[c])) for c in cols) + " | |")
    return lines


def main(argv):
    data, out = Path(argv[0]), Path(argv[1])
    every = int(argv[argv.index("--every") + 1]) if "--every" in argv else 1
    rows = []
    t_all = time.perf_counter()
    for suite in ("nab", "skab"):
        recs = [r for r in load_suite(suite, data / suite) if r.labels is not None and 0 < r.labels[r.train_end:].sum()]
        by_group: dict = {}
        for r in recs:
            by_group.setdefault(group_of_name(r.name), []).append(r)
        for group, rs in sorted(by_group.items()):
            for rec in rs[::every]:
                for spec in CANDIDATES + [AUTO]:
                    rows.append(run_file(suite, rec, spec))
                print(rec.name, rows[-1]["chosen"], rows[-1]["auroc"], f"{time.perf_counter() - t_all:.0f}s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    fit = {d: {r["file"]: r["fit_s"] for r in rows if r["detector"] == d} for d in ("series", AUTO)}
    ratio = np.array([fit[AUTO][f] / max(fit["series"][f], 1e-3) for f in fit[AUTO]])
    autos = [r for r in rows if r["detector"] == AUTO]
    chosen = {}
    for r in autos:
        chosen[r["chosen"].split(":")[0]] = chosen.get(r["chosen"].split(":")[0], 0) + 1
    md = ["# series-auto against its fixed candidates, per dataset (issue 32)", "",
          f"Command: `OMP_NUM_THREADS=1 PYTHONPATH=src python {' '.join(shlex.quote(a) for a in ['benchmarks/auto_series.py'] + argv)}`",
          f"Machine: {platform.machine()}, 2 cores, no GPU, 1 thread; {time.perf_counter() - t_all:.0f} s in all.",
          "", "Protocol: `adgdm bench series` (fit on the training part: NAB's first 15 %, SKAB's first 400 rows; "
          "metrics on the rest); every labelled file" + ("" if every == 1 else f" (every {every}-th per dataset)") +
          "; seed 0. oracle: the candidate best on the dataset's own labels (report only); loco: the candidate best "
          "on the other datasets; regret: oracle minus the column.", "",
          "## AUROC (%)", "", *report(rows, "auroc"), "", "## VUS-PR", "", *report(rows, "vus_pr"), "",
          "## Choices and cost", "",
          f"series-auto chose (files): {chosen}; fallbacks: {sum(int(r['fallback'] or 0) for r in autos)}; "
          f"errors: {sum(bool(r['error']) for r in autos)}.", "",
          f"Fit time series-auto / series per file: median {np.median(ratio):.1f}x, mean {ratio.mean():.1f}x, "
          f"max {ratio.max():.1f}x (target <= 5x)."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1:])
