"""Detector feedback: keep the generated anomalies a detector finds neither normal nor trivial."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_tabular

__all__ = ["FilterResult", "filter_by_detector", "score_band"]


@dataclass
class FilterResult:
    """Outcome of :func:`filter_by_detector`: the kept rows and how many passed."""

    X: np.ndarray          # kept rows, original units
    keep: np.ndarray       # bool per generated row
    scores: np.ndarray     # the detector's score of every generated row
    low: float             # band on the score scale
    high: float
    n_generated: int
    n_kept: int

    @property
    def pass_rate(self) -> float:
        return self.n_kept / self.n_generated if self.n_generated else 0.0

    def __str__(self) -> str:
        return (f"kept {self.n_kept} of {self.n_generated} generated rows ({100 * self.pass_rate:.1f}%) "
                f"with scores in [{self.low:.4g}, {self.high:.4g}]")


def score_band(detector, band: tuple) -> tuple[float, float]:
    """Quantiles ``band = (q_low, q_high)`` of ``detector``'s calibration scores (``q_high=None``: no
    upper bound): its training rows scored as new rows are, the scores its ``threshold_`` was set
    from (``adgdm.thresholds.calibration_scores``), so the band is on the scale of the scores it
    is compared with. Leave-one-out training scores (``decision_scores_``) put a few hundred rows'
    0.999 quantile at about three times the largest new-row score of those rows (breast cancer:
    150.6 against 54.3), and a band up to it kept every generated row."""
    from ..thresholds import calibration_scores

    if not hasattr(detector, "decision_scores_"):
        raise ValueError(f"{type(detector).__name__} is not fitted: fit it on normal data first")
    q_lo, q_hi = band
    if not 0.0 <= float(q_lo) <= 1.0 or (q_hi is not None and not float(q_lo) < float(q_hi) <= 1.0):
        raise ValueError(f"band must be quantiles 0 <= low < high <= 1 (high may be None), got {band}")
    ref = calibration_scores(detector)
    return float(np.quantile(ref, q_lo)), (np.inf if q_hi is None else float(np.quantile(ref, q_hi)))


def filter_by_detector(detector, X, band: tuple = (0.9, 0.999)) -> FilterResult:
    """Keep the rows of ``X`` whose score under the fitted ``detector`` lies between the quantiles
    ``band`` of its calibration scores (:func:`score_band`): above the low quantile they do not look
    normal, below the high one they are not trivially detectable.

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from adgdm import DiffusionDetector
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> det = DiffusionDetector().fit(X[y == 1])
    >>> res = filter_by_detector(det, X[y == 0], band=(0.9, None))
    >>> res.n_kept > res.n_generated // 2
    True
    """
    arr, _ = check_tabular(X, what="generated rows")
    low, high = score_band(detector, band)
    scores = np.asarray(detector.decision_function(arr), dtype=np.float64)
    keep = (scores >= low) & (scores <= high)
    return FilterResult(arr[keep], keep, scores, low, high, len(arr), int(keep.sum()))
