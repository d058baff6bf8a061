"""What every adgdm series detector shares beyond the base contract: the trailing-mean smoothing
and rank-based probabilities (a series' scores are per step, so ranks among the training steps
read well)."""
from __future__ import annotations

import numpy as np

from ..base import BaseDetector


class SeriesBase(BaseDetector):
    """Base of the series detectors: ``fit(series)``, ``decision_function(series)`` -> ``(T,)``."""

    modality = "series"
    _proba_method = "rank"

    def _smooth(self, scores: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Trailing mean over ``smooth`` steps (fewer at the start of the series); ``history`` holds
        the unsmoothed scores just before ``scores`` (streaming)."""
        k = int(getattr(self, "smooth", 1))
        if k == 1:
            return scores
        prev = np.zeros(0) if history is None else history[max(0, len(history) - (k - 1)):]
        full = np.concatenate([prev, scores])
        c = np.concatenate([[0.0], np.cumsum(full)])
        i = np.arange(len(prev), len(full))
        lo = np.maximum(i - k + 1, 0)
        return (c[i + 1] - c[lo]) / (i + 1 - lo)

    def _per_channel_smooth(self, per: np.ndarray) -> np.ndarray:
        """The trailing mean per channel (it is linear, so the sum over channels is kept)."""
        if int(getattr(self, "smooth", 1)) == 1:
            return per
        return np.column_stack([self._smooth(per[:, c]) for c in range(per.shape[1])])

    def _series(self, X, fitting: bool, min_length: int = 1) -> np.ndarray:
        """The validated series ``(T, C)`` (the modality's check, with the detector's minimum length)."""
        from ...modalities import get_modality

        return get_modality("series").check(self, X, fitting, min_length=min_length)
