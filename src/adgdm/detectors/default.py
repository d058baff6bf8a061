"""``diffusion``: the recommended default. Multi-scale score norms of the noise-smoothed training
distribution, computed exactly from the nearest training rows (no network to train)."""
from __future__ import annotations

import numpy as np

from ..diffusion import NoiseSchedule
from ..scores import ideal_denoiser_error, smoothed_nll
from ._knn import DedupKNN
from .base import BaseDetector


class DiffusionDetector(BaseDetector):
    """Recommended default: reconstruction by the *ideal* denoiser of the normal data.

    A row is read as a noisy sample at each level of ``noise_levels`` (fractions of a DDPM chain of
    ``n_steps``); the ideal denoiser of the training rows (the posterior mean ``E[x_0 | x]``, over the
    ``n_neighbors`` nearest rows) reconstructs it; the squared error equals
    ``sigma^4 ||grad log p_sigma(x)||^2`` (Tweedie), a score norm. As a score norm is zero at every
    local mode of ``p_sigma`` (an anomaly that shares a rare training value), the smoothed negative
    log-likelihood ``-log p_sigma(x)`` at the same level joins it. Both, at every level, are
    combined after a robust z-score against the training rows' own (leave-one-out) values.

    Why the default: fitted on normal rows (ADBench's semi-supervised protocol) it is the most
    accurate detector here, it needs no training, costs about one k-nearest-neighbour search and is
    deterministic (see README, "Benchmarks"). Fitted on rows that hold many anomalies (the
    unsupervised protocol) it is weaker: clustered anomalies vouch for each other at small noise
    levels, and PyOD's isolation forest does better there.

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)          # y == 0: malignant
    >>> det = DiffusionDetector().fit(X[y == 1][:200])
    >>> s = det.decision_function(X)
    >>> bool(s[y == 0].mean() > s[y == 1].mean())
    True
    """

    name = "diffusion"

    def __init__(self, n_neighbors: int = 50, noise_levels: tuple = (0.1, 0.2, 0.3), schedule: str = "linear",
                 n_steps: int = 1000, standardize: bool = True, contamination: float = 0.1,
                 n_jobs: int | None = None, chunk_size: int = 2048):
        self.n_neighbors = n_neighbors
        self.noise_levels = noise_levels
        self.schedule = schedule
        self.n_steps = n_steps
        self.standardize = standardize
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    def _check_params(self):
        super()._check_params()
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {self.n_neighbors}")
        levels = np.atleast_1d(np.asarray(self.noise_levels, dtype=float))
        if levels.size == 0 or (levels <= 0).any() or (levels > 1).any():
            raise ValueError(f"noise_levels must be fractions in (0, 1], got {self.noise_levels}")

    def _build(self, X):
        sched = NoiseSchedule(self.schedule, self.n_steps)
        ts = [sched.t_from_fraction(f) for f in np.atleast_1d(np.asarray(self.noise_levels, dtype=float))]
        self.sigma2_ = np.array([float(sched.sigma_ve(t)) ** 2 for t in ts])
        self.X_train_ = np.ascontiguousarray(X)
        self.knn_ = DedupKNN(self.X_train_, n_jobs=self.n_jobs)

    def _fit(self, X):
        if X.shape[0] < 2:
            raise ValueError(f"diffusion needs at least 2 training rows, got {X.shape[0]}")
        self._build(X)
        raw = self._raw(self.knn_.unique, exclude_self=True)[self.knn_.inverse]
        self._set_norm(raw)
        return self._combine(raw)

    def _features(self, raw):
        """Errors enter on a log scale (they span decades); the NLL is a log already."""
        L = len(self.sigma2_)
        return np.concatenate([np.log(raw[:, :L] + 1e-12), raw[:, L:]], axis=1)

    def _set_norm(self, raw):
        f = self._features(raw)
        self.norm_center_ = np.median(f, axis=0)
        spread = np.subtract(*np.percentile(f, [75, 25], axis=0))
        self.norm_scale_ = np.where(spread > 1e-12, spread, 1.0)

    def _combine(self, raw):
        return ((self._features(raw) - self.norm_center_) / self.norm_scale_).mean(axis=1)

    def _raw(self, Q, exclude_self=False):
        """``(n, 2 * n_levels)``: ideal-denoiser errors, then smoothed NLLs, of the rows ``Q``."""
        L = len(self.sigma2_)
        out = np.empty((len(Q), 2 * L))
        for i in range(0, len(Q), int(self.chunk_size)):
            q = Q[i : i + int(self.chunk_size)]
            dist, idx, counts = self.knn_.neighbours(q, int(self.n_neighbors), exclude_self)
            for j, s2 in enumerate(self.sigma2_):
                out[i : i + len(q), j] = ideal_denoiser_error(q, dist, idx, counts, self.knn_.unique, s2)
                out[i : i + len(q), L + j] = smoothed_nll(dist, counts, s2)
        return out

    def _score(self, X):
        uq, inv = np.unique(X, axis=0, return_inverse=True)
        return self._combine(self._raw(uq))[inv.ravel()]

    def _get_state(self):
        return {}, {"X_train_": self.X_train_, "norm_center_": self.norm_center_, "norm_scale_": self.norm_scale_}

    def _set_state(self, meta, arrays):
        X = np.asarray(arrays["X_train_"], dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != int(meta["n_features_in_"]):
            raise ValueError("stored training rows do not match the feature count")
        self._build(X)
        self.norm_center_, self.norm_scale_ = arrays["norm_center_"], arrays["norm_scale_"]
        if self.norm_center_.shape != (2 * len(self.sigma2_),):
            raise ValueError("stored normalisation does not match noise_levels")
