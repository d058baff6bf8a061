"""Explanations: how much each feature (tables) or channel (series) contributes to an anomaly score.

``explain(detector, X)`` returns non-negative contributions, one per row and feature (``(n, d)``)
or per step and channel (``(T, C)``); ``top_features`` turns them into each row's top-k
``(name, share)``. Where the detector reconstructs its input, the explanation is the model's own
reconstruction error per feature; any other detector is explained by occlusion:

* ``diffusion``: ``(z - E[x_0 | z])^2`` per feature, the squared residual of the ideal denoiser
  (the posterior mean over the nearest training rows) at the fine noise levels, averaged over them,
  in standardised units. Its sum is the fine reconstruction error the score is built on.
* ``ddpm`` (``score="reconstruction"``): the squared reconstruction error per feature from partial
  noise, divided by the feature count, so a row's contributions sum to its score.
* ``series``: the ideal-denoiser residual of the window ending at each step, summed over the
  window's steps per channel. ``series-recon|impute|forecast``: each channel's error, divided by
  its typical training error, averaged over the windows that cover the step; the contributions of
  a step add up to its score plus a constant (``smooth`` applies the same trailing mean).
* otherwise, occlusion: feature ``j`` of each row (channel ``c`` of the whole series) is replaced by
  its training median (or ``baseline``) and the contribution is the drop in score, ``max(s(x) -
  s(x with j replaced), 0)``: a feature that, set to a typical value, makes the row normal gets
  credit. Features that only act together share no credit (occlusion sees one at a time).

Example
-------
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4))
>>> det = adgdm.make_detector("diffusion").fit(X)
>>> x = np.zeros((1, 4)); x[0, 2] = 8.0
>>> top_features(det.explain(x), ["a", "b", "c", "d"], k=1)[0][0][0]
'c'
"""
from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError

from ._validation import check_series, check_tabular

__all__ = ["explain", "top_features", "METHODS"]

METHODS = ("auto", "model", "occlusion")


def explain(detector, X, baseline=None, method: str = "auto", max_rows: int = 65536) -> np.ndarray:
    """Non-negative contribution of each feature (channel) to each row's (step's) anomaly score.

    Parameters
    ----------
    detector : a fitted tabular or series detector.
    X : rows ``(n, d)`` for a tabular detector, a series ``(T,)`` or ``(T, C)`` for a series one.
    baseline : occlusion only: the value each feature (channel) is replaced by, shape ``(d,)``
        (``(C,)``) or a scalar. Default: the training median the detector stored at ``fit``; a
        detector that has none (a model saved before explanations and without training rows) needs it.
    method : ``"auto"`` (the model's own reconstruction where it has one, else occlusion),
        ``"model"`` (the reconstruction, an error if there is none) or ``"occlusion"``.
    max_rows : occlusion scores ``n * d`` modified rows in calls of at most this many rows.

    Returns
    -------
    ``(n, d)`` for tables, ``(T, C)`` for series; float64, ``>= 0``. Units differ between
    detectors: compare contributions within a row (``top_features``), not across detectors.

    Example
    -------
    >>> det = adgdm.make_detector("pyod-knn").fit(X_train)          # doctest: +SKIP
    >>> contrib = explain(det, X_test)                              # occlusion  # doctest: +SKIP
    >>> top_features(contrib, ["age", "income", "debt"], k=2)[0]    # doctest: +SKIP
    [('income', 0.91), ('debt', 0.09)]
    """
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be an integer >= 1, got {max_rows!r}")
    if not hasattr(detector, "decision_scores_") or not hasattr(detector, "decision_function"):
        raise NotFittedError(f"{type(detector).__name__} is not a fitted detector; call fit first")
    modality = getattr(detector, "modality", "tabular")
    if modality == "series":
        return _explain_series(detector, X, baseline, method)
    if modality != "tabular":
        raise ValueError(f"explain supports tabular and series detectors, not {modality!r} ones "
                         f"({type(detector).__name__}); image detectors have score maps")
    arr, _ = check_tabular(X, detector.n_features_in_, getattr(detector, "feature_names_in_", None))
    if method != "occlusion":
        own = _tabular_model_explanation(detector, arr)
        if own is not None:
            return own
        if method == "model":
            raise ValueError(f"{type(detector).__name__} has no per-feature reconstruction to explain with; "
                             f"use method='occlusion'")
    base = _baseline(baseline, _tabular_median(detector), arr.shape[1], "feature")
    return _occlusion_tabular(detector, arr, base, int(max_rows))


