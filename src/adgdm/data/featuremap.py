"""Per-feature maps between the user's units and the space a generator works in.

Tables mix continuous and discrete columns. A diffusion model outputs continuous values, and a
classifier tells generated from real rows at once by a value no real row takes (2.37 in a column
of integers). ``FeatureMap`` records each column's kind at fit:

* discrete (at most ``max_levels`` distinct values): standardised; generated values are snapped
  back to the observed levels (or, for evenly spaced levels, to that lattice, which anomalies may
  leave by whole steps);
* continuous: standardised, or with ``continuous="quantile"`` mapped through its empirical
  quantiles to a standard normal (TabDDPM's preprocessing: heavy tails and skew become Gaussian,
  and the inverse map reproduces the marginal).
"""
from __future__ import annotations

import numpy as np

__all__ = ["FeatureMap"]

CONTINUOUS, SET, LATTICE = 0, 1, 2


class FeatureMap:
    """Fit with ``FeatureMap(...).fit(X)``; ``transform`` / ``inverse`` between the spaces.

    Example
    -------
    >>> X = np.c_[np.arange(100) % 3, np.random.default_rng(0).exponential(size=100)]
    >>> fm = FeatureMap(continuous="quantile").fit(X)
    >>> back = fm.inverse(fm.transform(X) + 0.01)
    >>> bool(np.array_equal(back[:, 0], X[:, 0]))        # discrete column snapped to its levels
    True
    """

    def __init__(self, continuous: str = "standard", max_levels: int = 50, n_quantiles: int = 1000):
        if continuous not in ("standard", "quantile"):
            raise ValueError(f"continuous must be 'standard' or 'quantile', got {continuous!r}")
        self.continuous = continuous
        self.max_levels = int(max_levels)
        self.n_quantiles = int(n_quantiles)

    def fit(self, X: np.ndarray) -> "FeatureMap":
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        self.kind_ = np.zeros(d, dtype=np.int64)
        self.mean_, self.std_ = X.mean(axis=0), X.std(axis=0)
        self.std_ = np.where(self.std_ > 1e-12, self.std_, 1.0)
        self.levels_ = np.full((self.max_levels, d), np.nan)
        self.step_ = np.zeros(d)
        probs = np.linspace(0.0, 1.0, min(self.n_quantiles, n))
        self.quantiles_ = np.quantile(X, probs, axis=0)
        self.lo_, self.hi_ = X.min(axis=0), X.max(axis=0)
        for j in range(d):
            v = np.unique(X[:, j])
            if len(v) <= self.max_levels:
                self.levels_[: len(v), j] = v
                self.kind_[j] = SET
                if len(v) >= 2:
                    gaps = np.diff(v)
                    step = gaps.min()
                    if np.allclose(gaps / step, np.round(gaps / step), atol=1e-6):
                        self.kind_[j], self.step_[j] = LATTICE, step
        return self

    def _quantile_cols(self) -> np.ndarray:
        if self.continuous != "quantile":
            return np.zeros(len(self.kind_), dtype=bool)
        return self.kind_ == CONTINUOUS

    def transform(self, X: np.ndarray) -> np.ndarray:
        from scipy.stats import norm

        X = np.asarray(X, dtype=np.float64)
        Z = (X - self.mean_) / self.std_
        probs = np.linspace(0.0, 1.0, len(self.quantiles_))
        for j in np.flatnonzero(self._quantile_cols()):
            q = self.quantiles_[:, j]
            # average of the forward and backward interpolation handles repeated quantiles
            u = 0.5 * (np.interp(X[:, j], q, probs) - np.interp(-X[:, j], -q[::-1], -probs[::-1]))
            Z[:, j] = norm.ppf(np.clip(u, 1e-7, 1 - 1e-7))
        return Z

    def inverse(self, Z: np.ndarray, clip: bool = True, raw=None) -> np.ndarray:
        """Back to the user's units; discrete columns snapped to their levels. ``clip`` keeps every
        value inside the training range (for normal samples); without it, discrete lattices extend
        by whole steps and continuous values are free (for anomalies). ``raw`` (a bool per column):
        columns given back on the continuous scale, neither snapped nor clipped, for a decoder that
        reads them as scores (the one-hot columns of a table encoder: snapped one by one, a group
        could hold two ones or none)."""
        from scipy.stats import norm

        Z = np.asarray(Z, dtype=np.float64)
        X = Z * self.std_ + self.mean_
        linear = X.copy() if raw is not None else None
        probs = np.linspace(0.0, 1.0, len(self.quantiles_))
        for j in np.flatnonzero(self._quantile_cols()):
            X[:, j] = np.interp(norm.cdf(Z[:, j]), probs, self.quantiles_[:, j])
            if not clip:  # beyond the last quantile: continue linearly in standardised units
                hi, lo = Z[:, j] > norm.ppf(1 - 1e-7), Z[:, j] < norm.ppf(1e-7)
                X[hi, j] = self.hi_[j] + (Z[hi, j] - norm.ppf(1 - 1e-7)) * self.std_[j]
                X[lo, j] = self.lo_[j] + (Z[lo, j] - norm.ppf(1e-7)) * self.std_[j]
        for j in np.flatnonzero(self.kind_ != CONTINUOUS):
            v = self.levels_[:, j][~np.isnan(self.levels_[:, j])]
            x = X[:, j]
            if self.kind_[j] == LATTICE and not clip:
                X[:, j] = v[0] + np.round((x - v[0]) / self.step_[j]) * self.step_[j]
                continue
            if len(v) == 1:
                X[:, j] = v[0]
                continue
            idx = np.clip(np.searchsorted(v, x), 1, len(v) - 1)
            left, right = v[idx - 1], v[idx]
            X[:, j] = np.where(np.abs(x - left) <= np.abs(right - x), left, right)
        if clip:
            X = np.clip(X, self.lo_, self.hi_)
        if raw is not None:
            keep = np.asarray(raw, dtype=bool)
            X[:, keep] = linear[:, keep]
        return X

    def state(self) -> dict:
        """Arrays for a safetensors file."""
        return {"kind": self.kind_, "mean": self.mean_, "std": self.std_, "levels": self.levels_, "step": self.step_,
                "quantiles": self.quantiles_, "lo": self.lo_, "hi": self.hi_}

    @classmethod
    def from_state(cls, continuous: str, arrays: dict) -> "FeatureMap":
        fm = cls(continuous=continuous, max_levels=arrays["levels"].shape[0], n_quantiles=arrays["quantiles"].shape[0])
        fm.kind_ = np.asarray(arrays["kind"]).astype(np.int64)
        for name in ("mean", "std", "levels", "step", "quantiles", "lo", "hi"):
            setattr(fm, name + "_", np.asarray(arrays[name], dtype=np.float64))
        d = len(fm.kind_)
        if any(getattr(fm, a + "_").shape[-1] != d for a in ("mean", "std", "levels", "quantiles", "lo", "hi")):
            raise ValueError("feature map arrays disagree on the feature count")
        return fm
