"""The share of normal data a threshold flags: what a model expects (measured on its calibration
scores, with an interval for how many they are) and a check of each scored batch against it.

Example
-------
>>> r = expected_rate(np.arange(100.0), threshold=89.5)
>>> round(r["rate"], 2), [round(v, 3) for v in r["interval"]]
(0.1, [0.049, 0.176])
>>> shift_note(expected=r, flagged=60, n=200, units="rows") is not None
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["expected_rate", "shift_note"]

MIN_UNITS = 50      # a batch smaller than this says too little about a flag rate
ALPHA = 1e-3        # how unlikely the batch's flag count must be under the expected rate


def expected_rate(calibration_scores, threshold: float, level: float = 0.95) -> dict:
    """``{"rate", "interval", "n"}``: the share of the calibration scores above ``threshold`` and its
    Clopper-Pearson ``level`` interval (how far the share flagged on new normal data may be from it
    by chance, given how many calibration scores there are)."""
    from scipy.stats import beta

    s = np.asarray(calibration_scores, dtype=np.float64)
    n = int(len(s))
    k = int((s > float(threshold)).sum())
    a = (1.0 - level) / 2.0
    lo = float(beta.ppf(a, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(1.0 - a, k + 1, n - k)) if k < n else 1.0
    return {"rate": k / n if n else float("nan"), "interval": [lo, hi], "n": n}


def shift_note(expected: dict, flagged: int, n: int, units: str = "units") -> str | None:
    """A note when ``flagged`` of ``n`` is far above what the model expects of normal data (a
    one-sided binomial test at the top of the interval, ``ALPHA``), else None."""
    if n < MIN_UNITS or not expected or not expected.get("n"):
        return None
    from scipy.stats import binom

    lo, hi = expected["interval"]
    if binom.sf(flagged - 1, n, min(max(hi, 1e-12), 1.0)) >= ALPHA:
        return None
    return (f"{flagged:,} of {n:,} {units} flagged ({100 * flagged / n:.0f}%) where the model flags "
            f"{100 * expected['rate']:.0f}% of normal data (95% interval {100 * lo:.0f}-{100 * hi:.0f}%, from "
            f"{expected['n']:,} calibration scores): these data hold many anomalies, or they differ from the data "
            "the threshold was set on (a new camera, season or sensor); if they are normal, set the threshold on "
            "them: adgdm calibrate MODEL NORMAL_DATA")
