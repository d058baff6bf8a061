"""Score norms of the noise-smoothed training distribution, computed exactly (no network).

For training rows ``x_i`` and noise ``sigma`` the smoothed density is ``p_sigma = mean_i N(x_i, sigma^2 I)``.
Its ideal denoiser is the posterior mean ``E[x_0 | x] = sum_i w_i x_i`` with
``w_i ~ exp(-||x - x_i||^2 / (2 sigma^2))``, and by Tweedie's formula
``||x - E[x_0 | x]||^2 = sigma^4 ||grad log p_sigma(x)||^2``: the reconstruction error of an ideal
one-step denoiser is the squared score norm. Restricting the sum to the ``k`` nearest rows keeps it cheap.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ideal_denoiser_error", "smoothed_nll"]


def ideal_denoiser_error(x: np.ndarray, dist: np.ndarray, idx: np.ndarray, weights: np.ndarray,
                         reference: np.ndarray, sigma2: float) -> np.ndarray:
    """``||x - E[x_0 | x]||^2`` per row at noise variance ``sigma2``.

    ``dist``, ``idx`` and ``weights`` are ``(n, k)``: distances to, row indices into ``reference``
    and multiplicities of each row's nearest reference rows. The posterior mean is a sparse
    ``(n, len(reference))`` weight matrix times ``reference``, so no ``(n, k, d)`` block is built.
    """
    from scipy.sparse import csr_matrix

    n, k = dist.shape
    logw = -(dist**2) / (2.0 * sigma2)
    logw = logw - logw.max(axis=1, keepdims=True)
    w = weights * np.exp(logw)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    W = csr_matrix((w.ravel(), np.asarray(idx).ravel(), np.arange(0, n * k + 1, k)), shape=(n, len(reference)))
    x_hat = W @ reference
    return ((x - x_hat) ** 2).sum(axis=1)


def smoothed_nll(dist: np.ndarray, weights: np.ndarray, sigma2: float) -> np.ndarray:
    """``-log p_sigma(x)`` up to a constant: the noise-smoothed training density at ``x`` (a Gaussian
    kernel density over the nearest rows, duplicates counted by ``weights``).

    The score norm vanishes at every local mode of ``p_sigma``, including a rare training value that
    an anomaly happens to share; the density there is still low, and this term says so.
    """
    logw = -(dist**2) / (2.0 * sigma2)
    top = logw.max(axis=1)
    return -(top + np.log(np.maximum((weights * np.exp(logw - top[:, None])).sum(axis=1), 1e-300)))
