"""The long-format results CSV every bench runner appends to: resume keys, header, flushed rows."""
from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path

_INT_KEYS = ("seed", "shots")


def read_keys(out: Path, key: tuple[str, ...]) -> set:
    """The ``key`` tuples of the rows already in ``out`` (datasets read as text: MNIST's digit
    names must not turn into numbers)."""
    import pandas as pd

    if not out.exists():
        return set()
    df = pd.read_csv(out, dtype={"dataset": str})
    return {tuple(int(v) if k in _INT_KEYS else v for k, v in zip(key, vals))
            for vals in df[list(key)].itertuples(index=False)}


@contextmanager
def open_results(out, columns: list[str], resume: bool, key: tuple[str, ...]):
    """Yield ``(write, done)``: ``write(row)`` appends one row and flushes it (a stopped run keeps
    every finished row); ``done`` holds the ``key`` tuples already there when ``resume``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_keys(out, key) if resume else set()
    new_file = not out.exists() or not resume
    with out.open("w" if new_file else "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="", lineterminator="\n")
        if new_file:
            writer.writeheader()

        def write(row: dict) -> None:
            writer.writerow(row)
            fh.flush()

        yield write, done
