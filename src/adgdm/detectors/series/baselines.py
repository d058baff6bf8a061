"""Three classical time-series baselines of TSB-AD (Liu & Paparrizos, NeurIPS 2024), re-implemented
because the ``TSB_AD`` package pins numpy<2.

- :class:`SubPCA` (``tsb-subpca``): TSB-AD's ``Sub_PCA``, PyOD-style PCA on sliding windows.
- :class:`SubIForest` (``tsb-iforest``): TSB-AD's ``Sub_IForest``, scikit-learn's IsolationForest
  on sliding windows.
- :class:`MatrixProfile` (``tsb-matrixprofile``): TSB-AD's ``MatrixProfile``, the z-normalised
  nearest-neighbour (discord) distance of every subsequence, by ``stumpy`` or an exact numpy
  fallback.

All take a series ``(T,)`` or ``(T, C)``: ``fit(train)`` then ``decision_function(series)`` gives one
score per time step (higher = more anomalous). TSB-AD runs these three *unsupervised*: it fits on
the whole series and reports the fit's scores, i.e. ``fit(X).decision_scores_`` here, which equals
``fit(X).decision_function(X)``. Defaults are TSB-AD 1.5's leaderboard settings
(``HP_list.Optimal_Uni_algo_HP_dict`` with ``model_wrapper.run_Sub_PCA`` / ``run_Sub_IForest`` /
``run_MatrixProfile``); the window is the period found by :func:`estimate_period`
(``utils/slidingWindows.find_length_rank``, rank 1), estimated on the series given to ``fit``.
TSB-AD's semi-supervised runners (``run_Sub_OCSVM`` ...) estimate it on the whole series; to do the
same after ``fit(train)``, pass ``window=estimate_period(full_series)``.

Example
-------
>>> t = np.arange(2000)
>>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=t.size)
>>> x[1500:1510] += 3
>>> det = SubPCA().fit(x[:1000])
>>> det.window_
50
>>> int(np.argmax(det.decision_function(x))) in range(1450, 1560)
True
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import argrelextrema

from ..._validation import check_tabular, read_array
from ..._params import store_params
from ...modalities import get_modality
from .base import SeriesBase

__all__ = ["estimate_period", "SeriesDetector", "SubPCA", "SubIForest", "MatrixProfile"]

MULTIVARIATE_WINDOW = 100  # TSB-AD's run_PCA / run_IForest default, used for its multivariate benchmark
_BATCH = 4096  # windows per matrix product (memory: windows x selected axes)


# --- period (window) estimation --------------------------------------------------------------------
def _acf(x: np.ndarray, nlags: int) -> np.ndarray:
    """statsmodels' ``acf(x, nlags, fft=True)``: biased autocovariance of the demeaned series over
    its lag-0 value, lags ``0..nlags`` (fewer if the series is shorter)."""
    n = len(x)
    xo = x - x.mean()
    size = 1 << int(math.ceil(math.log2(2 * n + 1)))
    f = np.fft.rfft(xo, n=size)
    acov = np.fft.irfft(f * np.conj(f), n=size)[:n] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov[: nlags + 1] / acov[0]


def estimate_period(series, rank: int = 1) -> int:
    """The window TSB-AD uses, ``find_length_rank`` in ``TSB_AD/utils/slidingWindows.py``.

    On the first 20,000 points, the autocorrelation at lags 3..400 is computed; its strict local
    maxima are ranked by height. Rank 1 takes the highest; rank 2 the next highest peak lying at a
    larger lag than the highest (else the highest); rank 3 reproduces TSB-AD's own rule (which
    indexes its ranking by a peak position). The window is that lag, or 125 if the lag is below 3
    or above 300 or no peak exists. Constant series give 125.

    >>> t = np.arange(3000)
    >>> estimate_period(np.sin(2 * np.pi * t / 24))
    24
    """
    x = np.asarray(series, dtype=np.float64).squeeze()
    if x.ndim != 1:
        raise ValueError(f"estimate_period needs one channel, got shape {np.shape(series)}")
    if rank not in (1, 2, 3):
        raise ValueError(f"rank must be 1, 2 or 3, got {rank!r}")
    x = x[: min(20000, len(x))]
    base = 3
    auto_corr = _acf(x, 400)[base:]
    local_max = argrelextrema(auto_corr, np.greater)[0]
    if local_max.size == 0:
        return 125
    order = np.argsort(auto_corr[local_max])[::-1]
    pick = order[0]
    if rank == 2:
        pick = next((i for i in order[1:] if i > order[0]), order[0])
    elif rank == 3:
        first = next((i for i in order[1:] if i > order[0]), None)
        if first is None:
            return 125  # TSB-AD's try/except falls back to 125 here
        pick = next((i for i in order[first:] if i > order[first]), order[0])
    lag = local_max[pick]
    if lag < 3 or lag > 300:
        return 125
    return int(lag + base)


# --- shared plumbing --------------------------------------------------------------------------------
def _check_series(series, what: str = "series") -> np.ndarray:
    if not hasattr(series, "columns"):
        if hasattr(series, "to_numpy"):
            series = series.to_numpy()
        series = read_array(series, what)
        if series.ndim == 1:
            series = series.reshape(-1, 1)
        elif series.ndim != 2:
            raise ValueError(f"{what} must be (T,) or (T, channels), got shape {series.shape}")
    arr, _ = check_tabular(series, what=what)
    return arr


def _windows(X: np.ndarray, w: int) -> np.ndarray:
    """``(T - w + 1, C * w)`` sliding windows, channel-major (TSB-AD's ``feature.Window``)."""
    return sliding_window_view(X, w, axis=0).reshape(X.shape[0] - w + 1, -1)


def _pad_edges(scores: np.ndarray, w: int, T: int) -> np.ndarray:
    """Window scores to one per step as TSB-AD does: the first score repeated ``ceil((w-1)/2)``
    times before, the last ``(w-1)//2`` times after."""
    if len(scores) >= T:
        return scores
    return np.concatenate([np.full(math.ceil((w - 1) / 2), scores[0]), scores, np.full((w - 1) // 2, scores[-1])])


class SeriesDetector(SeriesBase):
    """Base of the series baselines: ``fit(series)``; ``decision_function(series)`` -> ``(T,)``.

    After ``fit``: ``window_`` (subsequence length), ``n_channels_``, ``decision_scores_`` (scores of
    the training series), ``threshold_`` (their ``1 - contamination`` quantile). Subclasses
    implement ``_fit(X) -> scores`` and ``_score(X) -> scores``.
    """

    name = "series-base"
    _min_window = 1

    def _input(self, series, fitting: bool) -> np.ndarray:
        X = _check_series(series)
        if fitting:
            self.n_channels_ = X.shape[1]
            self.window_ = self._resolve_window(X)
            self.channel_median_ = np.median(X, axis=0)  # neutral values for occlusion (explain)
        elif X.shape[1] != self.n_channels_:
            raise ValueError(f"series has {X.shape[1]} channels, but {type(self).__name__} was fitted "
                             f"with {self.n_channels_}")
        self._check_length(X, "fit" if fitting else "score")
        return get_modality(self.modality).bound(self, X, fitting, what="series")

    _fitted_attrs = ("window_", "threshold_")

    def _get_state(self):
        return {"window_": int(self.window_)}, {}

    def _set_state(self, meta, arrays):
        self.window_ = int(meta["window_"])

    # --- helpers ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        w = self.window
        if w is not None and (isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < self._min_window):
            raise ValueError(f"window must be None (TSB-AD's period rule) or an integer >= {self._min_window}, "
                             f"got {w!r}")
        if self.periodicity not in (1, 2, 3):
            raise ValueError(f"periodicity must be 1, 2 or 3 (rank of the autocorrelation peak), "
                             f"got {self.periodicity!r}")

    def _resolve_window(self, X: np.ndarray) -> int:
        if self.window is not None:
            return int(self.window)
        if X.shape[1] == 1:
            return estimate_period(X[:, 0], self.periodicity)
        return MULTIVARIATE_WINDOW

    def _min_length(self) -> int:
        return self.window_ + 1  # two windows at least

    def _check_length(self, X: np.ndarray, stage: str) -> None:
        need = self._min_length()
        if X.shape[0] < need:
            raise ValueError(f"series has {X.shape[0]} steps, shorter than {type(self).__name__} needs to {stage} "
                             f"with window {self.window_} (at least {need} steps); pass a smaller window")


# --- Sub-PCA ------------------------------------------------------------------------------------------
class SubPCA(SeriesDetector):
    """TSB-AD's ``Sub_PCA`` (``models/PCA.py``, a PyOD PCA on sliding windows).

    Windows of ``window`` steps are standardised column-wise with the training windows' mean and
    standard deviation; columns that are then all zero are dropped (``zero_pruning``); a
    scikit-learn PCA is fitted. A window's score is ``sum_j dist(x, v_j) / r_j`` over the last
    ``n_selected_components`` principal axes ``v_j`` (Euclidean distance from the window to the
    axis vector, PyOD's formula) with ``r_j`` the explained-variance ratio (``weighted``), and each
    step takes the score of the window centred on it (edges repeat the first / last score).

    Two rules keep the score on a sane scale (issue 30), neither changes TSB-AD's ranking of
    windows when the training windows vary along every axis. Axes along which they do not vary
    (explained-variance ratio at most :data:`~adgdm.scores.subspace.NULL_RATIO`: fewer windows than
    window x channels, whose centring leaves one; linearly dependent channels, such as a one-hot
    group whose channels sum to 1; constant columns kept with ``zero_pruning=False``) are left out:
    TSB-AD divides by their ratio, ~1e-33 in floating point, which put thresholds at 1e34-1e38 and
    made the score that of one arbitrary null direction. And the sum is divided by ``sum_j 1 / r_j``:
    the score is the ``1 / r_j``-weighted mean of the distances (the same ranking as the sum), in the
    units of a distance between standardised windows. Distances go through one matrix product, and
    :meth:`explain` splits each score exactly into its channels' shares (no occlusion).

    ``window=None``: the period (:func:`estimate_period`, rank ``periodicity``) of a univariate
    training series, 100 for several channels (TSB-AD's ``run_PCA`` default, which its
    multivariate benchmark uses, with ``n_components=0.25``). Defaults otherwise are the
    leaderboard's ``Sub_PCA``: ``periodicity=1, n_components=None`` (all components).

    >>> x = np.sin(np.arange(600) / 5.0)
    >>> SubPCA(window=20).fit(x).decision_function(x).shape
    (600,)
    """

    name = "tsb-subpca"

    def __init__(self, window=None, periodicity=1, n_components=None, n_selected_components=None, weighted=True,
                 standardization=True, zero_pruning=True, svd_solver="auto", contamination=0.01, random_state=0):
        store_params(self, locals())

    def _prepare(self, W: np.ndarray) -> np.ndarray:
        if self.standardization:
            W = self.scaler_.transform(W)
        return W[:, self.kept_columns_]

    def _fit(self, X):
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        from ...scores.subspace import NULL_RATIO

        W = _windows(X, self.window_)
        if self.standardization:
            self.scaler_ = StandardScaler().fit(W)
            W = self.scaler_.transform(W)
        self.kept_columns_ = np.any(W != 0, axis=0) if self.zero_pruning else np.ones(W.shape[1], bool)
        if not self.kept_columns_.any():
            raise ValueError("every window position is constant over the training series; nothing for PCA to fit")
        W = W[:, self.kept_columns_]
        self.pca_ = PCA(n_components=self.n_components, svd_solver=self.svd_solver,
                        random_state=self.random_state).fit(W)
        ratio = self.pca_.explained_variance_ratio_
        real = ratio > NULL_RATIO  # axes the training windows vary along (class docstring)
        k = int(real.sum())
        if k == 0:
            raise ValueError("the training windows do not vary along any axis; nothing for PCA to fit")
        sel = k if self.n_selected_components is None else self.n_selected_components
        if not 1 <= sel <= k:
            raise ValueError(f"n_selected_components must lie in [1, {k}] (the fitted components the training "
                             f"windows vary along), got {sel}")
        weights = (ratio if self.weighted else np.ones(len(ratio)))[real][-sel:]
        self.selected_components_ = self.pca_.components_[real][-sel:]
        # the 1/r-weighted mean of the distances, not their sum: the same ranking, a distance's scale
        self.selected_weights_ = weights * np.sum(1.0 / weights)
        return self._window_scores(W, X.shape[0])

    def _distances(self, W: np.ndarray) -> np.ndarray:
        """``||w - v_j||`` for every window (row of ``W``) and selected axis ``v_j``: one matrix product."""
        V = self.selected_components_
        sq = np.einsum("ij,ij->i", W, W)[:, None] - 2.0 * (W @ V.T) + np.einsum("ij,ij->i", V, V)[None, :]
        return np.sqrt(np.maximum(sq, 0.0))

    def _window_scores(self, W, T):
        out = np.empty(len(W))
        for i in range(0, len(W), _BATCH):
            with np.errstate(divide="ignore"):  # models saved before null axes were left out hold ratios of 0
                out[i:i + _BATCH] = np.sum(self._distances(W[i:i + _BATCH]) / self.selected_weights_, axis=1)
        return _pad_edges(out, self.window_, T)

    def _explain_model(self, X):
        """Each channel's share of each step's score, exactly: with ``e_jc = ||w_c - v_jc||^2`` (the
        window's and the axis' columns of channel ``c``), ``||w - v_j|| = sum_c e_jc / ||w - v_j||``, so
        channel ``c`` gets ``sum_j e_jc / (||w - v_j|| r_j)``; steps take their window's shares as
        their scores do. Columns dropped at fit (constant in training) get no share."""
        W = self._prepare(_windows(X, self.window_))
        V, wts = self.selected_components_, self.selected_weights_
        channel = np.flatnonzero(self.kept_columns_) // self.window_  # channel of each kept column
        out = np.zeros((len(W), X.shape[1]))
        for i in range(0, len(W), _BATCH):
            Wb = W[i:i + _BATCH]
            with np.errstate(divide="ignore"):
                inv = 1.0 / (np.maximum(self._distances(Wb), 1e-300) * wts)  # 1 / (||w - v_j|| r_j)
            inv[~np.isfinite(inv)] = 0.0
            for c in np.unique(channel):
                cols = channel == c
                Wc, Vc = Wb[:, cols], V[:, cols]
                e = np.einsum("ij,ij->i", Wc, Wc)[:, None] - 2.0 * (Wc @ Vc.T) + np.einsum("ij,ij->i", Vc, Vc)[None, :]
                out[i:i + _BATCH, c] = (np.maximum(e, 0.0) * inv).sum(axis=1)
        return np.column_stack([_pad_edges(out[:, c], self.window_, X.shape[0]) for c in range(X.shape[1])])

    def _score(self, X):
        return self._window_scores(self._prepare(_windows(X, self.window_)), X.shape[0])

    def _get_state(self):
        meta, arrays = super()._get_state()
        arrays.update(kept_columns_=self.kept_columns_.astype(np.uint8), selected_components_=self.selected_components_,
                      selected_weights_=self.selected_weights_)
        if self.standardization:
            arrays.update({"scaler.mean_": self.scaler_.mean_, "scaler.scale_": self.scaler_.scale_})
        return meta, arrays

    def _set_state(self, meta, arrays):
        from sklearn.preprocessing import StandardScaler

        super()._set_state(meta, arrays)
        self.kept_columns_ = np.asarray(arrays["kept_columns_"]).astype(bool)
        self.selected_components_ = np.asarray(arrays["selected_components_"], dtype=np.float64)
        self.selected_weights_ = np.asarray(arrays["selected_weights_"], dtype=np.float64)
        if self.standardization:  # only what transform reads: (W - mean_) / scale_
            self.scaler_ = StandardScaler()
            self.scaler_.mean_ = np.asarray(arrays["scaler.mean_"], dtype=np.float64)
            self.scaler_.scale_ = np.asarray(arrays["scaler.scale_"], dtype=np.float64)
            self.scaler_.n_features_in_ = len(self.scaler_.mean_)
        if len(self.kept_columns_) != self.n_channels_ * self.window_ or \
                self.selected_components_.shape[1] != int(self.kept_columns_.sum()):
            raise ValueError("stored components do not match the window and channels")


# --- Sub-IForest --------------------------------------------------------------------------------------
class SubIForest(SeriesDetector):
    """TSB-AD's ``Sub_IForest`` (``models/IForest.py``): scikit-learn's IsolationForest on sliding
    windows.

    Univariate windows are z-scored column-wise with the training windows' statistics;
    multivariate windows are z-scored each on its own (ddof=1), as TSB-AD does; NaN from constant
    columns become 0. The score is minus IsolationForest's ``decision_function`` (TSB-AD's
    ``contamination=0.1`` offset included), spread to steps like :class:`SubPCA`.

    Defaults are the leaderboard's ``Sub_IForest``: ``periodicity=1``, ``n_estimators=150`` and,
    through ``run_Sub_IForest``'s ``max_features=1``, an *integer* 1: every tree sees a single
    window position (pass ``max_features=1.0`` for all). ``random_state=0`` as in TSB-AD. For
    several channels ``window=None`` gives 100; TSB-AD's multivariate IForest uses
    ``n_estimators=25, max_features=0.8``.

    >>> x = np.sin(np.arange(600) / 5.0)
    >>> SubIForest(window=20, n_estimators=20).fit(x).decision_function(x).shape
    (600,)
    """

    name = "tsb-iforest"
    save_unsupported = ("scikit-learn's IsolationForest has no export without pickle here; refit it on the "
                        "training series (it takes seconds)")

    def __init__(self, window=None, periodicity=1, n_estimators=150, max_samples="auto", max_features=1,
                 bootstrap=False, normalize=True, n_jobs=1, contamination=0.01, random_state=0):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        if not isinstance(self.n_estimators, (int, np.integer)) or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be a positive integer, got {self.n_estimators!r}")

    def _normalise(self, W: np.ndarray, fit: bool) -> np.ndarray:
        if not self.normalize:
            return W
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.n_channels_ == 1:
                if fit:
                    self.center_, self.scale_ = W.mean(axis=0), W.std(axis=0)
                Z = (W - self.center_) / self.scale_
            else:
                Z = (W - W.mean(axis=1, keepdims=True)) / W.std(axis=1, ddof=1, keepdims=True)
        return np.nan_to_num(Z)

    def _fit(self, X):
        from sklearn.ensemble import IsolationForest

        W = self._normalise(_windows(X, self.window_), fit=True)
        if isinstance(self.max_features, (int, np.integer)) and self.max_features > W.shape[1]:
            raise ValueError(f"max_features={self.max_features} exceeds the window size x channels ({W.shape[1]})")
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                       contamination=0.1, max_features=self.max_features, bootstrap=self.bootstrap,
                                       n_jobs=self.n_jobs, random_state=self.random_state).fit(W)
        return _pad_edges(-self.forest_.decision_function(W), self.window_, X.shape[0])

    def _score(self, X):
        W = self._normalise(_windows(X, self.window_), fit=False)
        return _pad_edges(-self.forest_.decision_function(W), self.window_, X.shape[0])


# --- Matrix profile -----------------------------------------------------------------------------------
def _mp_numpy(A: np.ndarray, m: int, B: np.ndarray | None = None) -> np.ndarray:
    """Exact z-normalised matrix profile of ``A`` (self-join, exclusion zone ``ceil(m/4)``) or of
    ``A`` against ``B`` (AB-join), with stumpy's rules for constant subsequences (distance 0
    between two constant ones, ``sqrt(m)`` between a constant and a varying one)."""

    def prep(T):
        S = sliding_window_view(T, m).astype(np.float64)
        const = np.ptp(S, axis=1) == 0
        C = S - S.mean(axis=1, keepdims=True)
        sd = np.sqrt(np.mean(C * C, axis=1))
        sd[const] = 1.0
        Z = C / (sd[:, None] * math.sqrt(m))
        Z[const] = 0.0
        return Z, const

    Za, ca = prep(A)
    Zb, cb = (Za, ca) if B is None else prep(B)
    n_a, n_b = len(Za), len(Zb)
    excl = int(math.ceil(m / 4))
    out = np.empty(n_a)
    block = max(1, 4_000_000 // n_b)
    cols = np.arange(n_b)
    for s in range(0, n_a, block):
        rows = np.arange(s, min(s + block, n_a))
        rho = np.minimum(Za[rows] @ Zb.T, 1.0)
        both = ca[rows][:, None] & cb[None, :]
        one = ca[rows][:, None] ^ cb[None, :]
        rho[one] = 0.5
        rho[both] = 1.0
        if B is None:
            rho[np.abs(rows[:, None] - cols[None, :]) <= excl] = -np.inf
        best = rho.max(axis=1)
        p = np.abs(2 * m * (1 - best))
        p[p < 1e-14] = 0.0
        out[rows] = np.sqrt(p)
    return out


def _mp_stumpy(A: np.ndarray, m: int, B: np.ndarray | None = None) -> np.ndarray:
    import stumpy

    if B is None:
        prof = stumpy.stump(A, m)
    else:
        prof = stumpy.stump(A, m, B, ignore_trivial=False)
    return np.asarray(prof[:, 0], dtype=np.float64)


class MatrixProfile(SeriesDetector):
    """TSB-AD's ``MatrixProfile`` (``models/MatrixProfile.py``): each subsequence of ``window`` steps
    is scored by its z-normalised Euclidean distance to its nearest neighbour (the matrix profile;
    high = discord). The profile value is placed at the subsequence's centre (index
    ``i + window // 2``) and the edges get the profile's minimum, as in TSB-AD.

    ``mode="self"`` (TSB-AD): ``decision_function(X)`` is the self-join of ``X`` (neighbours taken
    from ``X`` itself, outside an exclusion zone of ``ceil(window / 4)``); ``fit`` only sets the
    window and channels. ``mode="train"``: neighbours are taken from the training series (an
    AB-join, stumpy's ``stump(X, m, train, ignore_trivial=False)``; scoring the training series
    itself is a self-join). ``decision_scores_`` is the self-join of the training series.

    TSB-AD's MatrixProfile is univariate only; with several channels each channel is scored
    separately (one window for all: the period of the first channel, the rule TSB-AD's
    multivariate runner uses for its window) and the per-step scores are averaged.

    ``engine``: ``"stumpy"`` (TSB-AD's; numba compiles it on first use, ~30 s), ``"numpy"`` (exact,
    blockwise ``O(T^2 window)``) or ``"auto"`` (stumpy when installed). Deterministic.

    >>> x = np.sin(np.arange(600) / 5.0)
    >>> MatrixProfile(window=20, engine="numpy").fit(x).decision_function(x).shape
    (600,)
    """

    name = "tsb-matrixprofile"
    training_scores = "self-join (each window's neighbours lie outside its exclusion zone)"
    _min_window = 3

    def __init__(self, window=None, periodicity=1, mode="self", engine="auto", contamination=0.01):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        if self.mode not in ("self", "train"):
            raise ValueError(f"mode must be 'self' or 'train', got {self.mode!r}")
        if self.engine not in ("auto", "stumpy", "numpy"):
            raise ValueError(f"engine must be 'auto', 'stumpy' or 'numpy', got {self.engine!r}")
        if self.engine == "stumpy":
            try:
                import stumpy  # noqa: F401
            except ImportError:
                raise ImportError("engine='stumpy' needs stumpy: pip install stumpy (or 'adgdm[bench]')") from None

    def _resolve_window(self, X):
        if self.window is not None:
            return int(self.window)
        return estimate_period(X[:, 0], self.periodicity)

    def _min_length(self):
        # stumpy's self-join condition: the central subsequence must have a neighbour outside the zone
        return self.window_ + 2 * int(math.ceil(self.window_ / 4)) + 1

    def _profile_fn(self):
        if self.engine == "numpy":
            return _mp_numpy
        if self.engine == "stumpy":
            return _mp_stumpy
        try:
            import stumpy  # noqa: F401
            return _mp_stumpy
        except ImportError:
            return _mp_numpy

    def _against_train(self, X) -> bool:
        return self.mode == "train" and not (X.shape == self.train_.shape and np.array_equal(X, self.train_))

    def _check_length(self, X, stage):
        if stage == "score" and self._against_train(X):
            if X.shape[0] < self.window_:
                raise ValueError(f"series has {X.shape[0]} steps, shorter than the window {self.window_}")
            return
        super()._check_length(X, stage)

    def _profile(self, X, train=None):
        fn, w, T = self._profile_fn(), self.window_, X.shape[0]
        total = np.zeros(T)
        for c in range(X.shape[1]):
            prof = fn(X[:, c], w) if train is None else fn(X[:, c], w, train[:, c])
            res = np.full(T, prof.min())
            res[w // 2: w // 2 + len(prof)] = prof
            total += res
        return total / X.shape[1]

    def _fit(self, X):
        if self.mode == "train":
            self.train_ = X.copy()
        return self._profile(X)

    def _score(self, X):
        return self._profile(X, self.train_) if self._against_train(X) else self._profile(X)

    def _get_state(self):
        meta, arrays = super()._get_state()
        if self.mode == "train":
            arrays["train_"] = self.train_
        return meta, arrays

    def _set_state(self, meta, arrays):
        super()._set_state(meta, arrays)
        if self.mode == "train":
            self.train_ = np.asarray(arrays["train_"], dtype=np.float64)
