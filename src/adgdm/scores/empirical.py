"""Score norms of the noise-smoothed training distribution, computed exactly (no network).

For training rows ``x_i`` and noise ``sigma`` the smoothed density is ``p_sigma = mean_i N(x_i, sigma^2 I)``.
Its ideal denoiser is the posterior mean ``E[x_0 | x] = sum_i w_i x_i`` with
``w_i ~ exp(-||x - x_i||^2 / (2 sigma^2))``, and by Tweedie's formula
``||x - E[x_0 | x]||^2 = sigma^4 ||grad log p_sigma(x)||^2``: the reconstruction error of an ideal
one-step denoiser is the squared score norm. Restricting the sum to the ``k`` nearest rows keeps it cheap.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ideal_denoiser_error", "ideal_denoiser_residual", "posterior_mean", "smoothed_nll", "MarginalSmoothedNLL",
           "observed_distances", "impute_blanks"]


def ideal_denoiser_error(x: np.ndarray, dist: np.ndarray, idx: np.ndarray, weights: np.ndarray,
                         reference: np.ndarray, sigma2: float) -> np.ndarray:
    """``||x - E[x_0 | x]||^2`` per row at noise variance ``sigma2``.

    ``dist``, ``idx`` and ``weights`` are ``(n, k)``: distances to, row indices into ``reference``
    and multiplicities of each row's nearest reference rows. The posterior mean is a sparse
    ``(n, len(reference))`` weight matrix times ``reference``, so no ``(n, k, d)`` block is built.
    """
    return ideal_denoiser_residual(x, dist, idx, weights, reference, sigma2).sum(axis=1)


def ideal_denoiser_residual(x: np.ndarray, dist: np.ndarray, idx: np.ndarray, weights: np.ndarray,
                            reference: np.ndarray, sigma2: float) -> np.ndarray:
    """``(x - E[x_0 | x])^2`` per row and feature, ``(n, d)``: the terms that
    :func:`ideal_denoiser_error` sums (arguments as there). Which features the ideal denoiser had
    to move, and how far, explains the error.

    Example
    -------
    >>> ref = np.array([[0.0, 0.0], [0.0, 1.0]])
    >>> x = np.array([[3.0, 0.0]])
    >>> d = np.sqrt(((x[:, None] - ref[None]) ** 2).sum(-1))
    >>> ideal_denoiser_residual(x, d, np.array([[0, 1]]), np.ones((1, 2)), ref, 1e-4).round(6)
    array([[9., 0.]])
    """
    return (x - posterior_mean(dist, idx, weights, reference, sigma2)) ** 2


def posterior_mean(dist: np.ndarray, idx: np.ndarray, weights: np.ndarray, reference: np.ndarray,
                   sigma2: float) -> np.ndarray:
    """``E[x_0 | x]`` per row, ``(n, d)``: the Gaussian-weighted mean of each row's nearest
    ``reference`` rows (arguments as :func:`ideal_denoiser_error`)."""
    from scipy.sparse import csr_matrix

    n, k = dist.shape
    logw = -(dist**2) / (2.0 * sigma2)
    logw = logw - logw.max(axis=1, keepdims=True)
    w = weights * np.exp(logw)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    W = csr_matrix((w.ravel(), np.asarray(idx).ravel(), np.arange(0, n * k + 1, k)), shape=(n, len(reference)))
    return W @ reference


def smoothed_nll(dist: np.ndarray, weights: np.ndarray, sigma2: float) -> np.ndarray:
    """``-log p_sigma(x)`` up to a constant: the noise-smoothed training density at ``x`` (a Gaussian
    kernel density over the nearest rows, duplicates counted by ``weights``).

    The score norm vanishes at every local mode of ``p_sigma``, including a rare training value that
    an anomaly happens to share; the density there is still low, and this term says so.
    """
    logw = -(dist**2) / (2.0 * sigma2)
    top = logw.max(axis=1)
    return -(top + np.log(np.maximum((weights * np.exp(logw - top[:, None])).sum(axis=1), 1e-300)))


class MarginalSmoothedNLL:
    """Per-feature ``-log p_sigma(x_j)``: each feature's training values smoothed by noise of standard
    deviation ``sigma`` (a 1-D Gaussian kernel density), read on a fine grid.

    The joint terms above see distances only, so a value far outside one feature's training range
    but close in the other features' distance barely moves them; the marginal density does notice
    (isolation forests and ECOD live on this evidence).

    ``nll(Q)`` is ``(n, d)``; ``nll(X_train, leave_one_out=True)`` removes each row's own kernel.

    Example
    -------
    >>> m = MarginalSmoothedNLL(np.random.default_rng(0).normal(size=(500, 2)), sigma=0.1)
    >>> bool(m.nll(np.array([[0.0, 0.0]]))[0, 0] < m.nll(np.array([[5.0, 0.0]]))[0, 0])
    True
    """

    max_bins = 200_000

    def __init__(self, X: np.ndarray, sigma: float):
        from scipy.ndimage import gaussian_filter1d

        X = np.asarray(X, dtype=np.float64)
        self.n, self.sigma = len(X), float(sigma)
        self.grids, self.densities = [], []
        for col in X.T:
            lo, hi = col.min() - 5 * sigma, col.max() + 5 * sigma
            n_bins = int(min(max(512, np.ceil((hi - lo) / (sigma / 4))), self.max_bins))
            grid = np.linspace(lo, hi, n_bins)
            width = grid[1] - grid[0]
            # linear binning: each value splits its unit mass between the two grid points around it
            u = (col - lo) / width
            i = np.minimum(np.floor(u).astype(np.int64), n_bins - 2)
            frac = u - i
            mass = np.bincount(i, 1 - frac, n_bins) + np.bincount(i + 1, frac, n_bins)
            dens = gaussian_filter1d(mass, sigma / width, mode="constant", truncate=5.0) / (self.n * width)
            self.grids.append(grid)
            self.densities.append(dens)

    def nll(self, Q: np.ndarray, leave_one_out: bool = False) -> np.ndarray:
        Q = np.asarray(Q, dtype=np.float64)
        out = np.empty(Q.shape)
        self_kernel = 1.0 / (np.sqrt(2 * np.pi) * self.sigma)
        floor = 1e-300
        for j, (grid, dens) in enumerate(zip(self.grids, self.densities)):
            p = np.interp(Q[:, j], grid, dens, left=0.0, right=0.0)
            if leave_one_out and self.n > 1:
                p = (self.n * p - self_kernel) / (self.n - 1)
            gap = np.maximum(grid[0] - Q[:, j], Q[:, j] - grid[-1]).clip(min=0) + 5 * self.sigma
            outside = (Q[:, j] < grid[0]) | (Q[:, j] > grid[-1])
            # beyond the grid: the density of the one extreme training value, as a Gaussian tail
            tail = 0.5 * (gap / self.sigma) ** 2 + np.log(self.n * np.sqrt(2 * np.pi) * self.sigma)
            out[:, j] = np.where(outside, tail, -np.log(np.maximum(p, floor)))
        return out

    def nll_jackknife(self, X: np.ndarray) -> np.ndarray:
        """``(n, d)``: for each of the rows ``X`` this density was built from (in order), the
        per-feature NLL that :meth:`nll` gives a new row with its values when the density holds
        the other ``n - 1`` rows: the row's own binned and smoothed mass is taken out exactly
        (``nll(leave_one_out=True)`` subtracts an unbinned kernel, which can leave a negative
        density), and beyond the others' range the Gaussian tail is read from their extremes."""
        X = np.asarray(X, dtype=np.float64)
        n, sig = self.n, self.sigma
        if X.shape[0] != n or n < 2:
            raise ValueError(f"nll_jackknife needs the {n} rows (n >= 2) the density was built from")
        out = np.empty(X.shape)
        for j, (grid, dens) in enumerate(zip(self.grids, self.densities)):
            col = X[:, j]
            width = grid[1] - grid[0]
            s = sig / width
            r = int(5.0 * s + 0.5)  # scipy's gaussian_filter1d kernel, truncate=5.0
            g = np.exp(-0.5 * (np.arange(-r, r + 1) / s) ** 2)
            g /= g.sum()
            g0, g1 = g[r], (g[r + 1] if r >= 1 else 0.0)
            u = (col - grid[0]) / width
            b = np.minimum(np.floor(u), len(grid) - 2)
            f = u - b
            # the row's own linear-binned mass, smoothed, read back at its value by interpolation
            own = (g0 * ((1 - f) ** 2 + f**2) + 2 * f * (1 - f) * g1) / (n * width)
            p = np.interp(col, grid, dens, left=0.0, right=0.0)
            others = np.maximum(p - own, 0.0) * n / (n - 1)
            # exactly 0 (as nll reads it) where no other row's mass reaches the row's two bins:
            # what the subtraction leaves there is rounding
            sb = np.sort(b)
            pos = np.searchsorted(sb, b)  # first index of each row's bin (ties: another row there)
            ties = np.searchsorted(sb, b, side="right") - pos > 1
            prev = np.where(pos > 0, b - sb[np.maximum(pos - 1, 0)], np.inf)
            nxt_i = np.searchsorted(sb, b, side="right")
            nxt = np.where(nxt_i < n, sb[np.minimum(nxt_i, n - 1)] - b, np.inf)
            others[~ties & (np.minimum(prev, nxt) > r + 1)] = 0.0
            order = np.argsort(col, kind="stable")
            lo = np.full(n, col[order[0]])
            lo[order[0]] = col[order[1]]
            hi = np.full(n, col[order[-1]])
            hi[order[-1]] = col[order[-2]]
            lo, hi = lo - 5 * sig, hi + 5 * sig
            outside = (col < lo) | (col > hi)
            gap = np.maximum(lo - col, col - hi).clip(min=0) + 5 * sig
            tail = 0.5 * (gap / sig) ** 2 + np.log((n - 1) * np.sqrt(2 * np.pi) * sig)
            out[:, j] = np.where(outside, tail, -np.log(np.maximum(others, 1e-300)))
        return out


