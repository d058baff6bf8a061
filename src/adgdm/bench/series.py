"""``adgdm bench series``: NAB and SKAB protocols.

Each file: fit on its training part (NAB: the probationary period, the first 15%; SKAB: the first
400 rows), score the whole series, evaluate on the steps after the training part. A detector that
raises a ValueError on a file (e.g. PCA on a constant training part) gets constant scores there and
the message in the ``error`` column. Threshold-free
metrics: AUROC, AUPRC, VUS-PR/VUS-ROC (TSB-AD's definition, sliding window = the series' period as
TSB-AD estimates it), best point-wise F1 and point-adjusted F1 (optimistic: thresholds chosen on
the labels, as published papers do). Thresholded metrics use a label-free threshold: the detector's own
``threshold_`` (adgdm detectors set it from held-out or leave-one-out training scores at
``contamination=0.01``; series detectors with ``alarm="drift"``: their own flags, ``predict`` of
the whole series, from the drift-aware rule), else the ``threshold_quantile`` (0.99) of its scores on the training part
(a model scoring the rows it was fitted on sees them as more normal than new rows).
NAB's score is computed on alarms, the onsets of threshold exceedances (``alarm_onsets``), both at
that threshold and, as NAB itself does, at one threshold tuned on the labels over the whole corpus
(summary), on scores standardised by each file's training part.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from ..detectors import make_detector
from ..metrics import auprc, auroc
from ..metrics.series import best_f1, nab_score, point_adjusted_f1, vus
from ..data.series import load_nab, load_skab
from ..detectors.series.baselines import estimate_period
from ._results import open_results
from .tabular import _bar, check_specs

COLUMNS = ["suite", "dataset", "detector", "seed", "auroc", "auprc", "vus_pr", "vus_roc", "f1", "pa_f1",
           "thr_f1", "far", "mar", "tp", "fp", "fn", "tn", "nab_raw", "nab_null", "nab_perfect", "fit_s", "score_s",
           "n_train", "n_test", "channels", "vus_window", "error"]
DEFAULT_DETECTORS = ["series", "series-impute", "tsb-subpca", "tsb-iforest", "tsb-matrixprofile"]


def load_suite(suite: str, data, datasets=None):
    if suite == "nab":
        return load_nab(data, datasets)
    if suite == "skab":
        return load_skab(data, datasets)
    raise ValueError(f"suite must be 'nab' or 'skab', got {suite!r}")


def score_cache_path(out: Path, dataset: str, spec: str, seed: int) -> Path:
    safe = lambda s: "".join(c if c.isalnum() or c in "-_." else "_" for c in s)
    return out.parent / ".cache" / out.stem / safe(spec) / str(seed) / (safe(dataset) + ".npz")


def alarm_onsets(flags: np.ndarray) -> np.ndarray:
    """0/1 alarms at the first step of each run of flagged steps: a monitor raises one alarm when a
    score crosses its threshold, not one per step while it stays above (NAB charges each)."""
    f = np.asarray(flags).astype(bool)
    return (f & ~np.concatenate([[False], f[:-1]])).astype(int)


def evaluate(record, scores: np.ndarray, threshold_quantile: float, threshold: float | None = None,
             flags: np.ndarray | None = None) -> dict:
    """Metrics of one scored series (``scores`` over all its steps) on its test part. ``threshold``
    is the detector's own (``threshold_``); without one, the ``threshold_quantile`` of the scores
    of the training part. ``flags`` (0/1 over all steps), when given, are the detector's own alarms
    (a series detector with ``alarm="drift"``) and replace the threshold for the thresholded metrics."""
    te = slice(record.train_end, record.n_steps)
    y, s = record.labels[te], scores[te]
    train = scores[: record.train_end]
    if threshold is not None:
        thr = float(threshold)
    else:
        thr = float(np.quantile(train, threshold_quantile)) if len(train) else float(np.quantile(scores, 0.99))
    all_flags = (scores > thr) if flags is None else np.asarray(flags).astype(bool)
    pred = all_flags[te].astype(int)
    tp, fp = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())
    fn, tn = int(((pred == 0) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    row = {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
           "thr_f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4),
           "far": round(100 * fp / max(fp + tn, 1), 3), "mar": round(100 * fn / max(fn + tp, 1), 3) if tp + fn else ""}
    both = 0 < y.sum() < len(y)
    if both:
        window = int(estimate_period(record.values[:, 0]))
        v = vus(y, s, sliding_window=window)
        row.update(auroc=round(100 * auroc(y, s), 3), auprc=round(100 * auprc(y, s), 3),
                   vus_pr=round(v["vus_pr"], 4), vus_roc=round(v["vus_roc"], 4),
                   f1=round(best_f1(y, s)[0], 4), pa_f1=round(point_adjusted_f1(y, s)[0], 4), vus_window=window)
    if record.windows:
        r = nab_score(record.windows, alarm_onsets(all_flags), record.train_end)
        row.update(nab_raw=round(r.score, 5), nab_null=r.null, nab_perfect=r.perfect)
    return row


def run_series(suite: str, data, datasets: Iterable[str] | None = None, detectors: Iterable[str] | None = None,
               seeds: int = 1, out="benchmarks/results/series.csv", resume: bool = False, progress: bool = True,
               threshold_quantile: float = 0.99, engine: str = "local", threads: int | None = None,
               workers: int | None = None, address: str | None = None, failed: list | None = None) -> Path:
    """Run ``detectors`` on every file of ``suite`` for ``seeds`` seeds; long-format rows to ``out``
    and each file's scores to ``<out dir>/.cache`` (for NAB's corpus-level threshold).

    ``engine="ray"``: each (file, detector, seed) job is a Ray task (one CPU, ``threads`` threads,
    default 1; at most ``workers`` at once, default the cluster's CPUs // threads; ``address`` as
    in ``run_tabular``). The driver loads the suite and puts each file in the object store once;
    tasks return the row and the scores, and the driver writes both (rows in completion order).
    A job that raises something other than the ValueError handled above is a row with no metrics,
    no cached scores and a one-line ``error``; ``failed`` gets ``(dataset, seed, detector, message)``
    and ``resume`` runs it again."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    records = load_suite(suite, data, list(datasets) if datasets else None)
    if not records:
        raise ValueError(f"no {suite} files found under {data}")
    specs = check_specs(detectors or DEFAULT_DETECTORS)
    out = Path(out)
    bar = _bar(len(records) * seeds * len(specs), progress)

    def keep(rec, spec, seed, row, scores):
        cache = score_cache_path(out, rec.name, spec, seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, scores=scores.astype(np.float32))
        row.update(suite=suite, dataset=rec.name, detector=spec, seed=seed)
        write(row)

    with open_results(out, COLUMNS, resume, ("dataset", "detector", "seed"), retry_failed=True) as (write, done):
        if engine == "ray":
            _run_series_ray(records, specs, seeds, suite, threshold_quantile, done, bar, keep, write, threads,
                            workers, address, failed)
        else:
            for rec in records:
                for seed in range(seeds):
                    for spec in specs:
                        bar.set_postfix_str(f"{rec.name} seed {seed} {spec}"[:60])
                        if (rec.name, spec, seed) not in done:
                            keep(rec, spec, seed, *_series_job(rec, spec, seed, threshold_quantile))
                        bar.update(1)
    bar.close()
    return out


