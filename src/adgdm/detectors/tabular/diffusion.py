"""``diffusion``: the recommended default. Multi-scale score norms of the noise-smoothed training
distribution, computed exactly from the nearest training rows and per feature (no network to train)."""
from __future__ import annotations

import copy

import numpy as np

from ...scores.denoiser import EmpiricalDenoiser
from ...scores.empirical import impute_blanks
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
    * coarse: ``coarse_levels`` over a fixed random sample of ``coarse_rows`` training rows (all
      of them on smaller tables), summed in full, the mean of the positive parts. Large noise
      looks past small clusters of anomalies that vouch for each other; its kernels are wide, so a
      sample estimates them, and no wide neighbour search is needed (``coarse_rows=None``: the
      ``coarse_neighbors`` nearest rows instead, the earlier default: as accurate on ADBench,
      2-12 times slower on tables above 10k rows; ``benchmarks/results/tabular_default_select.md``);
    * marginal: the per-feature smoothed NLL at noise ``marginal_sigma`` (in standard deviations),
      summed over features, positive part: a value outside one feature's range.

    The score is ``max(fine, coarse_weight * coarse, coarse_weight * marginal)``: the coarse and
    marginal blocks speak when their evidence is at least ``1 / coarse_weight`` times stronger.
    The evidence, its scale and this fusion are :class:`adgdm.scores.denoiser.EmpiricalDenoiser`
    (fitted as ``denoiser_``, on the standardised rows); this class adds the standardisation,
    the threshold and the model file.

    ``threshold_`` is the ``1 - contamination`` quantile of jackknife scores
    (``calibration_scores_``, ``calibration="jackknife"``): each training row scored exactly as a
    new row is, against the other rows, at the fitted evidence scale
    (:meth:`EmpiricalDenoiser.jackknife_scores`). The leave-one-out scores (``decision_scores_``)
    set the evidence scale but no longer the threshold (``calibration="train"`` restores it): on
    high-dimensional or small tables they part from the scores of new rows, and their quantile
    flagged from 0% to 41% of held-out normal rows on ADBench
    (``benchmarks/results/flag_rates_before.md``). Scores (``decision_function``) do not depend on
    ``calibration``.

    Blank cells (NaN) are the model's to handle (``missing``). A blank's posterior given the row's
    observed cells is the ideal denoiser's at the noise level ``impute_level`` (a fraction of the
    chain, as ``noise_levels``): kernel weights over the ``n_neighbors`` nearest training rows on
    the observed coordinates, squared distances rescaled by ``d / n_observed``
    (:meth:`EmpiricalDenoiser.impute`). With ``"draws"`` (default) a row with blanks is completed
    ``n_draws`` times, each time from one neighbour drawn from that posterior (systematic draws,
    deterministic), and its score is the mean of the completed rows' scores; ``"impute"`` scores
    the one row completed by the posterior mean; ``"error"``: NaN is an error (as before the
    option). Training rows with blanks are completed by the posterior mean, leave-one-out, from the
    other training rows (distances on the cells both observe), and the completed rows are the
    reference. Rows with no observed cell are an error naming them; complete rows score exactly as
    without the option. The default was chosen without test labels
    (``benchmarks/results/missing_select.md``); ``benchmarks/results/missing_cells_model.md`` gives the AUROC
    lost with 10% / 30% of ADBench cells blank.

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
    >>> Xb = X.copy(); Xb[0, 3] = np.nan                     # a blank cell: imputed by the model
    >>> bool(np.isfinite(det.decision_function(Xb[:3])).all())
    True
    """

    name = "diffusion"
    training_scores = "leave-one-out"
    missing_modes = ("impute", "draws", "error")

    def __init__(self, n_neighbors: int = 10, noise_levels: tuple = (0.1, 0.2, 0.3),
                 coarse_neighbors: int = 200, coarse_levels: tuple = (0.3, 0.5, 0.7, 0.9),
                 marginal_sigma: float = 0.1, coarse_weight: float = 0.5, schedule: str = "linear",
                 n_steps: int = 1000, standardize: bool = True, contamination: float = 0.1,
                 n_jobs: int | None = None, chunk_size: int = 2048, knn_backend: str = "sklearn",
                 calibration: str = "jackknife", missing: str = "draws", impute_level: float = 0.3,
                 n_draws: int = 8, coarse_rows: int | None = 512):
        self.missing = missing
        self.impute_level = impute_level
        self.n_draws = n_draws
        self.coarse_rows = coarse_rows
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
        self.calibration = calibration

    @classmethod
    def _from_state(cls, params: dict, meta: dict, arrays: dict):
        # models saved before ``coarse_rows`` existed used the nearest-row coarse block
        return super()._from_state({"coarse_rows": None, **params}, meta, arrays)

    def _check_params(self):
        super()._check_params()
        if self.coarse_rows is not None and int(self.coarse_rows) < 2:
            raise ValueError(f"coarse_rows must be None or >= 2, got {self.coarse_rows}")
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
        if self.calibration not in ("jackknife", "train"):
            raise ValueError(f"calibration must be 'jackknife' or 'train', got {self.calibration!r}")
        if self.missing not in self.missing_modes:
            raise ValueError(f"missing must be one of {self.missing_modes}, got {self.missing!r}")
        if not 0 < float(self.impute_level) <= 1:
            raise ValueError(f"impute_level must be a fraction in (0, 1], got {self.impute_level}")
        if int(self.n_draws) < 1:
            raise ValueError(f"n_draws must be >= 1, got {self.n_draws}")

    def _takes_nan(self) -> bool:
        """Whether NaN cells are the model's to handle (``missing != "error"``)."""
        return getattr(self, "missing", "error") != "error"

    def _impute_sigma2(self) -> float:
        return float(EmpiricalDenoiser(schedule=self.schedule, n_steps=self.n_steps).variances([self.impute_level])[0])

    def impute(self, X) -> np.ndarray:
        """``X`` with its blank (NaN) cells filled by the model (the posterior mean given the
        observed cells, class docstring), in the units of ``X``; complete rows unchanged."""
        self._check_fitted()
        arr = self._input(X, fitting=False)
        Z = self.denoiser_.impute(self._transform(arr), self._impute_sigma2())
        return Z * self.scale_ + self.center_ if self.standardize else Z

    def _settings(self) -> dict:
        return {k: getattr(self, k) for k in EmpiricalDenoiser.settings}

    def _fit(self, X):
        if X.shape[0] < 2:
            raise ValueError(f"diffusion needs at least 2 training rows, got {X.shape[0]} (n_samples={X.shape[0]})")
        blank = np.isnan(X)
        self.__dict__.pop("train_blank_", None)
        if blank.any():  # leave-one-out: each training row completed from the other training rows
            X = impute_blanks(X, X, self._impute_sigma2(), int(self.n_neighbors), self_index=np.arange(len(X)),
                              chunk=max(1, int(self.chunk_size) // 4))
            self.train_blank_ = blank
        self.denoiser_ = EmpiricalDenoiser(**self._settings()).fit(X)
        return self.denoiser_.train_scores_

    def _score(self, X):
        blank = np.isnan(X).any(axis=1)
        if not blank.any():
            return self.denoiser_.score(X)
        out = np.empty(len(X))
        if (~blank).any():
            out[~blank] = self.denoiser_.score(X[~blank])
        sigma2 = self._impute_sigma2()
        if self.missing == "draws":
            done = self.denoiser_.impute(X[blank], sigma2, draws=int(self.n_draws))
            # one call over every completion: rows drawn alike are scored once (score dedupes)
            out[blank] = self.denoiser_.score(done.reshape(-1, done.shape[2])).reshape(done.shape[:2]).mean(axis=0)
        else:
            out[blank] = self.denoiser_.score(self.denoiser_.impute(X[blank], sigma2))
        return out

    def _calibration_scores(self, X, train_scores):
        """Jackknife scores of the training rows (class docstring); None (the leave-one-out
        ``train_scores``) with ``calibration="train"``."""
        return self.denoiser_.jackknife_scores() if self.calibration == "jackknife" else None

    # --- public API for detectors built on this one ---------------------------------------------
    def cross_fit(self, folds, others) -> "DiffusionDetector":
        """Re-base the evidence scale, ``decision_scores_`` and ``threshold_`` on cross-fitted
        evidence (:meth:`EmpiricalDenoiser.cross_fit`; ``folds`` index the training rows, in
        fit order). For overlapping pieces (windows, patches), whose leave-one-out evidence is
        degenerate."""
        self._check_fitted()
        self._finish_fit(self.denoiser_.cross_fit(folds, others))
        return self

    def subset(self, keep) -> "DiffusionDetector":
        """A copy that scores against the training rows ``keep`` only (bool mask or indices), with
        this detector's standardisation and evidence scale; training scores and threshold are
        this detector's. Scores held-out groups without their own rows."""
        self._check_fitted()
        part = copy.copy(self)
        part.denoiser_ = self.denoiser_.subset(keep)
        return part

    def residuals(self, X) -> np.ndarray:
        """``(n, n_features)`` squared ideal-denoiser residual per feature, in standardised units,
        averaged over the fine noise levels (:meth:`EmpiricalDenoiser.residual`): its sum is
        the fine reconstruction error the score is built on. Blank (NaN) cells get 0, the others
        are read on the row completed by the posterior mean."""
        self._check_fitted()
        return self._explain_model(self._input(X, fitting=False))

    def _explain_model(self, arr):
        Z = self._transform(arr)
        blank = np.isnan(Z)
        if not blank.any():
            return self.denoiser_.residual(Z)
        # a blank cell is no evidence: it gets no share of the row's residual
        return np.where(blank, 0.0, self.denoiser_.residual(self.denoiser_.impute(Z, self._impute_sigma2())))

    def _explain_training(self, arr, train_index):
        """Training rows: their residuals without their own copy, as their leave-one-out training
        scores were computed (against itself a training row reconstructs perfectly)."""
        Z = self._transform(arr)
        blank = np.isnan(Z)
        if blank.any():
            Z = self.denoiser_.impute(Z, self._impute_sigma2())
        return np.where(blank, 0.0, self.denoiser_.residual(Z, exclude_self=True))

    # read-only views kept for code written against the attributes before the denoiser object
    X_train_ = property(lambda self: self.denoiser_.rows_)
    knn_ = property(lambda self: self.denoiser_.knn_)
    sigma2_ = property(lambda self: self.denoiser_.sigma2_)
    norm_center_ = property(lambda self: self.denoiser_.norm_.center)
    norm_scale_ = property(lambda self: self.denoiser_.norm_.scale)

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self):
        _, arrays = self.denoiser_.state()
        if getattr(self, "train_blank_", None) is not None:  # which training cells the model completed
            arrays = dict(arrays, train_blank_=self.train_blank_.astype(np.uint8))
        return {}, arrays

    def _set_state(self, meta, arrays):
        X = np.asarray(arrays["X_train_"], dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != int(meta["n_features_in_"]):
            raise ValueError("stored training rows do not match the feature count")
        self.denoiser_ = EmpiricalDenoiser.from_state(self._settings(), dict(arrays, X_train_=X))
        if "train_blank_" in arrays:
            self.train_blank_ = np.asarray(arrays["train_blank_"]).astype(bool)