def observed_distances(Q: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``(n, m)`` squared distances between rows with blanks (NaN): the sum of squared differences
    over the cells both rows observe, times ``d / n_shared`` (so rows that share few cells are on
    the full-row scale); ``inf`` where they share none.

    Example
    -------
    >>> observed_distances(np.array([[1.0, np.nan]]), np.array([[0.0, 5.0], [np.nan, 1.0]]))
    array([[ 2., inf]])
    """
    mq, mr = ~np.isnan(Q), ~np.isnan(ref)
    q0, r0 = np.where(mq, Q, 0.0), np.where(mr, ref, 0.0)
    fq, fr = mq.astype(np.float64), mr.astype(np.float64)
    shared = fq @ fr.T
    ss = (q0**2) @ fr.T + fq @ (r0**2).T - 2.0 * (q0 @ r0.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(shared > 0, np.maximum(ss, 0.0) * Q.shape[1] / np.maximum(shared, 1.0), np.inf)


def _kernel_weights(d2: np.ndarray, counts: np.ndarray, sigma2: float) -> np.ndarray:
    """Posterior weights ``counts * exp(-d2 / (2 sigma2))`` of each row's neighbours, normalised."""
    logw = -d2 / (2.0 * sigma2)
    top = np.max(logw, axis=1, keepdims=True)
    w = counts * np.exp(logw - np.where(np.isfinite(top), top, 0.0))
    w = np.where(np.isfinite(d2), w, 0.0)
    return w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)


