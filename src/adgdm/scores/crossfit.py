"""Cross-fitted evidence scale for the ideal-denoiser detector on overlapping pieces.

Overlapping windows of a series, or overlapping patches of an image, are near-copies of their
neighbours, so leave-one-out evidence is degenerate (the nearest reference row is the same piece
shifted by a step) and the robust z-scale of ``DiffusionDetector`` collapses. Instead each fold of
reference rows is scored against the rows of the other folds only (minus an exclusion set), which
is how new data will score.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
from sklearn.base import clone


def cross_fit_scale(tab, folds: Iterable[np.ndarray], others: Callable[[np.ndarray], np.ndarray]) -> None:
    """Re-base a fitted ``DiffusionDetector`` ``tab`` on cross-fitted evidence.

    ``folds`` are index arrays into ``tab.X_train_``; ``others(fold)`` returns the bool mask of rows a
    fold may be compared with. Sets ``tab.norm_center_``, ``tab.norm_scale_``, ``tab.decision_scores_``
    and the threshold."""
    Xt = tab.X_train_
    raw = np.empty((len(Xt), len(tab.norm_center_)))
    for fold in folds:
        keep = others(fold)
        if keep.sum() < 2:  # too few: compare with everything but the fold itself
            keep = np.ones(len(Xt), bool)
            keep[fold] = False
        part = clone(tab)
        part._build(Xt[keep])
        raw[fold] = part._raw(Xt[fold])
    f = tab._features(raw)
    tab.norm_center_ = np.median(f, axis=0)
    spread = np.subtract(*np.percentile(f, [75, 25], axis=0))
    tab.norm_scale_ = np.where(spread > 1e-12, spread, 1.0)
    tab._finish_fit(tab._combine(raw))
