"""Subspace evidence for windows: Sub-PCA's score (TSB-AD's ``Sub_PCA``, PyOD's PCA formula) as a
small fitted object, so a detector can add it to other evidence.

Columns are standardised with the training rows' mean and deviation; columns constant in training
are dropped (TSB-AD's ``zero_pruning``); PCA with every component; a row's score is
``sum_j ||x - v_j|| / r_j`` over the principal axes ``v_j`` (unit vectors) weighted by their
explained-variance ratios ``r_j``, so departures along the minor axes of the training windows weigh
most. Distances go through one matrix product (``||x||^2 - 2 x.v_j + 1``).

Example
-------
>>> rng = np.random.default_rng(0)
>>> W = rng.normal(size=(300, 2)) @ np.array([[1.0, 1.0], [0.1, -0.1]])
>>> sub = WindowSubspace().fit(W)
>>> bool(sub.score(np.array([[1.0, -1.0]]))[0] > np.quantile(sub.score(W), 0.99))   # off the main axis
True
"""
from __future__ import annotations

import numpy as np
from sklearn.utils.extmath import svd_flip

__all__ = ["WindowSubspace", "NULL_RATIO"]

# an axis whose explained-variance ratio is at most this is one the training windows do not vary
# along (floating-point noise: ~1e-33); dividing by its ratio would swamp every other axis
NULL_RATIO = 1e-12


class WindowSubspace:
    """Sub-PCA evidence of rows (flattened windows); ``fit(W)``, ``score(W)``."""

    def fit(self, W: np.ndarray) -> "WindowSubspace":
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2 or len(W) < 2:
            raise ValueError(f"subspace evidence needs 2 or more rows (windows), got shape {W.shape}")
        self.mean_ = W.mean(axis=0)
        sd = W.std(axis=0)
        self.kept_ = sd > 1e-12
        self.scale_ = np.where(self.kept_, sd, 1.0)
        if not self.kept_.any():  # constant training windows: no direction to measure against
            self.components_, self.weights_ = np.zeros((0, 0)), np.zeros(0)
            return self
        X = self._prepare(W)
        X = X - X.mean(axis=0)
        u, s, vt = np.linalg.svd(X, full_matrices=False)
        # the score depends on each axis' sign (||x - v|| != ||x + v||): scikit-learn's convention,
        # as TSB-AD's Sub-PCA gets it from its PCA
        u, vt = svd_flip(u, vt, u_based_decision=False)
        var = s ** 2
        ratio = var / var.sum() if var.sum() > 0 else np.ones_like(var) / len(var)
        keep = ratio > NULL_RATIO  # axes with no variance would divide by 0 (TSB-AD gives them inf)
        self.components_, self.weights_ = vt[keep], ratio[keep]
        return self

    def _prepare(self, W: np.ndarray) -> np.ndarray:
        return ((np.asarray(W, dtype=np.float64) - self.mean_) / self.scale_)[:, self.kept_]

    def score(self, W: np.ndarray, batch: int = 65536) -> np.ndarray:
        """One score per row of ``W``, higher = further from the training windows' subspace."""
        if len(self.weights_) == 0:
            return np.zeros(len(W))
        out = np.empty(len(W))
        for i in range(0, len(W), batch):
            X = self._prepare(W[i:i + batch])
            sq = np.einsum("ij,ij->i", X, X)[:, None] - 2.0 * X @ self.components_.T + 1.0
            out[i:i + batch] = (np.sqrt(np.maximum(sq, 0.0)) / self.weights_).sum(axis=1)
        return out

    def state(self) -> dict:
        """Arrays to save (``from_state`` reads them back)."""
        return {"mean_": self.mean_, "scale_": self.scale_, "kept_": self.kept_.astype(np.uint8),
                "components_": self.components_, "weights_": self.weights_}

    @classmethod
    def from_state(cls, arrays: dict) -> "WindowSubspace":
        sub = cls()
        sub.mean_ = np.asarray(arrays["mean_"], dtype=np.float64)
        sub.scale_ = np.asarray(arrays["scale_"], dtype=np.float64)
        sub.kept_ = np.asarray(arrays["kept_"]).astype(bool)
        sub.components_ = np.asarray(arrays["components_"], dtype=np.float64)
        sub.weights_ = np.asarray(arrays["weights_"], dtype=np.float64)
        if sub.components_.shape[1:] not in ((int(sub.kept_.sum()),), (0,)) or len(sub.weights_) != len(sub.components_):
            raise ValueError("stored subspace components do not match their columns")
        return sub
