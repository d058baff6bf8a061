"""``diffusion``: the recommended default. Multi-scale score norms of the noise-smoothed training
distribution, computed exactly from the nearest training rows and per feature (no network to train)."""
from __future__ import annotations

import numpy as np

from ...diffusion import NoiseSchedule
from ...scores import MarginalSmoothedNLL, ideal_denoiser_error, smoothed_nll
from ...scores.knn import DedupKNN
from ..base import BaseDetector


class DiffusionDetector(BaseDetector):
    """Recommended default: reconstruction by the *ideal* denoiser of the normal data, at three scales.

    A row is read as a noisy sample at a noise level (a fraction of a DDPM chain of ``n_steps``);
    the ideal denoiser of the training rows (the posterior mean ``E[x_0 | x]`` over the nearest rows)
    reconstructs it. The squared error equals ``sigma^4 ||grad log p_sigma(x)||^2`` (Tweedie), a
    score norm; as it vanishes at every local mode of ``p_sigma``, the smoothed negative
    log-likelihood ``-log p_sigma(x)`` joins it. Three blocks of this evidence, each a robust z-score
    against the training rows' own leave-one-out values:

    * fine: ``noise_levels`` over the ``n_neighbors`` nearest rows, the mean z (two-sided: a row that
      reconstructs better than the training rows counts as normal);
    * coarse: ``coarse_levels`` over ``coarse_neighbors`` rows, the mean of the positive parts.
      Large noise looks past small clusters of anomalies that vouch for each other;
    * marginal: the per-feature smoothed NLL at noise ``marginal_sigma`` (in standard deviations),
      summed over features, positive part: a value outside one feature's range.

    The score is ``max(fine, coarse_weight * coarse, coarse_weight * marginal)``: the coarse and
    marginal blocks speak when their evidence is at least ``1 / coarse_weight`` times stronger.

    Why the default: on ADBench it is the most accurate detector here both fitted on normal rows
    (semi-supervised) and on rows that hold the anomalies (unsupervised), it needs no training,
    costs about one k-nearest-neighbour search and is deterministic (README, "Benchmarks").

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

    def __init__(self, n_neighbors: int = 10, noise_levels: tuple = (0.1, 0.2, 0.3),
                 coarse_neighbors: int = 200, coarse_levels: tuple = (0.3, 0.5, 0.7, 0.9),
                 marginal_sigma: float = 0.1, coarse_weight: float = 0.5, schedule: str = "linear",
                 n_steps: int = 1000, standardize: bool = True, contamination: float = 0.1,
                 n_jobs: int | None = None, chunk_size: int = 2048, knn_backend: str = "sklearn"):
        self.knn_backend = knn_backend
        self.n_neighbors = n_neighbors
        self.noise_levels = noise_levels
        self.coarse_neighbors = coarse_neighbors
        self.coarse_levels = coarse_levels
        self.marginal_sigma = marginal_sigma
        self.coarse_weight = coarse_weight
        self.schedule = schedule
        self.n_steps = n_steps
        self.standardize = standardize
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    def _check_params(self):
        super()._check_params()
        for name in ("n_neighbors", "coarse_neighbors"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("noise_levels", "coarse_levels"):
            levels = np.atleast_1d(np.asarray(getattr(self, name), dtype=float))
            if levels.size == 0 or (levels <= 0).any() or (levels > 1).any():
                raise ValueError(f"{name} must be fractions in (0, 1], got {getattr(self, name)}")
        if not float(self.marginal_sigma) > 0:
            raise ValueError(f"marginal_sigma must be > 0, got {self.marginal_sigma}")
        if not float(self.coarse_weight) >= 0:
            raise ValueError(f"coarse_weight must be >= 0, got {self.coarse_weight}")

    def _build(self, X):
        sched = NoiseSchedule(self.schedule, self.n_steps)

        def variances(levels):
            ts = [sched.t_from_fraction(f) for f in np.atleast_1d(np.asarray(levels, dtype=float))]
            return np.array([float(sched.sigma_ve(t)) ** 2 for t in ts])

        self.sigma2_ = variances(self.noise_levels)
        self.coarse_sigma2_ = variances(self.coarse_levels)
        self.X_train_ = np.ascontiguousarray(X)
        self.knn_ = DedupKNN(self.X_train_, n_jobs=self.n_jobs, backend=self.knn_backend)
        self.marginal_ = MarginalSmoothedNLL(self.X_train_, float(self.marginal_sigma))

    def _fit(self, X):
        if X.shape[0] < 2:
            raise ValueError(f"diffusion needs at least 2 training rows, got {X.shape[0]}")
        self._build(X)
        raw = self._raw(self.knn_.unique, exclude_self=True)[self.knn_.inverse]
        raw[:, -1] = self.marginal_.nll(X, leave_one_out=True).sum(axis=1)
        f = self._features(raw)
        self.norm_center_ = np.median(f, axis=0)
        spread = np.subtract(*np.percentile(f, [75, 25], axis=0))
        self.norm_scale_ = np.where(spread > 1e-12, spread, 1.0)
        return self._combine(raw)

    def _features(self, raw):
        """Score norms enter on a log scale (they span decades); NLLs are logs already."""
        f = raw.copy()
        L, C = len(self.sigma2_), len(self.coarse_sigma2_)
        for a, b in ((0, L), (2 * L, 2 * L + C)):
            f[:, a:b] = np.log(raw[:, a:b] + 1e-12)
        return f

    def _combine(self, raw):
        z = (self._features(raw) - self.norm_center_) / self.norm_scale_
        L, C = len(self.sigma2_), len(self.coarse_sigma2_)
        fine = z[:, : 2 * L].mean(axis=1)
        coarse = np.maximum(z[:, 2 * L : 2 * L + 2 * C], 0).mean(axis=1)
        marginal = np.maximum(z[:, -1], 0)
        w = float(self.coarse_weight)
        return np.maximum(fine, w * np.maximum(coarse, marginal))

    def _raw(self, Q, exclude_self=False):
        """``(n, 2 L + 2 C + 1)``: fine errors and NLLs, coarse errors and NLLs, then the marginal
        NLL (filled here for new rows; ``_fit`` fills the leave-one-out value of training rows)."""
        L, C = len(self.sigma2_), len(self.coarse_sigma2_)
        extra = 1 if exclude_self else 0
        k_fine, k_coarse = int(self.n_neighbors) + extra, int(self.coarse_neighbors) + extra
        out = np.empty((len(Q), 2 * L + 2 * C + 1))
        for i in range(0, len(Q), int(self.chunk_size)):
            q = Q[i : i + int(self.chunk_size)]
            rows = slice(i, i + len(q))
            dist, idx, counts = self.knn_.neighbours(q, max(int(self.n_neighbors), int(self.coarse_neighbors)),
                                                     exclude_self)
            blocks = ((0, self.sigma2_, (dist[:, :k_fine], idx[:, :k_fine], counts[:, :k_fine])),
                      (2 * L, self.coarse_sigma2_, (dist[:, :k_coarse], idx[:, :k_coarse], counts[:, :k_coarse])))
            for start, sigma2, (d, ix, c) in blocks:
                n_lev = len(sigma2)
                for j, s2 in enumerate(sigma2):
                    out[rows, start + j] = ideal_denoiser_error(q, d, ix, c, self.knn_.unique, s2)
                    out[rows, start + n_lev + j] = smoothed_nll(d, c, s2)
            out[rows, -1] = self.marginal_.nll(q).sum(axis=1)
        return out

    def _score(self, X):
        uq, inv = np.unique(X, axis=0, return_inverse=True)
        return self._combine(self._raw(uq))[inv.ravel()]

    def feature_residuals(self, X) -> np.ndarray:
        """``(n, d)`` squared residual ``(z - E[x_0 | z])^2`` per feature of the model-space rows
        ``X`` (standardised when ``standardize``), at the fine noise levels (``n_neighbors`` rows),
        averaged over the levels: what ``explain`` reports for this detector."""
        from ...scores import ideal_denoiser_residual

        k, step = int(self.n_neighbors), int(self.chunk_size)
        out = np.empty(X.shape)
        for i in range(0, len(X), step):
            q = X[i : i + step]
            dist, idx, counts = self.knn_.neighbours(q, k)
            res = [ideal_denoiser_residual(q, dist, idx, counts, self.knn_.unique, s2) for s2 in self.sigma2_]
            out[i : i + len(q)] = np.mean(res, axis=0)
        return out

    def _explain_model(self, arr):
        return self.feature_residuals(self._transform(arr))

    def _get_state(self):
        return {}, {"X_train_": self.X_train_, "norm_center_": self.norm_center_, "norm_scale_": self.norm_scale_}

    def _set_state(self, meta, arrays):
        X = np.asarray(arrays["X_train_"], dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != int(meta["n_features_in_"]):
            raise ValueError("stored training rows do not match the feature count")
        self._build(X)
        self.norm_center_, self.norm_scale_ = arrays["norm_center_"], arrays["norm_scale_"]
        n = 2 * len(self.sigma2_) + 2 * len(self.coarse_sigma2_) + 1
        if self.norm_center_.shape != (n,) or self.norm_scale_.shape != (n,):
            raise ValueError("stored normalisation does not match noise_levels and coarse_levels")
