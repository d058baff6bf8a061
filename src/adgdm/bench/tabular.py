"""``adgdm bench tabular``: ADBench-style protocols over a folder of ``.npz`` files, or of ``.csv``
tables with a 0/1 label column (numbers, text, true/false and blank cells: the table encoder,
fitted on the training rows, stands in for the standardisation, and detectors that standardise
their input are told not to, as ``adgdm fit`` does).

semi: split first (a random half of the normal rows train; the other half plus every anomaly
test), standardise with training statistics, fit, score the test rows. Nothing is upsampled.
unsup: standardise with all rows, fit on all rows, score all rows (the fitted ``decision_scores_``,
PyOD's convention: a kNN row is not its own neighbour).
Rows go to the CSV as soon as they exist, so an interrupted run keeps what it did (``resume``).

``engine="ray"``: each (dataset, seed, detector) job is a Ray task (one CPU, ``threads`` torch /
OpenMP / BLAS threads inside it), at most ``workers`` in flight. The driver reads each dataset once
and ``ray.put``s its rows; a task splits, standardises or encodes them for its seed exactly as the
local engine does, so the metrics are the same. Rows are written by the driver as tasks finish
(completion order, not grid order). A job that raises (or a dataset that cannot be read) becomes
a row with no metrics and a one-line message in the ``error`` column, and the grid goes on;
``resume`` skips the rows without an error and runs failed jobs again. The local engine stops at
the first exception, as before, and leaves ``error`` empty.
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
           "n_train", "n_test", "d", "error"]
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
                progress: bool = True, suite: str = "adbench", label: str = "label", engine: str = "local",
                threads: int | None = None, workers: int | None = None, address: str | None = None,
                failed: list | None = None) -> Path:
    """Run ``detectors`` on ``datasets`` for ``seeds`` seeds and append long-format rows to ``out``.

    ``engine="ray"`` runs the jobs as Ray tasks (module docstring): ``threads`` per task (default 1),
    ``workers`` tasks at once (default: the cluster's CPUs // threads), ``address`` None (start a
    local Ray with this machine's CPUs), ``"auto"`` or ``"ray://host:port"``. ``failed``, when given,
    receives ``(dataset, seed, detector, message)`` for each job that failed."""
    if setting not in ("semi", "unsup"):
        raise ValueError(f"setting must be 'semi' or 'unsup', got {setting!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    files, names = select_datasets(data_dir, datasets)
    specs = check_specs(detectors or DEFAULT_DETECTORS)
    out = Path(out)
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    bar = _bar(len(names) * seeds * len(specs), progress)
    with open_results(out, COLUMNS, resume, KEY, retry_failed=True) as (write, done):
        if engine == "ray":
            _run_ray(files, names, specs, seeds, setting, suite, label, write, done, bar, threads, workers, address,
                     failed)
        else:
            for name in names:
                table = files[name].suffix == ".csv"
                X, y = _load(files[name], label)
                for seed in range(seeds):
                    X_train, X_test, y_test = _prepare(X, y, seed, setting, table, name)
                    for spec in specs:
                        bar.set_postfix_str(f"{name} seed {seed} {spec}"[:60])
                        if (name, setting, spec, seed) not in done:
                            write(_run_one(spec, seed, X_train, X_test, y_test, setting, encoded=table) |
                                  {"suite": suite, "dataset": name, "setting": setting, "detector": spec, "seed": seed})
                        bar.update(1)
    bar.close()
    return out


def _load(path: Path, label: str):
    return load_table_csv(path, label) if path.suffix == ".csv" else load_npz(path)


def _prepare(X, y, seed: int, setting: str, table: bool, name: str):
    """``(X_train, X_test, y_test)`` of one seed: semi splits then standardises (or encodes) with the
    training rows; unsup standardises (or encodes) all rows and scores them all."""
    if setting == "semi":
        tr, te = semi_supervised_split(y, seed)
        X_train, X_test = _encode(X.iloc[tr], X.iloc[te], name) if table else standardize(X[tr], X[te])
        return X_train, X_test, y[te]
    X_train = _encode(X, X, name)[0] if table else standardize(X)[0]
    return X_train, X_train, y


def _ray_job(X, y, name, seed, spec, setting, table, threads):
    """One Ray task: the same split, encoding and detector run as the local engine."""
    from .._ray import thread_budget

    with thread_budget(threads):
        X_train, X_test, y_test = _prepare(X, y, seed, setting, table, name)
        return _run_one(spec, seed, X_train, X_test, y_test, setting, encoded=table)


def _run_ray(files, names, specs, seeds, setting, suite, label, write, done, bar, threads, workers, address, failed):
    from .._ray import default_workers, one_line, ray_session, run_streaming

    with ray_session(address) as ray:
        workers = workers or default_workers(ray, threads)
        task = ray.remote(num_cpus=max(1, threads or 1), max_retries=0)(_ray_job)  # its threads, reserved
        refs: dict = {}          # dataset -> (X ref, y ref) while it has jobs in flight
        left: dict = {}          # dataset -> its jobs not finished yet

        def base(job):
            name, seed, spec = job
            return {"suite": suite, "dataset": name, "setting": setting, "detector": spec, "seed": seed}

        def finished(job):
            left[job[0]] -= 1
            if not left[job[0]]:
                refs.pop(job[0], None)   # its rows leave the object store
            bar.update(1)

        def on_result(job, row):
            write(row | base(job) | {"error": ""})
            finished(job)

        def on_error(job, message):
            write(base(job) | {"error": message})
            if failed is not None:
                failed.append(job + (message,))
            finished(job)

        def jobs():
            """Each dataset read by the driver when its first job is submitted (a broken file fails
            its jobs, not the run) and put in the object store once for all its jobs."""
            for name in names:
                todo = [(name, seed, spec) for seed in range(seeds) for spec in specs
                        if (name, setting, spec, seed) not in done]
                bar.update(seeds * len(specs) - len(todo))
                if not todo:
                    continue
                left[name] = len(todo)
                try:
                    X, y = _load(files[name], label)
                    refs[name] = (ray.put(X), ray.put(y))
                except Exception as e:
                    for job in todo:
                        on_error(job, one_line(e))
                    continue
                yield from todo

        def submit(job):
            name, seed, spec = job
            X_ref, y_ref = refs[name]
            bar.set_postfix_str(f"{name} seed {seed} {spec}"[:60])
            return task.remote(X_ref, y_ref, name, seed, spec, setting, files[name].suffix == ".csv", threads)

        run_streaming(ray, submit, jobs(), workers, on_result, on_error)


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
