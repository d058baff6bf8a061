"""``series-auto``: ``auto`` for series (issue 32); the rule is in :mod:`adgdm.detectors.auto`.

A series is one unit ``(T, channels)``, so it is split in time, not by rows:

* the first ``1 - holdout`` of the normal series is the fit part every candidate is fitted on;
* the rest (the held part) is copied once per anomaly kind of
  :func:`adgdm.generation.inject_series_anomalies` (``spike``, ``level_shift``, ``pattern``,
  ``frequency``, ``trend``, ``noise``, ``channel_break``; a kind the series cannot give, e.g.
  ``channel_break`` on one channel, is skipped), with anomalies of that kind injected and their step
  labels;
* each candidate scores each copy with the end of the fit part in front of it (its window and
  smoothing span: every held step is judged with a full window, as in the whole series), and the
  step-level AUROC over the copy's steps (clean steps: label 0) is its score on that kind.

Segment lengths scale with the held part (up to a tenth of it, at most 50 steps) so that every kind
fits; ``n_anomalies`` is the number of anomalies per kind, as many as one copy has room for (one
segment per three segment lengths: a NAB training part, 604 steps, gets 2 per kind). One copy per kind
keeps the cost down (each copy is one scoring per candidate); three copies cost 2.5x more (NAB, SKAB
fit 20-26x the default's instead of 7-10x) and the choice is still noisy at these lengths.

Fallback: a held part of fewer than ``min_units`` steps (default 100: ``holdout=0.3`` of a
334-step series) holds too few anomalies to judge on; the first candidate is fitted, with an
:class:`adgdm.detectors.auto.AutoFallbackWarning`.
"""
from __future__ import annotations

import numpy as np

from ..._params import store_params
from ...generation.series import SERIES_KINDS, inject_series_anomalies
from ..auto import AutoBase
from .base import SeriesBase

__all__ = ["SeriesAuto"]

MAX_COPIES = 1  # copies of the held part per kind (cost: one scoring of each per candidate)


def _reach(det) -> int:
    """Steps before a scored step that its score can depend on (window, smoothing, unjudged lead);
    a fusion: the longest of its parts'."""
    parts = getattr(det, "parts_", None)
    if parts:
        return max(_reach(p) for p in parts)
    w = getattr(det, "window_", None)
    if w is None:
        w = getattr(det, "window", 0)
    w = int(w) if isinstance(w, (int, np.integer)) else 0
    return w + int(getattr(det, "smooth", 1) or 1) + int(det._unjudged_lead())


class SeriesAuto(AutoBase, SeriesBase):
    """``auto`` for series: chooses among ``series``, ``series-pre``, ``tsb-subpca`` (and the
    ``series-fuse`` of the two best) on anomalies injected into the end of the normal series.

    Parameters are :class:`adgdm.detectors.auto.AutoBase`'s; ``min_units`` counts steps of the held
    part (fewer: the first candidate is fitted, with an ``AutoFallbackWarning``) and
    ``n_anomalies`` anomalies per kind.

    Example
    -------
    >>> t = np.arange(3000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=3000)
    >>> det = SeriesAuto("series:window=32+tsb-subpca:window=32", random_state=0).fit(x)
    >>> det.chosen_ in det.selection_["table"]
    True
    >>> print(det.selection_table())                                    # doctest: +SKIP
    """

    name = "series-auto"
    modality = "series"
    default_candidates = ("series", "series-pre", "tsb-subpca")
    kinds_all = SERIES_KINDS
    training_scores = "the chosen detector's"

    def __init__(self, candidates=None, kinds=None, holdout: float = 0.3, fuse_top: int = 2,
                 n_anomalies: int = 10, min_units: int = 100, contamination: float = 0.01, random_state=None):
        store_params(self, locals())

    # --- the series' part ------------------------------------------------------------------------------
    def _too_few(self, data):
        held = int(round(float(self.holdout) * len(data)))
        if held < int(self.min_units):
            return (f"the held-out end of the series ({held} of {len(data)} steps at holdout={self.holdout}) "
                    f"is shorter than min_units={self.min_units} steps")
        return None

    def _split(self, data, rng):
        k = int(round(float(self.holdout) * len(data)))
        return data[: len(data) - k], data[len(data) - k:]

    def _anomalies(self, ref, base, kind, n, rng):
        H = len(base)
        gap = max(1, min(10, H // 20))
        hi = max(3, min(50, H // 10))
        lo = min(10, hi)
        per_copy = max(1, min(n, (H + gap) // (3 * (hi + gap))))
        copies = min(MAX_COPIES, -(-n // per_copy))
        return [inject_series_anomalies(base, per_copy, kinds=[kind], length=(lo, hi), min_gap=gap, random_state=rng)
                for _ in range(copies)]

    def _evaluation(self, clean, anomalies):
        return [a.values for a in anomalies], np.concatenate([a.labels for a in anomalies])

    def _eval_scores(self, det, fit_part, X):
        ctx = fit_part[max(0, len(fit_part) - _reach(det)):]
        parts = X if isinstance(X, list) else [X]
        return np.concatenate([det.decision_function(np.concatenate([ctx, x]))[len(ctx):] for x in parts])

    def _fuse_spec(self, parts):
        return "series-fuse:parts=" + "+".join(p.replace(",", "&") for p in parts)

    # --- the chosen detector's ----------------------------------------------------------------------
    def _input(self, X, fitting: bool):
        return self._series(X, fitting)

    def _unjudged_lead(self) -> int:
        return self.best_._unjudged_lead()

    def _explain_model(self, arr):
        return self.best_._explain_model(arr)
