"""``adgdm bench tabular``: ADBench-style protocols over a folder of ``.npz`` files, or of ``.csv``
tables with a 0/1 label column (numbers, text, true/false and blank cells: the table encoder,
fitted on the training rows, stands in for the standardisation, and detectors that standardise
their input are told not to, as ``adgdm fit`` does).

semi: split first (a random half of the normal rows train; the other half plus every anomaly
test), standardise with training statistics, fit, score the test rows. Nothing is upsampled.
unsup: standardise with all rows, fit on all rows, score all rows (the fitted ``decision_scores_``,
PyOD's convention: a kNN row is not its own neighbour).
Rows go to the CSV as soon as they exist, so an interrupted run keeps what it did (``resume``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable


from ..data import list_tables, load_npz, load_table_csv, semi_supervised_split, standardize
from ..detectors import make_detector, parse_spec, detector_class
from ..metrics import auprc, auroc
from ._results import open_results

COLUMNS = ["suite", "dataset", "setting", "detector", "seed", "auroc", "auprc", "fit_s", "score_s",
           "n_train", "n_test", "d"]
KEY = ("dataset", "setting", "detector", "seed")
DEFAULT_DETECTORS = ["diffusion", "ddpm", "dte-np", "dte-c", "dte-ig", "pyod-knn", "pyod-iforest", "pyod-ecod",
                     "pyod-lof", "pyod-ocsvm"]


def check_specs(specs) -> list[str]:
    """Build every detector spec once: a typo fails before hours of work, not in the middle."""
    specs = list(specs)
    for spec in specs:
        detector_class(parse_spec(spec)[0])
        make_detector(spec)
    return specs


def run_tabular(data_dir, datasets: Iterable[str] | None = None, detectors: Iterable[str] | None = None,
                seeds: int = 5, setting: str = "semi", out="benchmarks/results/tabular.csv", resume: bool = False,
                progress: bool = True, suite: str = "adbench", label: str = "label") -> Path:
    """Run ``detectors`` on ``datasets`` for ``seeds`` seeds and append long-format rows to ``out``."""
    if setting not in ("semi", "unsup"):
        raise ValueError(f"setting must be 'semi' or 'unsup', got {setting!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    files, names = select_datasets(data_dir, datasets)
    specs = check_specs(detectors or DEFAULT_DETECTORS)
    out = Path(out)
    bar = _bar(len(names) * seeds * len(specs), progress)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for name in names:
            table = files[name].suffix == ".csv"
            X, y = load_table_csv(files[name], label) if table else load_npz(files[name])
            for seed in range(seeds):
                if setting == "semi":
                    tr, te = semi_supervised_split(y, seed)
                    X_train, X_test = _encode(X.iloc[tr], X.iloc[te], name) if table else standardize(X[tr], X[te])
                    y_test = y[te]
                else:
                    X_train = _encode(X, X, name)[0] if table else standardize(X)[0]
                    X_test, y_test = X_train, y
                for spec in specs:
                    bar.set_postfix_str(f"{name} seed {seed} {spec}"[:60])
                    if (name, setting, spec, seed) not in done:
                        write(_run_one(spec, seed, X_train, X_test, y_test, setting, encoded=table) |
                              {"suite": suite, "dataset": name, "setting": setting, "detector": spec, "seed": seed})
                    bar.update(1)
    bar.close()
    return out


def _encode(train, test, name: str):
    """Encoded ``(train, test)`` rows of a CSV table: the encoder fitted on the training rows."""
    from ..data.encoder import TableEncoder

    enc = TableEncoder().fit(train, where=f"{name} (training rows)")
    return enc.transform(train, where=f"{name} (training rows)"), enc.transform(test, where=f"{name} (test rows)")


def _run_one(spec, seed, X_train, X_test, y_test, setting, encoded: bool = False) -> dict:
    det = make_detector(spec, random_state=seed, **({"standardize": False} if encoded else {}))
    t0 = time.perf_counter()
    det.fit(X_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = det.decision_scores_ if setting == "unsup" else det.decision_function(X_test)
    score_s = time.perf_counter() - t0
    return {"auroc": round(100 * auroc(y_test, scores), 3), "auprc": round(100 * auprc(y_test, scores), 3),
            "fit_s": round(fit_s, 3), "score_s": round(score_s, 3), "n_train": len(X_train), "n_test": len(X_test),
            "d": X_train.shape[1]}


def select_datasets(data_dir, datasets=None) -> tuple[dict, list[str]]:
    """``(name -> .npz path, names to run)``: ``datasets`` in the given order, or all of them,
    smallest first (an interrupted run then covers as many datasets as possible)."""
    files = list_tables(data_dir)
    names = sorted(files, key=lambda n: files[n].stat().st_size) if not datasets else list(datasets)
    missing = [n for n in names if n not in files]
    if missing:
        raise ValueError(f"datasets not found in {data_dir}: {missing}; available: {', '.join(files)}")
    return files, names


class _NoBar:
    """Stands in for a progress bar when there is none to show."""

    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def _bar(total, progress):
    if not progress:
        return _NoBar()
    from .._progress import progress_bar

    return progress_bar(total, "bench", unit="fit") or _NoBar()
