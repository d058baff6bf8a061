"""What every adgdm series detector shares: the trailing-mean smoothing, ``predict`` and
``predict_proba`` through ``threshold_`` and the training scores, ``explain``, and the fitted check."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ...io import ModelFileError
from ...thresholds import _recorded_method, calibrated_proba


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

    def predict_proba(self, X, method: str = "rank") -> np.ndarray:
        """``(T, 2)``: [normal, anomaly] probability by rank among the training scores (``"rank"``)
        or ``"calibrated"``: a logistic in the score, 0.5 at ``threshold_``, scaled by the spread of
        the training scores (:func:`adgdm.thresholds.calibrated_proba`)."""
        scores = self.decision_function(X)
        if method == "rank":
            p = np.searchsorted(np.sort(self.decision_scores_), scores, side="right")
            p = p / len(self.decision_scores_)
        elif method == "calibrated":
            p = calibrated_proba(scores, self.decision_scores_, self.threshold_)
        else:
            raise ValueError(f"unknown method {method!r}; choose 'rank' or 'calibrated'")
        return np.column_stack([1 - p, p])

    def explain(self, X, baseline=None) -> np.ndarray:
        """``(T, channels)`` non-negative contribution of each channel to each step's score; see
        :func:`adgdm.explain.explain`.

        Example
        -------
        >>> det.explain(series).argmax(axis=1)   # the channel that drives each step  # doctest: +SKIP
        """
        from ...explain import explain

        return explain(self, X, baseline=baseline)

    # --- persistence: the fields every series detector saves --------------------------------
    def _common_state(self) -> tuple[dict, dict]:
        meta = {"n_channels_": self.n_channels_, "threshold_": self.threshold_,
                "channel_names_": None if self.channel_names_ is None else [str(c) for c in self.channel_names_]}
        method = _recorded_method(self)  # only if adgdm.thresholds set threshold_ since the last fit
        if method is not None:
            meta["threshold_method_"] = method
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
        if "threshold_method_" in fitted:
            self.threshold_method_ = dict(fitted["threshold_method_"])

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
