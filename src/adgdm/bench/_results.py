"""The long-format results CSV every bench runner appends to: resume keys, header, flushed rows."""
from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path

from .._atomic import atomic_file

_INT_KEYS = ("seed", "shots")


def failed_jobs(df):
    """Mask of the rows of jobs that failed (``--engine ray``): a message in ``error`` and nothing
    but the key (no ``n_test``). A series row with an ``error`` and metrics (a detector's
    ValueError, scored as constant) is a finished job."""
    import pandas as pd

    if "error" not in df.columns:
        return pd.Series(False, index=df.index)
    err = df["error"].notna() & (df["error"].astype(str).str.strip() != "")
    return err & df["n_test"].isna() if "n_test" in df.columns else err


def split_failed(df, key: list[str]):
    """``(rows of finished jobs, rows of failed jobs not run again since)``: the summaries leave
    failed jobs out of the means and list them."""
    mask = failed_jobs(df)
    ok, failed = df[~mask], df[mask]
    if len(failed):   # a failed job that --resume ran again is not failed any more
        done = set(map(tuple, ok[key].astype(str).values))
        failed = failed[[tuple(k) not in done for k in failed[key].astype(str).values]]
    return ok, failed


def failed_section(failed, key: list[str]) -> list[str]:
    """Markdown lines naming the failed jobs (none when there are none)."""
    if not len(failed):
        return []
    return ([f"## Failed jobs: {len(failed)} (no metrics; `--resume` runs them again)", ""]
            + ["- " + " ".join(f"`{r[k]}`" if k in ("dataset", "detector") else f"{k} {r[k]}" if k == "seed"
                               else str(r[k]) for k in key) + f": {r['error']}" for _, r in failed.iterrows()] + [""])


def read_keys(out: Path, key: tuple[str, ...], retry_failed: bool = False) -> set:
    """The ``key`` tuples of the rows already in ``out`` (datasets read as text: MNIST's digit
    names must not turn into numbers); with ``retry_failed``, not those of failed jobs
    (``failed_jobs``: they run again)."""
    import pandas as pd

    if not out.exists():
        return set()
    df = pd.read_csv(out, dtype={"dataset": str})
    if retry_failed:
        df = df[~failed_jobs(df)]
    return {tuple(int(v) if k in _INT_KEYS else v for k, v in zip(key, vals))
            for vals in df[list(key)].itertuples(index=False)}


def _add_columns(out: Path, columns: list[str]) -> list[str]:
    """Give a CSV written before a column existed (e.g. ``error``) the missing columns, empty, so
    rows appended with them stay aligned with the header; return its header."""
    with out.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        missing = [c for c in columns if c not in header]
        if not header or not missing:
            return header or columns
        rows = list(reader)
    with atomic_file(out) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header + missing, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return header + missing


@contextmanager
def open_results(out, columns: list[str], resume: bool, key: tuple[str, ...], retry_failed: bool = False):
    """Yield ``(write, done)``: ``write(row)`` appends one row and flushes it (a stopped run keeps
    every finished row); ``done`` holds the ``key`` tuples already there when ``resume`` (without
    those of failed jobs when ``retry_failed``). A resumed file that lacks some
    of ``columns`` gets them (empty) first."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_keys(out, key, retry_failed) if resume else set()
    new_file = not out.exists() or not resume
    fields = columns if new_file else _add_columns(out, columns)
    with out.open("w" if new_file else "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="", lineterminator="\n")
        if new_file:
            writer.writeheader()

        def write(row: dict) -> None:
            writer.writerow(row)
            fh.flush()

        yield write, done
