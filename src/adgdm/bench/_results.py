"""The long-format results CSV every bench runner appends to: resume keys, header, flushed rows."""
from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path

from .._atomic import atomic_file

_INT_KEYS = ("seed", "shots")


def read_keys(out: Path, key: tuple[str, ...], retry_errors: bool = False) -> set:
    """The ``key`` tuples of the rows already in ``out`` (datasets read as text: MNIST's digit
    names must not turn into numbers); with ``retry_errors``, not those of rows with a message in
    their ``error`` column (failed jobs, to run again)."""
    import pandas as pd

    if not out.exists():
        return set()
    df = pd.read_csv(out, dtype={"dataset": str})
    if retry_errors and "error" in df.columns:
        df = df[df["error"].isna() | (df["error"].astype(str).str.strip() == "")]
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
def open_results(out, columns: list[str], resume: bool, key: tuple[str, ...], retry_errors: bool = False):
    """Yield ``(write, done)``: ``write(row)`` appends one row and flushes it (a stopped run keeps
    every finished row); ``done`` holds the ``key`` tuples already there when ``resume`` (without
    the failed ones, rows with an ``error``, when ``retry_errors``). A resumed file that lacks some
    of ``columns`` gets them (empty) first."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_keys(out, key, retry_errors) if resume else set()
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