def top_features(contrib, names=None, k: int = 3) -> list[list[tuple[str, float]]]:
    """Each row's ``k`` largest contributions as ``(name, share)``, largest first.

    A share is the contribution over the row's total, so the shares of a row sum to at most 1
    (exactly 1 when ``k`` covers every feature that contributes). Features with no contribution are
    left out, so a row whose contributions are all 0 gives ``[]``.

    Parameters
    ----------
    contrib : ``(n, d)`` from :func:`explain` (or one row ``(d,)``).
    names : ``d`` feature (channel) names; default ``"0"``, ``"1"``, ...
    k : how many per row, ``>= 1``.

    Example
    -------
    >>> top_features(np.array([[1.0, 3.0, 0.0]]), ["a", "b", "c"], k=2)
    [[('b', 0.75), ('a', 0.25)]]
    """
    C = np.asarray(contrib, dtype=np.float64)
    if C.ndim == 1:
        C = C[None, :]
    if C.ndim != 2 or C.shape[1] == 0:
        raise ValueError(f"contrib must be (n, d), got shape {np.shape(contrib)}")
    if not np.isfinite(C).all():
        raise ValueError("contrib contains NaN or inf")
    if (C < 0).any():
        raise ValueError("contrib must be non-negative (as explain returns it)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    d = C.shape[1]
    names = [str(j) for j in range(d)] if names is None else [str(n) for n in names]
    if len(names) != d:
        raise ValueError(f"names has {len(names)} entries, but contrib has {d} columns")
    totals = C.sum(axis=1)
    order = np.argsort(-C, axis=1, kind="stable")[:, : int(k)]
    out = []
    for i in range(len(C)):
        if totals[i] <= 0:
            out.append([])
            continue
        out.append([(names[j], float(C[i, j] / totals[i])) for j in order[i] if C[i, j] > 0])
    return out


# --- baselines -----------------------------------------------------------------------------------------
def _baseline(baseline, median, d: int, what: str) -> np.ndarray:
    if baseline is None:
        if median is None:
            raise ValueError(f"this detector stores no training median to occlude with; pass baseline= "
                             f"(one value per {what}, e.g. the median of the training data)")
        return np.asarray(median, dtype=np.float64)
    try:
        b = np.asarray(baseline, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"baseline must be numbers, got {baseline!r}") from None
    if b.ndim == 0:
        b = np.full(d, float(b))
    b = b.reshape(-1) if b.ndim == 2 and b.shape[0] == 1 else b
    if b.shape != (d,):
        raise ValueError(f"baseline must have one value per {what} ({d}), got shape {np.shape(baseline)}")
    if not np.isfinite(b).all():
        raise ValueError("baseline contains NaN or inf")
    return b


def _tabular_median(det):
    """The training median per feature, in the units ``decision_function`` takes, or None."""
    from .detectors.base import BaseDetector

    if getattr(det, "feature_median_", None) is not None:
        return det.feature_median_
    Xt = getattr(det, "X_train_", None)
    # models saved before feature_median_ existed: their training rows, if stored and only standardised
    if isinstance(Xt, np.ndarray) and Xt.ndim == 2 and Xt.shape[1] == det.n_features_in_ \
            and type(det)._transform is BaseDetector._transform:
        med = np.median(Xt, axis=0)
        return med * det.scale_ + det.center_ if getattr(det, "standardize", False) else med
    base = getattr(det, "base_", None)  # cycle: the diffusion detector it is built on saw the same rows
    if base is not None and getattr(base, "n_features_in_", None) == det.n_features_in_:
        return _tabular_median(base)
    return None


# --- tabular ------------------------------------------------------------------------------------------
def _tabular_model_explanation(det, arr):
    from .detectors.tabular.ddpm import DDPMDetector
    from .detectors.tabular.diffusion import DiffusionDetector

    if isinstance(det, DiffusionDetector):
        return _diffusion_residual(det, det._transform(arr))
    if isinstance(det, DDPMDetector) and det.score == "reconstruction":
        from .scores import reconstruction_residual

        def fn(x, gen):  # the arguments of DDPMDetector._score, per element
            return reconstruction_residual(det.net_, det.schedule_, x, det._timesteps(), det.steps, det.sampler,
                                           det.n_repeats, gen)

        return det._batched(fn, det._transform(arr)) / arr.shape[1]
    return None


def _diffusion_residual(det, Z: np.ndarray) -> np.ndarray:
    """``(n, d)`` ideal-denoiser residual of the standardised rows ``Z`` of a fitted ``diffusion``
    detector, at its fine noise levels (``n_neighbors`` rows), averaged over the levels."""
    from .scores import ideal_denoiser_residual

    k, step = int(det.n_neighbors), int(det.chunk_size)
    out = np.empty(Z.shape)
    for i in range(0, len(Z), step):
        q = Z[i : i + step]
        dist, idx, counts = det.knn_.neighbours(q, k)
        res = [ideal_denoiser_residual(q, dist, idx, counts, det.knn_.unique, s2) for s2 in det.sigma2_]
        out[i : i + len(q)] = np.mean(res, axis=0)
    return out


def _occlusion_tabular(det, arr: np.ndarray, base: np.ndarray, max_rows: int) -> np.ndarray:
    n, d = arr.shape
    s0 = det.decision_function(arr)
    out = np.empty((n, d))
    per_call = max(1, max_rows // d)  # rows of X per call: each becomes d occluded copies
    diag = np.arange(d)
    for i in range(0, n, per_call):
        block = arr[i : i + per_call]
        m = len(block)
        occluded = np.repeat(block[:, None, :], d, axis=1)  # (m, d copies, d features)
        occluded[:, diag, diag] = base  # copy j has feature j set to the baseline
        s = det.decision_function(occluded.reshape(m * d, d)).reshape(m, d)
        out[i : i + m] = np.maximum(s0[i : i + m, None] - s, 0.0)
    return out


# --- series -------------------------------------------------------------------------------------------
def _series_array(det, X) -> np.ndarray:
    fill = getattr(det, "fill", None)
    arr, _ = check_series(X, det.n_channels_, getattr(det, "channel_names_", None), fill=fill)
    return arr


def _series_median(det):
    from .detectors.series.base import SeriesBase

    if getattr(det, "channel_median_", None) is not None:
        return det.channel_median_
    if isinstance(det, SeriesBase) and getattr(det, "center_", None) is not None:
        return det.center_  # every SeriesBase detector centres each channel on its training median
    return None


def _explain_series(det, X, baseline, method) -> np.ndarray:
    from .detectors.series.window import SeriesDiffusionDetector
    from .detectors.series.diffusion import SeriesDiffusion

    arr = _series_array(det, X)
    if method != "occlusion":
        if isinstance(det, SeriesDiffusion):
            return _per_channel_smooth(det, _series_default_residual(det, arr))
        if isinstance(det, SeriesDiffusionDetector):
            return _per_channel_smooth(det, _series_window_errors(det, arr))
        if method == "model":
            raise ValueError(f"{type(det).__name__} exposes no per-channel errors to explain with; "
                             f"use method='occlusion'")
    base = _baseline(baseline, _series_median(det), arr.shape[1], "channel")
    s0 = det.decision_function(arr)
    out = np.empty(arr.shape)
    for c in range(arr.shape[1]):
        occluded = arr.copy()
        occluded[:, c] = base[c]
        out[:, c] = np.maximum(s0 - det.decision_function(occluded), 0.0)
    return out


def _per_channel_smooth(det, per: np.ndarray) -> np.ndarray:
    """The detector's trailing mean, per channel (it is linear, so the sum over channels is kept)."""
    if int(getattr(det, "smooth", 1)) == 1:
        return per
    return np.column_stack([det._smooth(per[:, c]) for c in range(per.shape[1])])


def _series_default_residual(det, arr: np.ndarray) -> np.ndarray:
    """``series``: the residual of the window ending at each step, summed over its steps per channel."""
    from .detectors.series.diffusion import causal_windows

    if len(arr) < int(det.window_):
        raise ValueError(f"series has {len(arr)} steps, fewer than the window length {det.window_}")
    w, C = int(det.window_), det.n_channels_
    W = causal_windows((arr - det.center_) / det.scale_, w)  # row t: steps t-w+1..t, (step, channel) order
    R = _diffusion_residual(det.tab_, det.tab_._transform(W))
    return R.reshape(len(arr), w, C).sum(axis=1)


def _series_window_errors(det, arr: np.ndarray) -> np.ndarray:
    """``series-recon|impute|forecast``: per-channel version of the detector's ``_fold_mode`` and
    ``_combine``; summed over channels it is the unsmoothed score plus ``mean(center / scale)``
    over the modes (steps no window of a mode covers get 0 from it)."""
    from .data.windows import fold, grid_starts, window_view

    Z = det._scaled(arr)
    T, L, C = len(Z), int(det.window), det.n_channels_
    modes = det._modes()
    total = np.zeros((T, C))
    for m in modes:
        starts = grid_starts(T, L, det._stride(m))
        sums, counts = np.zeros((T, C)), np.zeros(T)
        covered = int(starts[-1]) + L if len(starts) else 0
        windows = [(starts, None)]
        if covered < T:  # the end-aligned window for the steps after the grid, as _finish adds it
            windows.append((np.array([T - L]), max(0, covered - (T - L))))
        for st, skip in windows:
            errs, wts = det._window_errors(window_view(Z, st, L), m)
            if skip is not None:
                wts[:, :skip] = 0.0
            per = errs / det.channel_scale_[m][None, :, None]
            for c in range(C):
                s, cnt = fold(per[:, c, :], wts, st, T)
                sums[:, c] += s
            counts += cnt
        ok = counts > 0
        contrib = np.zeros((T, C))
        contrib[ok] = sums[ok] / counts[ok, None]
        total += contrib / (C * det.mode_scale_[m])
    return total / len(modes)