def _series_job(rec, spec: str, seed: int, threshold_quantile: float):
    """``(row, scores)`` of one detector on one file: fit on its training part, score it all,
    evaluate (a ValueError: constant scores and the message in ``error``)."""
    det = make_detector(spec, random_state=seed)
    error = ""
    t0 = time.perf_counter()
    try:
        det.fit(rec.train_values)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = np.asarray(det.decision_function(rec.values), dtype=np.float64)
        score_s = time.perf_counter() - t0
    except ValueError as e:  # e.g. PCA on a constant training part: no information
        error, fit_s, score_s = f"{type(e).__name__}: {e}"[:200], time.perf_counter() - t0, 0.0
        scores = np.zeros(rec.n_steps)
    if scores.shape != (rec.n_steps,) or not np.isfinite(scores).all():
        raise RuntimeError(f"{spec} returned bad scores on {rec.name}: shape {scores.shape}")
    own = getattr(det, "threshold_", None) if not error else None
    # a drift-aware alarm rule (alarm="drift") flags the series itself: predict's flags
    flags = det._flags(scores) if own is not None and getattr(det, "alarm_rule_", None) else None
    row = evaluate(rec, scores, threshold_quantile, own, flags)
    row.update(fit_s=round(fit_s, 3), score_s=round(score_s, 3), n_train=rec.train_end,
               n_test=rec.n_steps - rec.train_end, channels=rec.n_channels, error=error)
    return row, scores


def _series_ray_job(rec, spec, seed, threshold_quantile, threads):
    """One Ray task: ``_series_job`` within the task's thread budget."""
    from .._ray import thread_budget

    with thread_budget(threads):
        return _series_job(rec, spec, seed, threshold_quantile)


def _run_series_ray(records, specs, seeds, suite, threshold_quantile, done, bar, keep, write, threads, workers,
                    address, failed):
    from .._ray import default_workers, ray_session, run_streaming

    with ray_session(address) as ray:
        workers = workers or default_workers(ray, threads)
        task = ray.remote(num_cpus=max(1, threads or 1), max_retries=0)(_series_ray_job)  # its threads, reserved
        by_name = {rec.name: rec for rec in records}
        refs: dict = {}   # file -> its record in the object store, while it has jobs in flight
        left: dict = {}

        def finished(job):
            left[job[0]] -= 1
            if not left[job[0]]:
                refs.pop(job[0], None)
            bar.update(1)

        def on_result(job, value):
            name, seed, spec = job
            keep(by_name[name], spec, seed, *value)
            finished(job)

        def on_error(job, message):
            name, seed, spec = job
            write({"suite": suite, "dataset": name, "detector": spec, "seed": seed, "error": message})
            if failed is not None:
                failed.append(job + (message,))
            finished(job)

        def jobs():
            for rec in records:
                todo = [(rec.name, seed, spec) for seed in range(seeds) for spec in specs
                        if (rec.name, spec, seed) not in done]
                bar.update(seeds * len(specs) - len(todo))
                if todo:
                    left[rec.name] = len(todo)
                    yield from todo

        def submit(job):
            name, seed, spec = job
            if name not in refs:
                refs[name] = ray.put(by_name[name])
            bar.set_postfix_str(f"{name} seed {seed} {spec}"[:60])
            return task.remote(refs[name], spec, seed, threshold_quantile, threads)

        run_streaming(ray, submit, jobs(), workers, on_result, on_error)
