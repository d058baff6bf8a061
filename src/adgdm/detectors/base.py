"""The contract every adgdm detector follows (PyOD's, on scikit-learn's estimator rules).

``fit(X)``; ``decision_function(X)`` (higher = more anomalous); ``predict(X)`` -> 0/1 through
``threshold_``, the ``1 - contamination`` quantile of the training scores ``decision_scores_``;
``predict_proba(X)``; ``labels_``; ``save(path)`` / ``adgdm.load(path)``; ``explain(X)``.
``__init__`` only stores parameters, so ``sklearn.base.clone`` works. ``adgdm.thresholds`` sets
other thresholds (POT for unknown contamination, fixed) on a fitted detector.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .._validation import check_tabular
from ..io import ModelFileError, save_detector
from ..thresholds import _recorded_method, calibrated_proba

__all__ = ["BaseDetector"]


class BaseDetector(BaseEstimator):
    """Base class. Subclasses implement ``_fit(X)``, ``_score(X)`` and, to be saved,
    ``_get_state() -> (meta, arrays)`` / ``_set_state(meta, arrays)``; ``X`` arrives validated
    (and standardised when the detector has ``standardize=True``)."""

    name: str = "base"

    # --- sklearn / PyOD contract ----------------------------------------------------------------
    def fit(self, X, y=None):
        """Fit on (mostly) normal rows ``X`` of shape ``(n_samples, n_features)``; ``y`` is ignored."""
        self._check_params()
        arr, names = check_tabular(X)
        self.n_features_in_ = arr.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        # the neutral value of each feature, for explanations by occlusion (adgdm.explain)
        self.feature_median_ = np.median(arr, axis=0)
        if getattr(self, "standardize", False):
            self.center_ = arr.mean(axis=0)
            scale = arr.std(axis=0)
            self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        Z = self._transform(arr)
        train_scores = self._fit(Z)
        self.decision_scores_ = np.asarray(train_scores if train_scores is not None else self._score(Z), dtype=np.float64)
        self._set_threshold()
        return self

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per row, higher = more anomalous."""
        self._check_fitted()
        arr, _ = check_tabular(X, self.n_features_in_, getattr(self, "feature_names_in_", None))
        return np.asarray(self._score(self._transform(arr)), dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        """0 = normal, 1 = anomaly: score above ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """``(n, 2)`` probabilities of [normal, anomaly]: training scores rescaled to [0, 1]
        (``"linear"``, PyOD's default), by rank among the training scores (``"rank"``), or
        ``"calibrated"``: a logistic in the score, 0.5 at ``threshold_``, with the spread of the
        training scores as its scale (:func:`adgdm.thresholds.calibrated_proba`), so ``p > 0.5``
        exactly when ``predict`` flags the row.

        Example
        -------
        >>> det.predict_proba(X, method="calibrated")[:, 1]   # doctest: +SKIP
        """
        scores = self.decision_function(X)
        train = self.decision_scores_
        if method == "linear":
            lo, hi = train.min(), train.max()
            p = np.clip((scores - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        elif method == "rank":
            p = np.searchsorted(np.sort(train), scores, side="right") / len(train)
        elif method == "calibrated":
            p = calibrated_proba(scores, train, self.threshold_)
        else:
            raise ValueError(f"unknown method {method!r}; choose 'linear', 'rank' or 'calibrated'")
        return np.column_stack([1 - p, p])

    def explain(self, X, baseline=None) -> np.ndarray:
        """``(n, n_features)`` non-negative contribution of each feature to each row's score; see
        :func:`adgdm.explain.explain` (and ``top_features`` to read it).

        Example
        -------
        >>> det.explain(X_test[:5]).shape                      # doctest: +SKIP
        (5, 4)
        """
        from ..explain import explain

        return explain(self, X, baseline=baseline)

    # --- helpers --------------------------------------------------------------------------------
    def _check_params(self) -> None:
        c = getattr(self, "contamination", 0.1)
        if not 0.0 < c <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {c}")

    def _set_threshold(self) -> None:
        self.__dict__.pop("threshold_method_", None)  # a threshold set by adgdm.thresholds no longer holds
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) before scoring")

    def _transform(self, arr: np.ndarray) -> np.ndarray:
        if getattr(self, "standardize", False):
            return (arr - self.center_) / self.scale_
        return arr

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _set_state(self, meta: dict, arrays: dict) -> None:
        raise NotImplementedError

    def save(self, path):
        """Save to the folder ``path`` (``config.json`` + ``weights.safetensors``); see ``adgdm.load``."""
        self._check_fitted()
        meta, arrays = self._get_state()
        meta = dict(meta, n_features_in_=self.n_features_in_, threshold_=self.threshold_)
        if hasattr(self, "feature_names_in_"):
            meta["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        method = _recorded_method(self)
        if method is not None:
            meta["threshold_method_"] = method
        arrays = dict(arrays, decision_scores_=self.decision_scores_)
        if hasattr(self, "feature_median_"):
            arrays["feature_median_"] = self.feature_median_
        if getattr(self, "standardize", False):
            arrays.update(center_=self.center_, scale_=self.scale_)
        return save_detector(path, self.name, self.get_params(), meta, arrays)

    @classmethod
    def _from_saved(cls, config: dict, arrays: dict):
        try:
            det = cls(**config["params"])
            fitted = config["fitted"]
            det.n_features_in_ = int(fitted["n_features_in_"])
            if "feature_names_in_" in fitted:
                det.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
            det.decision_scores_ = np.asarray(arrays["decision_scores_"], dtype=np.float64)
            if getattr(det, "standardize", False):
                det.center_, det.scale_ = arrays["center_"], arrays["scale_"]
                if det.center_.shape != (det.n_features_in_,):
                    raise ValueError("scaler shape does not match the feature count")
            det._set_state(fitted, arrays)
            det.threshold_ = float(fitted["threshold_"])
            det.labels_ = (det.decision_scores_ > det.threshold_).astype(int)
            if "threshold_method_" in fitted:
                det.threshold_method_ = dict(fitted["threshold_method_"])
            if "feature_median_" in arrays:  # absent from models saved before explanations
                det.feature_median_ = np.asarray(arrays["feature_median_"], dtype=np.float64)
                if det.feature_median_.shape != (det.n_features_in_,):
                    raise ValueError("stored feature medians do not match the feature count")
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelFileError(f"saved {cls.__name__} is incomplete or inconsistent: {type(e).__name__}: {e}") from None
        return det
