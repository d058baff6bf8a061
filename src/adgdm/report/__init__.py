"""Self-contained HTML reports: score distributions, ROC/PR, top anomalies, time series, anomaly-map
overlays, galleries and benchmark summaries in one file that opens offline.

Needs the ``[report]`` extra (plotly, matplotlib): ``pip install 'adgdm[report]'``.

Example
-------
>>> import numpy as np
>>> from adgdm.report import Report, bench_report
>>> s = np.random.default_rng(0).normal(size=500); y = (s > 2).astype(int)
>>> rep = Report(title="adgdm report").add_scores(s, threshold=2.0, labels=y)
>>> rep.add_top_anomalies(ids=[f"row {i}" for i in range(500)], scores=s, k=10)
Report('adgdm report', 2 sections, 3 figures)
>>> rep.save("report.html")                                                     # doctest: +SKIP
>>> bench_report(["benchmarks/results/skab.csv"], "bench.html")                 # doctest: +SKIP
"""
from ._report import Report
from .bench_report import bench_report

__all__ = ["Report", "bench_report"]
