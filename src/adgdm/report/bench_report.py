"""``bench_report``: benchmark CSVs -> one HTML report (a :class:`Report` of bench sections)."""
from __future__ import annotations

from pathlib import Path

from ._report import Report
from .bench import CONTEXT, _read

__all__ = ["bench_report"]


def bench_report(csv_paths, out, *, title: str | None = None, metric: str | None = None,
                 subtitle: str | None = None) -> Path:
    """Read long bench CSVs (one or many), write a self-contained HTML report to ``out``, return its path.

    Files are concatenated (a repeated (dataset, detector, seed) keeps the last file's row). When
    ``suite``, ``setting`` or ``shots`` vary, each combination gets its own benchmark section.

    >>> bench_report(["results/a.csv", "results/b.csv"], "report.html")   # doctest: +SKIP
    """
    import pandas as pd

    paths, frames = _read(csv_paths)
    df = pd.concat(frames, ignore_index=True, sort=False)
    rep = Report(title=title or "adgdm benchmark report", subtitle=subtitle or f"{len(df):,} result rows from {len(paths)} file(s)")
    rep.add_text("\n".join(f"- `{p.name}`: {len(f):,} rows" for p, f in zip(paths, frames)), title="Inputs")
    ctx = [c for c in CONTEXT if c in df.columns and df[c].nunique(dropna=False) > 1]
    if not ctx:
        rep.add_bench(df, metric=metric, title="Benchmark")
    else:
        for values, part in df.groupby(ctx, dropna=False, sort=True):
            values = values if isinstance(values, tuple) else (values,)
            name = ", ".join(f"{c}={v}" for c, v in zip(ctx, values))
            rep.add_bench(part, metric=metric, title=f"Benchmark: {name}")
    return rep.save(out)
