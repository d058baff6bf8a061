"""The ideal (empirical) denoiser of a set of reference rows, as one object: kernel evidence at
several noise levels, its robust z-scale (leave-one-out or cross-fitted), the fused score, the
posterior mean and residual, and a plain-array state. Modality-free: rows are 2-D floats already
in the model's space (standardised features, flattened windows, patches or thumbnails).
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..diffusion import NoiseSchedule
from .empirical import (MarginalSmoothedNLL, ideal_denoiser_error, ideal_denoiser_residual, impute_blanks,
                        posterior_mean, smoothed_nll)
from .fusion import RobustZ
from .knn import DedupKNN

__all__ = ["EmpiricalDenoiser"]


class EmpiricalDenoiser:
    """Ideal denoiser ``E[x_0 | x]`` of reference rows and the evidence it gives about new rows.

    A row is read as a noisy sample at a noise level (a fraction of a DDPM chain of ``n_steps``);
    the posterior mean over its nearest reference rows reconstructs it. Evidence per row
    (:meth:`evidence`, ``n_evidence`` columns in this order):

    * fine block, ``L = len(noise_levels)`` levels over ``n_neighbors`` rows: ``L`` squared
      reconstruction errors (score norms, Tweedie), then ``L`` smoothed NLLs;
    * coarse block, ``C = len(coarse_levels)`` levels over ``coarse_neighbors`` rows: as above;
    * the per-feature smoothed NLL at noise ``marginal_sigma``, summed over features.

    Each column is robustly z-scored (errors on a log scale) against the reference rows' own
    evidence: leave-one-out after :meth:`fit`, cross-fitted after :meth:`cross_fit`.
    :meth:`jackknife_scores` scores each reference row exactly as a new row is scored, against
    the others (for a threshold that new normal rows exceed as often as it says). :meth:`parts`
    reads three blocks (fine: mean z; coarse and marginal: positive parts) and :meth:`combine`
    fuses them into ``max(fine, coarse_weight * max(coarse, marginal))``.

    Example
    -------
    >>> rows = np.random.default_rng(0).normal(size=(200, 3))
    >>> den = EmpiricalDenoiser(coarse_neighbors=50).fit(rows)
    >>> s = den.score(np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0]]))
    >>> bool(s[1] > s[0]), den.train_scores_.shape
    (True, (200,))
    >>> np.allclose(den.posterior_mean(rows[:2], 1e-3), rows[:2])
    True
    """

    #: constructor settings, as stored by :meth:`state`
    settings = ("noise_levels", "coarse_levels", "n_neighbors", "coarse_neighbors", "marginal_sigma",
                "coarse_weight", "schedule", "n_steps", "chunk_size", "knn_backend", "n_jobs", "coarse_rows")

    def __init__(self, noise_levels=(0.1, 0.2, 0.3), coarse_levels=(0.3, 0.5, 0.7, 0.9), n_neighbors: int = 10,
                 coarse_neighbors: int = 200, marginal_sigma: float = 0.1, coarse_weight: float = 0.5,
                 schedule: str = "linear", n_steps: int = 1000, chunk_size: int = 2048,
                 knn_backend: str = "sklearn", n_jobs: int | None = None, coarse_rows: int | None = None):
        self.noise_levels, self.coarse_levels = noise_levels, coarse_levels
        self.n_neighbors, self.coarse_neighbors = n_neighbors, coarse_neighbors
        self.marginal_sigma, self.coarse_weight = marginal_sigma, coarse_weight
        self.schedule, self.n_steps = schedule, n_steps
        self.chunk_size, self.knn_backend, self.n_jobs = chunk_size, knn_backend, n_jobs
        self.coarse_rows = coarse_rows

    # --- reference ------------------------------------------------------------------------------
    def variances(self, levels) -> np.ndarray:
        """Noise variances ``sigma^2`` of chain fractions ``levels`` (variance-exploding form)."""
        sched = NoiseSchedule(self.schedule, self.n_steps)
        ts = [sched.t_from_fraction(f) for f in np.atleast_1d(np.asarray(levels, dtype=float))]
        return np.array([float(sched.sigma_ve(t)) ** 2 for t in ts])

    def _build(self, rows: np.ndarray) -> "EmpiricalDenoiser":
        self.sigma2_ = self.variances(self.noise_levels)
        self.coarse_sigma2_ = self.variances(self.coarse_levels)
        self.rows_ = np.ascontiguousarray(rows)
        self.knn_ = DedupKNN(self.rows_, n_jobs=self.n_jobs, backend=self.knn_backend)
        self.marginal_ = MarginalSmoothedNLL(self.rows_, float(self.marginal_sigma))
        if self.coarse_rows is not None:
            # the coarse block's kernels are wide: a fixed random sample of the reference, summed in
            # full, estimates them without a wide neighbour search (the costly part on big tables)
            n, m = len(self.rows_), int(self.coarse_rows)
            pick = np.arange(n) if m >= n else np.sort(np.random.default_rng(0).choice(n, m, replace=False))
            self.coarse_ref_ = self.rows_[pick].astype(np.float64)
            self._coarse_sq = (self.coarse_ref_**2).sum(axis=1)
            # for a distinct reference row (leave-one-out): one place in the sample holding a copy
            first = np.full(len(self.knn_.unique), -1)
            owners = self.knn_.inverse[pick]
            first[owners[::-1]] = np.arange(len(pick))[::-1]
            self._coarse_self = first
        return self

    @property
    def n_evidence(self) -> int:
        """Evidence columns: ``2 L + 2 C + 1``."""
        return 2 * len(np.atleast_1d(self.noise_levels)) + 2 * len(np.atleast_1d(self.coarse_levels)) + 1

    def fit(self, rows) -> "EmpiricalDenoiser":
        """Take ``rows`` ``(n, d)`` (``n >= 2``) as the reference and set the evidence scale from
        their leave-one-out evidence; ``train_scores_`` holds their scores."""
        rows = np.asarray(rows)
        if rows.ndim != 2 or len(rows) < 2:
            raise ValueError(f"the denoiser needs at least 2 reference rows (n, d), got shape {rows.shape}")
        self._build(rows)
        # one neighbour search gives both the leave-one-out and the jackknife evidence
        loo, jack = self._evidence(self.knn_.unique, exclude_self=True, with_dropped=True)
        raw = loo[self.knn_.inverse]
        raw[:, -1] = self.marginal_.nll(self.rows_, leave_one_out=True).sum(axis=1)
        self._jackknife_unique = jack
        self.calibrate(raw)
        self.train_scores_ = self.combine(raw)
        return self

    def subset(self, keep: np.ndarray) -> "EmpiricalDenoiser":
        """A denoiser over the reference rows ``keep`` (bool mask or indices) with this one's
        settings and evidence scale: how held-out rows score without their own group."""
        part = type(self)(**{k: getattr(self, k) for k in self.settings})._build(self.rows_[keep])
        part.norm_ = self.norm_
        return part

    # --- evidence -------------------------------------------------------------------------------
    def evidence(self, Q: np.ndarray | None = None) -> np.ndarray:
        """``(n, n_evidence)`` raw evidence of the rows ``Q``; ``Q=None``: leave-one-out evidence
        of the reference rows (one copy of each row removed from its own neighbours)."""
        if Q is not None:
            return self._evidence(Q)
        raw = self._evidence(self.knn_.unique, exclude_self=True)[self.knn_.inverse]
        raw[:, -1] = self.marginal_.nll(self.rows_, leave_one_out=True).sum(axis=1)
        return raw

    def jackknife_evidence(self) -> np.ndarray:
        """``(n, n_evidence)`` evidence of each reference row computed exactly as for a new row,
        against the other ``n - 1`` rows: its own copy leaves its neighbours (a row with
        duplicates keeps them), and its marginal density is that of the other rows.

        :meth:`evidence` (``Q=None``), which sets the evidence scale, keeps the emptied own copy
        as a zero-weight neighbour at distance 0. Where the other rows are many noise levels
        away (high-dimensional tables) that copy dominates the kernel arithmetic and the
        leave-one-out evidence collapses to a constant (e.g. a smoothed NLL of ``-log(1e-300)``
        for every row) that new rows do not share; its marginal term subtracts the own kernel
        from a binned density, which can leave nothing. This evidence does neither."""
        jack = getattr(self, "_jackknife_unique", None)  # kept by fit (same rows, same search)
        if jack is None:
            jack = self._evidence(self.knn_.unique, exclude_self=True, drop_self=True)
        raw = jack[self.knn_.inverse]
        raw[:, -1] = self.marginal_.nll_jackknife(self.rows_).sum(axis=1)
        return raw

    def jackknife_scores(self) -> np.ndarray:
        """``(n,)`` scores of the reference rows from :meth:`jackknife_evidence`, at the current
        evidence scale: how the scores of new rows from the same distribution are spread."""
        return self.combine(self.jackknife_evidence())

    def _evidence(self, Q, exclude_self=False, drop_self=False, with_dropped=False):
        """Raw evidence of ``Q``; ``with_dropped`` (with ``exclude_self``) also returns the
        ``drop_self`` evidence from the same neighbour search, as ``(kept, dropped)``."""
        width = 2 * len(self.sigma2_) + 2 * len(self.coarse_sigma2_) + 1
        out = np.empty((len(Q), width))
        dropped = np.empty((len(Q), width)) if with_dropped else None
        for i in range(0, len(Q), int(self.chunk_size)):
            q = Q[i : i + int(self.chunk_size)]
            rows = slice(i, i + len(q))
            dist, idx, counts = self.knn_.neighbours(q, self._k_search(), exclude_self)
            own = np.arange(i, i + len(q)) if exclude_self else None
            if with_dropped:
                self._fill(out, rows, q, dist, idx, counts, extra=1, own=own)
                self._fill(dropped, rows, q, *self._drop_own(dist, idx, counts), extra=0, own=own,
                           coarse=out[rows] if self.coarse_rows is not None else None)
                continue
            if drop_self:
                dist, idx, counts = self._drop_own(dist, idx, counts)
            self._fill(out, rows, q, dist, idx, counts, extra=1 if exclude_self and not drop_self else 0, own=own)
        return (out, dropped) if with_dropped else out

    @staticmethod
    def _drop_own(dist, idx, counts):
        """A row whose own copy was its only one: its neighbours start at the next row."""
        gone = counts[:, 0] == 0
        dist, idx, counts = dist.astype(np.float64), idx.copy(), counts.copy()
        for a in (dist, idx, counts):
            a[gone, :-1] = a[gone, 1:]
        dist[gone, -1], counts[gone, -1] = np.inf, 0  # nothing left to fill the last place
        return dist, idx, counts

    def _k_search(self) -> int:
        if self.coarse_rows is not None:
            return int(self.n_neighbors)
        return max(int(self.n_neighbors), int(self.coarse_neighbors))

    def _coarse_sample_block(self, q, own):
        """Coarse evidence over the whole reference sample: ``(n, 2C)`` errors then NLLs. ``own``:
        the distinct reference row each query is (leave-one-out), whose copy gets no weight."""
        ref = self.coarse_ref_
        d2 = np.maximum((q**2).sum(axis=1)[:, None] + self._coarse_sq[None, :] - 2.0 * q @ ref.T, 0.0)
        if own is not None:
            pos = self._coarse_self[own]
            hit = pos >= 0
            d2[np.flatnonzero(hit), pos[hit]] = np.inf  # the row's own copy: no weight
        C = len(self.coarse_sigma2_)
        res = np.empty((len(q), 2 * C))
        w = np.empty_like(d2)  # one buffer for every level's weights (in place: the big arrays here)
        for j, s2 in enumerate(self.coarse_sigma2_):
            np.multiply(d2, -0.5 / s2, out=w)
            top = w.max(axis=1, keepdims=True)
            np.subtract(w, top, out=w)
            np.exp(w, out=w)
            tot = np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
            res[:, j] = ((q - (w @ ref) / tot) ** 2).sum(axis=1)
            res[:, C + j] = -(top[:, 0] + np.log(tot[:, 0]))
        return res

    def _fill(self, out, rows, q, dist, idx, counts, extra, own=None, coarse=None):
        L = len(self.sigma2_)
        if self.coarse_rows is not None:
            C = len(self.coarse_sigma2_)
            d, ix, c = dist[:, : int(self.n_neighbors) + extra], idx[:, : int(self.n_neighbors) + extra], \
                counts[:, : int(self.n_neighbors) + extra]
            for j, s2 in enumerate(self.sigma2_):
                out[rows, j] = ideal_denoiser_error(q, d, ix, c, self.knn_.unique, s2)
                out[rows, L + j] = smoothed_nll(d, c, s2)
            # the sample block is the same for the kept and dropped evidence: reuse it when given
            out[rows, 2 * L : 2 * L + 2 * C] = (self._coarse_sample_block(q, own) if coarse is None
                                                else coarse[:, 2 * L : 2 * L + 2 * C])
            out[rows, -1] = self.marginal_.nll(q).sum(axis=1)
            return
        k_fine, k_coarse = int(self.n_neighbors) + extra, int(self.coarse_neighbors) + extra
        blocks = ((0, self.sigma2_, (dist[:, :k_fine], idx[:, :k_fine], counts[:, :k_fine])),
                  (2 * L, self.coarse_sigma2_, (dist[:, :k_coarse], idx[:, :k_coarse], counts[:, :k_coarse])))
        for start, sigma2, (d, ix, c) in blocks:
            n_lev = len(sigma2)
            for j, s2 in enumerate(sigma2):
                out[rows, start + j] = ideal_denoiser_error(q, d, ix, c, self.knn_.unique, s2)
                out[rows, start + n_lev + j] = smoothed_nll(d, c, s2)
        out[rows, -1] = self.marginal_.nll(q).sum(axis=1)

    def features(self, raw: np.ndarray) -> np.ndarray:
        """Evidence on the scale it is z-scored on: score norms as logs (they span decades);
        NLLs are logs already."""
        f = raw.copy()
        L, C = len(self.sigma2_), len(self.coarse_sigma2_)
        for a, b in ((0, L), (2 * L, 2 * L + C)):
            f[:, a:b] = np.log(raw[:, a:b] + 1e-12)
        return f

    # --- scale and score ------------------------------------------------------------------------
    def calibrate(self, raw: np.ndarray) -> None:
        """Set the evidence scale (``norm_``, a per-column :class:`RobustZ`) from the reference
        rows' evidence ``raw`` (leave-one-out or cross-fitted)."""
        self.norm_ = RobustZ.fit(self.features(raw))

    def zscores(self, raw: np.ndarray) -> np.ndarray:
        """``(n, n_evidence)`` robust z-scores of raw evidence."""
        return self.norm_(self.features(raw))

    def parts(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        """The three blocks of evidence: ``fine`` (mean z, two-sided: reconstructing better than
        the reference counts as normal), ``coarse`` (mean positive part) and ``marginal``."""
        z = self.zscores(raw)
        L, C = len(self.sigma2_), len(self.coarse_sigma2_)
        return {"fine": z[:, : 2 * L].mean(axis=1),
                "coarse": np.maximum(z[:, 2 * L : 2 * L + 2 * C], 0).mean(axis=1),
                "marginal": np.maximum(z[:, -1], 0)}

    def combine(self, raw: np.ndarray) -> np.ndarray:
        """The score of raw evidence: ``max(fine, coarse_weight * max(coarse, marginal))``; the
        coarse and marginal blocks speak when ``1 / coarse_weight`` times stronger."""
        p = self.parts(raw)
        return np.maximum(p["fine"], float(self.coarse_weight) * np.maximum(p["coarse"], p["marginal"]))

    def score(self, Q: np.ndarray) -> np.ndarray:
        """``(n,)`` scores of the rows ``Q`` (higher = further from the reference)."""
        uq, inv = np.unique(Q, axis=0, return_inverse=True)
        return self.combine(self.evidence(uq))[inv.ravel()]

    def cross_fit(self, folds: Iterable[np.ndarray], others: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Re-set the evidence scale on cross-fitted evidence; returns (and stores as
        ``train_scores_``) the reference rows' cross-fitted scores.

        Overlapping windows or patches are near-copies of their neighbours, so leave-one-out
        evidence is degenerate and its scale collapses. Here each fold (indices into the reference
        rows) is scored against the rows ``others(fold)`` (a bool mask) only, as new data will be;
        with fewer than 2 of them, against every row outside the fold."""
        raw = np.empty((len(self.rows_), self.n_evidence))
        for fold in folds:
            keep = others(fold)
            if keep.sum() < 2:
                keep = np.ones(len(self.rows_), bool)
                keep[fold] = False
            raw[fold] = self.subset(keep).evidence(self.rows_[fold])
        self.calibrate(raw)
        self.train_scores_ = self.combine(raw)
        return self.train_scores_

    # --- reconstruction -------------------------------------------------------------------------
    def _chunks(self, Q, k):
        step = int(self.chunk_size)
        for i in range(0, len(Q), step):
            q = Q[i : i + step]
            yield slice(i, i + len(q)), q, self.knn_.neighbours(q, k)

    def posterior_mean(self, Q: np.ndarray, sigma2: float, k: int | None = None) -> np.ndarray:
        """``(n, d)`` ideal-denoiser output ``E[x_0 | Q]`` at noise variance ``sigma2`` over the
        ``k`` (default ``n_neighbors``) nearest reference rows."""
        out = np.empty(np.shape(Q))
        for rows, q, (dist, idx, counts) in self._chunks(Q, int(k or self.n_neighbors)):
            out[rows] = posterior_mean(dist, idx, counts, self.knn_.unique, sigma2)
        return out

    def residual(self, Q: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        """``(n, d)`` squared residual ``(Q - E[x_0 | Q])^2`` per feature at the fine noise levels,
        averaged over them: which features the ideal denoiser had to move, and how far.
        ``exclude_self``: a row of ``Q`` equal to a reference row is denoised without one copy of
        it (leave-one-out, as its training score was): the evidence that drove that score."""
        k = int(self.n_neighbors)
        out = np.empty(np.shape(Q))
        for rows, q, (dist, idx, counts) in self._chunks(Q, k + 1 if exclude_self else k):
            if exclude_self:
                counts = counts.copy()
                # exact equality, not distance: the float32 search rounds a row's own distance
                counts[:, 0] -= (self.knn_.unique[idx[:, 0]] == q).all(axis=1)
                dist, idx, counts = (a[:, :k] for a in self._drop_own(dist, idx, counts))
            res = [ideal_denoiser_residual(q, dist, idx, counts, self.knn_.unique, s2) for s2 in self.sigma2_]
            out[rows] = np.mean(res, axis=0)
        return out

    # --- blank cells ----------------------------------------------------------------------------
    def impute(self, Q: np.ndarray, sigma2: float, k: int | None = None, draws: int = 0) -> np.ndarray:
        """``Q`` with its blank (NaN) cells filled by this denoiser's posterior mean at noise
        variance ``sigma2`` given the observed cells: the kernel-weighted mean of the ``k``
        (default ``n_neighbors``) nearest reference rows on the observed coordinates, distances
        rescaled by ``d / n_observed`` (:func:`adgdm.scores.empirical.impute_blanks`). Complete rows
        come back unchanged. ``draws > 0``: ``(draws, n, d)`` completions drawn from the posterior
        over the neighbours instead of their mean.

        Example
        -------
        >>> den = EmpiricalDenoiser(coarse_neighbors=2).fit(np.array([[0.0, 0.0], [1.0, 2.0], [9.0, 9.0]]))
        >>> den.impute(np.array([[0.9, np.nan]]), sigma2=1e-4, k=2)
        array([[0.9, 2. ]])
        """
        return impute_blanks(Q, self.knn_.unique, sigma2, int(k or self.n_neighbors), counts=self.knn_.counts,
                             draws=draws, chunk=int(self.chunk_size) // 4 or 1)

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """``(settings, arrays)``: JSON values and numpy arrays that :meth:`from_state` restores
        (the array keys are those ``diffusion`` models have always been saved with)."""
        meta = {k: getattr(self, k) for k in self.settings}
        meta["noise_levels"] = [float(v) for v in np.atleast_1d(self.noise_levels)]
        meta["coarse_levels"] = [float(v) for v in np.atleast_1d(self.coarse_levels)]
        return meta, {"X_train_": self.rows_, "norm_center_": self.norm_.center, "norm_scale_": self.norm_.scale}

    @classmethod
    def from_state(cls, meta: dict, arrays: dict) -> "EmpiricalDenoiser":
        """The denoiser :meth:`state` described (``meta`` may hold only some settings)."""
        den = cls(**{k: v for k, v in meta.items() if k in cls.settings})
        rows = np.asarray(arrays["X_train_"], dtype=np.float64)
        if rows.ndim != 2:
            raise ValueError(f"stored reference rows must be 2-D, got shape {rows.shape}")
        den._build(rows)
        center, scale = arrays["norm_center_"], arrays["norm_scale_"]
        if np.shape(center) != (den.n_evidence,) or np.shape(scale) != (den.n_evidence,):
            raise ValueError("stored normalisation does not match noise_levels and coarse_levels")
        den.norm_ = RobustZ(center, scale)
        return den
