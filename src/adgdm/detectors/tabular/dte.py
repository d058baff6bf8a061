"""Diffusion time estimation detectors (DTE, Livernoche et al., ICLR 2024): ``dte-np``, ``dte-c``, ``dte-ig``.

A test row is read as a noisy sample ``x_0 + sigma_t eps`` of the normal data; its estimated
diffusion time is the anomaly score. ``dte-np`` computes the posterior from nearest training rows;
``dte-c`` and ``dte-ig`` train a network to predict the time of noised training rows.
"""
from __future__ import annotations

import numpy as np
import torch

from ...scores import dte_nonparametric_score, expected_time_from_logits, inverse_gamma_mean
from ...scores.knn import DedupKNN
from .._neural import NeuralDetector
from ..._params import store_params
from ..base import BaseDetector


class DTENonParametric(BaseDetector):
    """``dte-np``: posterior mean diffusion time from the ``n_neighbors`` nearest training rows.

    The reference code scores by the posterior mode (argmax over time), which saturates once the
    distance exceeds the grid; the posterior mean keeps ranking such rows apart.

    Example
    -------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> det = DTENonParametric().fit(X)
    >>> s = det.decision_function(np.array([[0.0, 0, 0], [6.0, 6, 6]]))
    >>> bool(s[1] > s[0])
    True
    """

    name = "dte-np"
    training_scores = "leave-one-out"

    def __init__(self, n_neighbors: int = 5, schedule: str = "linear", n_steps: int = 1000, max_time: float = 1.0,
                 standardize: bool = True, contamination: float = 0.1, n_jobs: int | None = None):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {self.n_neighbors}")
        if not 0 < self.max_time <= 1:
            raise ValueError(f"max_time must lie in (0, 1], got {self.max_time}")

    def _build(self, X):
        from ...diffusion import NoiseSchedule

        self.schedule_ = NoiseSchedule(self.schedule, self.n_steps)
        self.X_train_ = np.ascontiguousarray(X)
        self.knn_ = DedupKNN(self.X_train_, n_jobs=self.n_jobs)

    def _k(self, n_train: int, leave_one_out: bool) -> int:
        return max(1, min(int(self.n_neighbors), n_train - (1 if leave_one_out else 0)))

    def _fit(self, X):
        if X.shape[0] < 2:
            raise ValueError(f"dte-np needs at least 2 training rows, got {X.shape[0]} (n_samples={X.shape[0]})")
        self._build(X)
        dist = self.knn_.query_train_unique(self._k(X.shape[0], True))
        return self._from_dist(dist)[self.knn_.inverse]

    def _from_dist(self, dist):
        return dte_nonparametric_score(dist, self.n_features_in_, self.schedule_, self.max_time)

    def _score(self, X):
        dist, inv = self.knn_.query_unique(X, self._k(self.X_train_.shape[0], False))
        return self._from_dist(dist)[inv]

    def _get_state(self):
        return {}, {"X_train_": self.X_train_}

    def _set_state(self, meta, arrays):
        X = np.asarray(arrays["X_train_"], dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != int(meta["n_features_in_"]):
            raise ValueError("stored training rows do not match the feature count")
        self._build(X)


class _TimeNet(NeuralDetector):
    """Shared parts of ``dte-c`` and ``dte-ig``: noise training rows to a random time, learn to tell it."""

    _time_embedding = False

    def _fit(self, X):
        self.schedule_ = self._schedule()
        return super()._fit(X)

    def _t_max(self) -> int:
        return max(2, int(round(self.max_time * self.n_steps)))

    def _noised(self, x0, gen):
        s = self.schedule_ if hasattr(self, "schedule_") else self._schedule()
        t = torch.randint(0, self._t_max(), (x0.shape[0],), generator=gen)
        sigma = s.sigma_ve(t).to(x0.dtype).to(x0.device)
        eps = torch.randn(x0.shape, generator=gen).to(x0.device)
        return x0 + sigma[:, None] * eps, t.to(x0.device), sigma**2


# one example for both time predictors: a far row gets a later diffusion time
_EXAMPLE = """
    Example
    -------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 4))
    >>> det = {cls}(max_steps=200, random_state=0).fit(X)
    >>> s = det.decision_function(np.array([[0.0] * 4, [5.0] * 4]))
    >>> bool({check})
    True
"""


class DTECategorical(_TimeNet):
    __doc__ = """``dte-c``: a classifier over ``n_bins`` diffusion-time bins; the score is the posterior
    mean time under its softmax (a single softmax: the reference code applies two, which flattens it).

    """ + _EXAMPLE.format(cls="DTECategorical", check="s[1] > s[0]")

    name = "dte-c"

    def __init__(self, n_bins: int = 50, max_time: float = 0.5, schedule: str = "linear", n_steps: int = 1000,
                 width: int = 128, depth: int = 2, dropout: float = 0.0, epochs: int = 400,
                 max_steps: int | None = 1000, batch_size: int = 256, lr: float = 1e-3, val_fraction: float = 0.0,
                 patience: int = 10, ema_decay: float | None = None, max_train_samples: int | None = 100_000,
                 standardize: bool = True, contamination: float = 0.1, device: str = "cpu",
                 score_batch_size: int = 8192, random_state=None, verbose: bool = False):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        if int(self.n_bins) < 2:
            raise ValueError(f"n_bins must be >= 2, got {self.n_bins}")

    def _out_dim(self, d):
        return int(self.n_bins)

    def _bin_times(self) -> torch.Tensor:
        edges = np.linspace(0, self._t_max(), int(self.n_bins) + 1)
        return torch.as_tensor((edges[:-1] + edges[1:]) / 2, dtype=torch.float32)

    def _loss(self):
        t_max, n_bins = self._t_max(), int(self.n_bins)

        def loss(model, batch, gen):
            xt, t, _ = self._noised(batch[0], gen)
            target = (t * n_bins // t_max).clamp(max=n_bins - 1)
            return torch.nn.functional.cross_entropy(model(xt, None), target)

        return loss

    def _score(self, X):
        bins = self._bin_times().to(self.device_)
        return self._batched(lambda x, gen: expected_time_from_logits(self.net_(x, None), bins), X)


class DTEInverseGamma(_TimeNet):
    __doc__ = """``dte-ig``: the network gives an inverse-gamma posterior over the noise variance
    ``sigma^2``; the score is its mean ``beta / (alpha - 1)``, which is never negative.

    """ + _EXAMPLE.format(cls="DTEInverseGamma", check="s[1] > s[0] >= 0")

    name = "dte-ig"

    __init__ = DTECategorical.__init__

    def _out_dim(self, d):
        return 2

    def _params(self, out):
        alpha = 1.0 + 1e-3 + torch.nn.functional.softplus(out[:, 0])
        beta = torch.nn.functional.softplus(out[:, 1]) + 1e-6
        return alpha, beta

    def _loss(self):
        def loss(model, batch, gen):
            xt, _, s2 = self._noised(batch[0], gen)
            alpha, beta = self._params(model(xt, None))
            # negative log density of Inv-Gamma(alpha, beta) at the true sigma^2
            nll = -(alpha * beta.log() - torch.lgamma(alpha) - (alpha + 1) * s2.log() - beta / s2)
            return nll.mean()

        return loss

    def _score(self, X):
        return self._batched(lambda x, gen: inverse_gamma_mean(*self._params(self.net_(x, None))), X)
