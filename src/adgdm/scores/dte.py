"""Diffusion time estimation (DTE, Livernoche et al., ICLR 2024).

A clean test point is read as a noisy sample ``x_0 + sigma_t eps`` of the training data; the more
diffusion time it takes to explain it, the more anomalous it is. All three scores here are
continuous and non-negative, unlike the reference code (argmax posterior that saturates, a double
softmax, a possibly negative inverse-gamma score).
"""
from __future__ import annotations

import numpy as np
import torch

from ..diffusion import NoiseSchedule

__all__ = ["dte_nonparametric_score", "dte_time_grid", "expected_time_from_logits", "inverse_gamma_mean"]


def dte_time_grid(schedule: NoiseSchedule, max_time: float = 1.0, n_grid: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n_grid`` timesteps evenly spread over ``1 .. T_max`` and their VE noise variances
    ``sigma_t^2`` (a coarser grid than every step changes the posterior mean very little and is cheaper)."""
    t_max = max(1, int(round(max_time * schedule.n_steps)))
    ts = np.unique(np.linspace(0, t_max - 1, min(t_max, n_grid)).round().astype(int))
    return ts.astype(np.float64) + 1.0, schedule.sigma_ve(torch.as_tensor(ts)).numpy() ** 2


def dte_nonparametric_score(knn_dist: np.ndarray, n_features: int, schedule: NoiseSchedule,
                            max_time: float = 1.0, chunk: int = 4096) -> np.ndarray:
    """Posterior mean diffusion time given distances to the ``k`` nearest training points.

    With the training set as the data distribution, ``p(x | t) = mean_i N(x; x_i, sigma_t^2 I)``,
    approximated by the ``k`` nearest ``x_i``; the prior over ``t`` is uniform. ``knn_dist`` has
    shape ``(n, k)``. The posterior *mean* keeps ranking far points apart where the mode saturates.
    """
    ts, s2 = dte_time_grid(schedule, max_time)
    d2 = np.asarray(knn_dist, dtype=np.float64) ** 2
    out = np.empty(d2.shape[0])
    log_norm = -0.5 * n_features * np.log(2 * np.pi * s2)
    for i in range(0, d2.shape[0], chunk):
        block = d2[i : i + chunk]
        # log-sum-exp over neighbours, anchored at the nearest one (the largest term)
        nearest = block.min(axis=1, keepdims=True)
        gaps = (block - nearest)[:, :, None] / (2 * s2[None, None, :])
        ll = -nearest / (2 * s2[None, :]) + np.log(np.exp(-gaps).sum(axis=1)) + log_norm[None, :]
        ll -= ll.max(axis=1, keepdims=True)
        p = np.exp(ll)
        out[i : i + chunk] = (p @ ts) / p.sum(axis=1)
    return out


def expected_time_from_logits(logits: torch.Tensor, bin_times: torch.Tensor) -> torch.Tensor:
    """Posterior mean time from a classifier's logits over time bins (one softmax, not two)."""
    return torch.softmax(logits, dim=-1) @ bin_times.to(logits.dtype)


def inverse_gamma_mean(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Mean ``beta / (alpha - 1)`` of an inverse-gamma over ``sigma^2``; needs ``alpha > 1``, always >= 0."""
    return beta / (alpha - 1.0)
