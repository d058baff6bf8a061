"""``series-cycle``: the detection-generation cycle for series.

The ``series`` default scores each causal window; copies of the training series with injected
anomalies (spikes, level shifts, trends, noise bursts, pattern and frequency changes, channel
breaks) teach a boosted-tree classifier what a window ending inside an anomaly looks like. Its
features are the window's values and their first differences (shape, whatever the level). The
score is the robust z of the ``series`` score plus ``weight`` times the robust z of the classifier's
log-odds, both against the training steps (the classifier's out-of-fold). The first ``window - 1``
steps of a scored series have no full window and are not judged (see ``series``): both parts are
at their median there.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from ..._torch import seed_of
from ..._params import store_params
from ..base import Fitted, nested_state, restore_nested
from .base import SeriesBase
from ..trees import ExportedTrees
from ...scores.fusion import RobustZ, fuse
from ..tabular.cycle import log_odds
from .diffusion import SeriesDiffusion, causal_windows

__all__ = ["SeriesCycle"]


def _features(W: np.ndarray, window: int, channels: int) -> np.ndarray:
    """Window values and their first differences along time (per channel)."""
    V = W.reshape(len(W), window, channels)
    return np.concatenate([W, np.diff(V, axis=1).reshape(len(W), -1)], axis=1)


class SeriesCycle(SeriesBase):
    """``series`` + a classifier trained on anomalies injected into the training series.

    Parameters
    ----------
    window, smooth, contamination, n_folds : as for ``series``.
    copies : injected copies of the training series the classifier learns from.
    anomaly_share : share of each copy's steps inside injected anomalies.
    severity : severity of the injected anomalies.
    weight : weight of the classifier's z-score.

    Example
    -------
    >>> t = np.arange(3000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=3000)
    >>> x[2500:2510] += 3.0
    >>> det = SeriesCycle(window=32, random_state=0).fit(x[:2000])
    >>> s = det.decision_function(x)
    >>> bool(s[2500:2510].mean() > det.threshold_)
    True
    """

    name = "series-cycle"
    training_scores = "cross-fitted (time-block)"

    def __init__(self, window="auto", smooth: int = 1, contamination: float = 0.01, n_folds: int = 5,
                 copies: int = 4, anomaly_share: float = 0.2, severity: float = 1.0, weight: float = 1.0,
                 fill: str | None = None, random_state=None):
        store_params(self, locals())

    def _base(self) -> SeriesDiffusion:
        return SeriesDiffusion(window=self.window, smooth=1, contamination=self.contamination, n_folds=self.n_folds,
                               fill=self.fill, random_state=self.random_state)

    def _check_params(self):
        if int(self.copies) < 1:
            raise ValueError(f"copies must be >= 1, got {self.copies}")
        if not 0.0 < float(self.anomaly_share) < 1.0:
            raise ValueError(f"anomaly_share must lie in (0, 1), got {self.anomaly_share}")
        super()._check_params()

    def _fit(self, arr):
        """Fit on a validated (mostly) normal series ``(T, channels)`` (the base detector gets the
        checked array)."""
        from ...generation import inject_series_anomalies

        self.base_ = self._base().fit(arr)
        self.center_, self.scale_ = self.base_.center_, self.base_.scale_
        w = int(self.base_.window_)
        seed = seed_of(self.random_state)
        T = len(arr)
        max_len = int(np.clip(w, 5, 50))
        n_seg = max(1, int(round(float(self.anomaly_share) * T / ((5 + max_len) / 2))))
        clean = _features(causal_windows((arr - self.center_) / self.scale_, w), w, self.n_channels_)[w - 1:]
        pos = []
        for c in range(int(self.copies)):
            n = n_seg
            while True:  # fewer segments when the series is too short for them
                try:
                    inj = inject_series_anomalies(arr, n, length=(5, max_len), severity=self.severity,
                                                  min_gap=max(5, w // 2), random_state=seed + c)
                    break
                except ValueError:
                    if n == 1:
                        raise ValueError(f"series of {T} steps is too short to inject anomalies for series-cycle")
                    n = max(1, n // 2)
            F = _features(causal_windows((inj.values - self.center_) / self.scale_, w), w, self.n_channels_)
            pos.append(F[w - 1:][inj.labels[w - 1:] == 1])
        P = np.vstack(pos)
        Xc = np.vstack([clean, P])
        yc = np.r_[np.zeros(len(clean)), np.ones(len(P))]
        make = lambda: HistGradientBoostingClassifier(max_iter=150, max_leaf_nodes=15, l2_regularization=1.0,  # noqa: E731
                                                      random_state=seed)
        self.classifier_ = ExportedTrees.from_sklearn(make().fit(Xc, yc))  # saves as arrays
        # out-of-fold log-odds of the clean windows, in time blocks (neighbouring windows overlap)
        oof = np.empty(len(clean))
        blocks = np.array_split(np.arange(len(clean)), 5)
        for b in blocks:
            keep = np.ones(len(Xc), bool)
            keep[max(0, b[0] - w):min(len(clean), b[-1] + w + 1)] = False
            if len(np.unique(yc[keep])) == 2:
                oof[b] = log_odds(make().fit(Xc[keep], yc[keep]), clean[b])
            else:
                oof[b] = log_odds(self.classifier_, clean[b])
        self.clf_center_, self.clf_scale_ = RobustZ.fit(oof).params()
        base_tr = self.base_.decision_scores_
        self.base_center_, self.base_scale_ = RobustZ.fit(base_tr[w - 1:]).params()
        clf_tr = np.full(T, np.median(oof))
        clf_tr[w - 1:] = oof
        return Fitted(self._smooth(self._combine(base_tr, clf_tr)), slice(w - 1, None))

    def _combine(self, base, logits) -> np.ndarray:
        return fuse({"base": base, "classifier": logits}, {"base": 1.0, "classifier": float(self.weight)},
                    z={"base": RobustZ(self.base_center_, self.base_scale_),
                       "classifier": RobustZ(self.clf_center_, self.clf_scale_)})

    def _input(self, X, fitting: bool):
        if fitting:
            return self._series(X, True)
        return self._series(X, fitting, min_length=int(self.base_.window_))

    def _score(self, arr):
        """One score per step (the window ending at it), higher = more anomalous."""
        w = int(self.base_.window_)
        F = _features(causal_windows((arr - self.center_) / self.scale_, w), w, self.n_channels_)
        logits = log_odds(self.classifier_, F)
        # no full window for the first window - 1 steps: not judged (the base gives them its
        # start_score_, the classifier its median out-of-fold log-odds), as in ``series``
        logits[: w - 1] = self.clf_center_
        return self._smooth(self._combine(self.base_.decision_function(arr), logits))

    def _get_state(self):
        bmeta, arrays = nested_state(self.base_, "base")
        arrays.update({f"clf.{k}": v for k, v in self.classifier_.arrays.items()})
        meta = dict(base=bmeta, base_params=self.base_.get_params(), base_center_=self.base_center_,
                    base_scale_=self.base_scale_, clf_center_=self.clf_center_, clf_scale_=self.clf_scale_)
        return meta, arrays

    def _set_state(self, f: dict, arrays: dict) -> None:
        self.base_ = restore_nested(SeriesDiffusion, f["base_params"], f["base"], arrays, "base")
        self.classifier_ = ExportedTrees({k[4:]: v for k, v in arrays.items() if k.startswith("clf.")})
        for name in ("base_center_", "base_scale_", "clf_center_", "clf_scale_"):
            setattr(self, name, float(f[name]))
        w = int(self.base_.window_)
        if int(self.classifier_.arrays["n_features"][0]) != 2 * w * self.n_channels_ - self.n_channels_:
            raise ValueError("the classifier's feature count does not match the window and channels")
