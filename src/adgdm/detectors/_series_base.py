"""What every adgdm series detector shares: the trailing-mean smoothing, ``predict`` and
``predict_proba`` through ``threshold_`` and the training scores, and the fitted check."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..io import ModelFileError


class SeriesBase(BaseEstimator):
    modality = "series"

    def _smooth(self, scores: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Trailing mean over ``smooth`` steps (fewer at the start of the series); ``history`` holds
        the unsmoothed scores just before ``scores`` (streaming)."""
        k = int(self.smooth)
        if k == 1:
            return scores
        prev = np.zeros(0) if history is None else history[max(0, len(history) - (k - 1)):]
        full = np.concatenate([prev, scores])
        c = np.concatenate([[0.0], np.cumsum(full)])
        i = np.arange(len(prev), len(full))
        lo = np.maximum(i - k + 1, 0)
        return (c[i + 1] - c[lo]) / (i + 1 - lo)

    def _check_fitted(self):
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(series) first")

    def predict(self, X) -> np.ndarray:
        """0/1 per step: score above ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X) -> np.ndarray:
        """``(T, 2)``: [normal, anomaly] probability by rank among the training scores."""
        p = np.searchsorted(np.sort(self.decision_scores_), self.decision_function(X), side="right")
        p = p / len(self.decision_scores_)
        return np.column_stack([1 - p, p])

    # --- persistence: the fields every series detector saves --------------------------------
    def _common_state(self) -> tuple[dict, dict]:
        meta = {"n_channels_": self.n_channels_, "threshold_": self.threshold_,
                "channel_names_": None if self.channel_names_ is None else [str(c) for c in self.channel_names_]}
        arrays = {"center_": self.center_, "scale_": self.scale_, "decision_scores_": self.decision_scores_}
        return meta, arrays

    def _load_common(self, fitted: dict, arrays: dict) -> None:
        self.n_channels_ = int(fitted["n_channels_"])
        names = fitted.get("channel_names_")
        self.channel_names_ = None if names is None else np.asarray(names, dtype=object)
        self.center_, self.scale_ = arrays["center_"], arrays["scale_"]
        if self.center_.shape != (self.n_channels_,) or self.scale_.shape != (self.n_channels_,):
            raise ValueError("scaler shape does not match the channel count")
        self.decision_scores_ = np.asarray(arrays["decision_scores_"], dtype=np.float64)
        self.threshold_ = float(fitted["threshold_"])
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    @classmethod
    def _from_saved(cls, config: dict, arrays: dict):
        """Rebuild from ``adgdm.load``; any missing or inconsistent field is a ``ModelFileError``."""
        try:
            det = cls(**config["params"])
            det._load_common(config["fitted"], arrays)
            det._restore(config["fitted"], arrays)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            raise ModelFileError(f"saved {cls.__name__} is incomplete or inconsistent: {type(e).__name__}: {e}") from None
        return det

    def _restore(self, fitted: dict, arrays: dict) -> None:
        """Detector-specific fitted state (subclasses)."""
        raise NotImplementedError