def impute_blanks(Q: np.ndarray, ref: np.ndarray, sigma2: float, k: int, counts: np.ndarray | None = None,
                  self_index: np.ndarray | None = None, draws: int = 0, chunk: int = 512) -> np.ndarray:
    """The blank (NaN) cells of ``Q`` filled by the ideal denoiser of the reference rows ``ref``
    at noise variance ``sigma2``, given the cells the row observes: the posterior mean
    ``sum_i w_i ref_ij`` over the ``k`` nearest reference rows that observe cell ``j``, with
    ``w_i ~ counts_i exp(-D_i / (2 sigma2))`` and ``D_i`` the squared distance on the co-observed
    cells rescaled to the full row (:func:`observed_distances`). Observed cells are kept as they
    are; rows without blanks are returned unchanged.

    ``ref`` may hold blanks too (the training rows themselves); ``self_index[i]`` (optional) is the
    reference row that is ``Q[i]`` itself, left out of its own neighbours (leave-one-out).
    ``draws > 0`` (``ref`` complete): ``(draws, n, d)`` completions instead of the mean, draw ``m``
    taking all of a row's blanks from the neighbour at cumulative posterior weight
    ``(m + 1/2) / draws`` (systematic sampling: deterministic, each row on its own).

    Example
    -------
    >>> ref = np.array([[0.0, 0.0], [1.0, 2.0], [9.0, 9.0]])
    >>> impute_blanks(np.array([[0.9, np.nan]]), ref, sigma2=1e-4, k=2)
    array([[0.9, 2. ]])
    """
    Q = np.asarray(Q, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    counts = np.ones(len(ref)) if counts is None else np.asarray(counts, dtype=np.float64)
    ref_blank = np.isnan(ref)
    complete_ref = not ref_blank.any()
    if draws and not complete_ref:
        raise ValueError("impute_blanks: draws need complete reference rows")
    out = np.repeat(Q[None], draws, axis=0) if draws else Q.copy()
    todo = np.flatnonzero(np.isnan(Q).any(axis=1))
    chunk = max(1, min(int(chunk), 2_000_000 // max(len(ref), 1)))  # (chunk, len(ref)) blocks of <= 16 MB
    k = int(max(1, min(int(k), len(ref) - (1 if self_index is not None else 0))))
    col_mean = np.nanmean(np.where(ref_blank, np.nan, ref), axis=0) if not complete_ref else None
    for s in range(0, len(todo), int(chunk)):
        rows = todo[s : s + int(chunk)]
        q = Q[rows]
        d2 = observed_distances(q, ref)
        if self_index is not None:
            d2[np.arange(len(rows)), np.asarray(self_index)[rows]] = np.inf
        blank = np.isnan(q)
        if complete_ref:
            nn = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else np.tile(np.arange(d2.shape[1]), (len(q), 1))
            dk = np.take_along_axis(d2, nn, axis=1)
            order = np.argsort(dk, axis=1, kind="stable")
            nn, dk = np.take_along_axis(nn, order, axis=1), np.take_along_axis(dk, order, axis=1)
            w = _kernel_weights(dk, counts[nn], sigma2)
            if not draws:
                est = np.einsum("nk,nkd->nd", w, ref[nn])
                out[rows] = np.where(blank, est, q)
            else:
                cw = np.cumsum(w, axis=1)
                for m in range(draws):
                    pick = np.minimum((cw < (m + 0.5) / draws).sum(axis=1), k - 1)
                    out[m, rows] = np.where(blank, ref[nn[np.arange(len(q)), pick]], q)
            continue
        filled = q.copy()
        for j in np.flatnonzero(blank.any(axis=0)):
            need = np.flatnonzero(blank[:, j])
            dj = np.where(ref_blank[:, j][None, :], np.inf, d2[need])
            kj = min(k, dj.shape[1])
            nn = np.argpartition(dj, kj - 1, axis=1)[:, :kj] if kj < dj.shape[1] else np.tile(np.arange(dj.shape[1]), (len(need), 1))
            dk = np.take_along_axis(dj, nn, axis=1)
            w = _kernel_weights(dk, counts[nn], sigma2)
            vals = np.where(ref_blank[nn, j], 0.0, ref[nn, j])
            est = (w * vals).sum(axis=1)
            # no reference row shares a cell with the row and observes j: the column's mean
            filled[need, j] = np.where(np.isfinite(dk).any(axis=1), est, col_mean[j])
        out[rows] = filled
    return out
