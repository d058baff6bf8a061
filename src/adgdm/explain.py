"""Explanations: how much each feature (tables) or channel (series) contributes to an anomaly score.

``explain(detector, X)`` returns non-negative contributions, one per row and feature (``(n, d)``)
or per step and channel (``(T, C)``); ``top_features`` turns them into each row's top-k
``(name, share)``. Where the detector reconstructs its input, the explanation is the model's own
reconstruction error per feature; any other detector is explained by occlusion:

* ``diffusion``: ``(z - E[x_0 | z])^2`` per feature, the squared residual of the ideal denoiser
  (the posterior mean over the nearest training rows) at the fine noise levels, averaged over them,
  in standardised units. Its sum is the fine reconstruction error the score is built on.
* ``ddpm`` (``scoring="reconstruction"``): the squared reconstruction error per feature from partial
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


__all__ = ["explain", "top_features", "check_baseline", "METHODS"]

METHODS = ("auto", "model", "occlusion")


def explain(detector, X, baseline=None, method: str = "auto", max_rows: int = 65536) -> np.ndarray:
    """Non-negative contribution of each feature (channel) to each row's (step's) anomaly score:
    ``detector.explain(X, ...)``, which every detector has (the modality and the detector decide
    how; image detectors answer with their anomaly maps).

    Parameters
    ----------
    detector : a fitted detector.
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
    check_explain_args(method, max_rows)
    if not hasattr(detector, "decision_scores_") or not hasattr(detector, "explain"):
        raise NotFittedError(f"{type(detector).__name__} is not a fitted detector; call fit first")
    return detector.explain(X, baseline=baseline, method=method, max_rows=max_rows)


def check_explain_args(method: str, max_rows) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be an integer >= 1, got {max_rows!r}")


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
def check_baseline(baseline, median, d: int, what: str) -> np.ndarray:
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
