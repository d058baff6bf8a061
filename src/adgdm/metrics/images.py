"""Metrics for image anomaly detection with localisation: pixel AUROC, AUPRO, image scores, best F1.

Masks are ``(N, H, W)`` arrays of 0/1 (or bool, 1 = anomalous pixel) and anomaly maps are
``(N, H, W)`` float arrays of the same shape, higher = more anomalous. Every problem raises a
``ValueError`` that names it.

Example
-------
>>> masks = np.zeros((2, 8, 8), dtype=np.uint8)
>>> masks[0, 2:4, 2:4] = 1
>>> maps = masks + 0.1 * np.arange(64).reshape(8, 8) / 64   # anomalies on top, ties broken
>>> pixel_auroc(masks, maps), round(aupro(masks, maps), 6)
(1.0, 1.0)
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from .._validation import read_array
from .series import best_f1 as _series_best_f1

__all__ = ["pixel_auroc", "aupro", "image_scores_from_maps", "best_f1"]

MAX_PIXELS = 2_000_000  # pixels handed to roc_auc_score (it sorts and copies them several times)
# 8-connectivity within each image, never across images (scipy wants a 3x3x3 structure for 3-D)
_EIGHT = np.zeros((3, 3, 3), dtype=bool)
_EIGHT[1] = True


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _maps(maps, name: str = "maps") -> np.ndarray:
    a = read_array(maps, name)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim != 3:
        hint = "; squeeze the channel axis first, e.g. maps[:, 0]" if a.ndim == 4 else ""
        hint = "; add an image axis, e.g. maps[None]" if a.ndim == 2 else hint
        raise ValueError(f"{name} must be 3-D (N, H, W), got shape {a.shape}{hint}")
    if a.size == 0:
        raise ValueError(f"{name} is empty, shape {a.shape}")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ValueError(f"{name} contain {int((~np.isfinite(a)).sum())} NaN or inf values")
    return a


def _pair(masks, maps) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(bool masks, numeric maps)`` of the same (N, H, W) shape."""
    a = _maps(maps)
    m = _maps(masks, "masks")
    if m.shape != a.shape:
        raise ValueError(f"masks {m.shape} and maps {a.shape} differ in shape")
    if m.dtype != bool:
        ok = (m == 0) | (m == 1)
        if not ok.all():
            bad = np.unique(m[~ok])[:5]
            raise ValueError(f"masks must be 0/1 (1 = anomalous pixel); found values such as {bad.tolist()}")
        m = m.astype(bool)
    return m, a


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------
def _stratified_sample(masks: np.ndarray, maps: np.ndarray, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``k`` pixels without replacement, each class in proportion to its count (at least 1 each).

    Ranks are drawn per class and resolved image by image, so no index array over all pixels is
    ever built.
    """
    per_image_pos = masks.reshape(len(masks), -1).sum(axis=1)
    n_pos, n = int(per_image_pos.sum()), masks.size
    k_pos = min(max(1, round(k * n_pos / n)), n_pos, k - 1)
    picks = []
    for cls, count, per_image in ((True, n_pos, per_image_pos), (False, n - n_pos, masks[0].size - per_image_pos)):
        ranks = np.sort(rng.choice(count, size=k_pos if cls else k - k_pos, replace=False))
        bounds = np.concatenate(([0], np.cumsum(per_image)))
        cut = np.searchsorted(ranks, bounds)
        for i in range(len(masks)):
            if cut[i] == cut[i + 1]:
                continue
            where = np.flatnonzero(masks[i].ravel() == cls)
            picks.append((i, where[ranks[cut[i]:cut[i + 1]] - bounds[i]], cls))
    y = np.concatenate([np.full(len(idx), cls) for _, idx, cls in picks])
    s = np.concatenate([maps[i].ravel()[idx] for i, idx, _ in picks]).astype(np.float64)
    return y, s


def pixel_auroc(masks, maps, *, max_pixels: int = MAX_PIXELS, random_state=0) -> float:
    """ROC AUC over all pixels of all images (scikit-learn's ``roc_auc_score``).

    Parameters
    ----------
    masks : array-like, (N, H, W)
        Ground truth, 0/1 or bool (1 = anomalous pixel). Both classes must occur.
    maps : array-like, (N, H, W)
        Anomaly maps, higher = more anomalous; NaN or inf is an error.
    max_pixels : int, default 2_000_000
        Above this many pixels a stratified random subset of ``max_pixels`` pixels is scored
        (each class in proportion, seeded), which bounds memory; the AUROC estimate then has a
        standard error well below 1e-3 for realistic class balances.
    random_state : int or numpy Generator, default 0
        Seed of the subsample (only used above ``max_pixels``).

    Returns
    -------
    float

    Examples
    --------
    >>> masks = np.array([[[0, 1], [0, 0]]])
    >>> pixel_auroc(masks, [[[0.1, 0.9], [0.2, 0.3]]]), pixel_auroc(masks, [[[0.9, 0.1], [0.2, 0.3]]])
    (1.0, 0.0)
    """
    m, a = _pair(masks, maps)
    n_pos = int(m.sum())
    if n_pos == 0 or n_pos == m.size:
        which = "no anomalous pixel (all 0)" if n_pos == 0 else "no normal pixel (all 1)"
        raise ValueError(f"pixel_auroc needs both classes in masks; they hold {which}")
    if max_pixels < 2:
        raise ValueError(f"max_pixels must be at least 2, got {max_pixels}")
    if m.size <= max_pixels:
        return float(roc_auc_score(m.ravel(), a.ravel().astype(np.float64)))
    y, s = _stratified_sample(m, a, int(max_pixels), np.random.default_rng(random_state))
    return float(roc_auc_score(y, s))


def _pro_curve(masks: np.ndarray, maps: np.ndarray, fpr_limit: float, n_thresholds: int):
    """(fpr, pro) points, sorted by fpr, covering [0, fpr_limit]; a pixel counts when ``map > t``."""
    regions, n_regions = ndimage.label(masks, structure=_EIGHT)
    if n_regions == 0:
        raise ValueError("aupro needs at least one anomalous region; masks are all 0")
    normal = np.sort(maps[~masks].astype(np.float64))
    n = normal.size
    if n == 0:
        raise ValueError("aupro needs normal pixels (mask 0) to measure false positives; masks are all 1")
    # thresholds at the quantiles of the normal pixels: FPR then steps evenly from 0 to fpr_limit
    # (the first one is the normal maximum, where FPR is exactly 0)
    thr = np.quantile(normal, np.linspace(1.0, 1.0 - fpr_limit, n_thresholds))
    lab = regions[masks]
    vals = maps[masks].astype(np.float64)
    # ... plus the first curve vertex with FPR >= fpr_limit, so that the interpolation at fpr_limit
    # is bracketed by real points: the highest map value (normal or not) below the
    # ceil(fpr_limit * n)-th largest normal value, or -inf (FPR 1, PRO 1) if there is none
    cut = normal[n - min(n, math.ceil(fpr_limit * n - 1e-9))]
    i = np.searchsorted(normal, cut, side="left")
    below = np.concatenate((normal[i - 1:i] if i else normal[:0], vals[vals < cut]))
    thr = np.append(thr, below.max() if below.size else -np.inf)
    fpr = (n - np.searchsorted(normal, thr, side="right")) / n

    # PRO: per region, fraction of its pixels above each threshold (sort once, then search)
    order = np.lexsort((vals, lab))
    lab, vals = lab[order], vals[order]
    starts = np.searchsorted(lab, np.arange(1, n_regions + 1), side="left")
    ends = np.append(starts[1:], lab.size)
    overlap = np.zeros(thr.size)
    for s, e in zip(starts, ends):
        overlap += (e - s - np.searchsorted(vals[s:e], thr, side="right")) / (e - s)
    pro = overlap / n_regions

    # thresholds descend, so fpr and pro ascend (ties among quantiles just repeat a point)
    return fpr, pro


def aupro(masks, maps, fpr_limit: float = 0.3, n_thresholds: int = 200) -> float:
    """Normalised area under the per-region-overlap curve up to ``fpr_limit`` (MVTec AD's AUPRO).

    Every 8-connected component of every ground-truth mask is a region. At a threshold ``t``,
    PRO is the mean over regions of the fraction of the region's pixels with ``map > t`` (each
    region weighs the same, whatever its size) and FPR is the fraction of normal pixels (mask 0,
    over all images) with ``map > t``. Thresholds are quantiles of the maps on normal pixels, so
    FPR steps evenly over ``[0, fpr_limit]``; PRO is integrated over FPR with the trapezoidal rule
    (the point at ``fpr_limit`` linearly interpolated) and divided by ``fpr_limit``, as anomalib
    does. A perfect map scores 1; a random map about ``fpr_limit / 2``.

    Parameters
    ----------
    masks : array-like, (N, H, W)
        Ground truth, 0/1 or bool; at least one anomalous and one normal pixel.
    maps : array-like, (N, H, W)
        Anomaly maps, higher = more anomalous; NaN or inf is an error.
    fpr_limit : float in (0, 1], default 0.3
    n_thresholds : int >= 2, default 200

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    Two regions, only the left one detected: PRO is 0.5 at every FPR.

    >>> masks = np.zeros((1, 6, 10), dtype=np.uint8)
    >>> masks[0, 1:3, 1:3] = masks[0, 1:3, 6:8] = 1
    >>> maps = np.full((1, 6, 10), 0.5) + 0.01 * np.random.default_rng(0).random((1, 6, 10))
    >>> maps[0, 1:3, 1:3], maps[0, 1:3, 6:8] = 1.0, 0.0
    >>> round(aupro(masks, maps), 6)
    0.5
    """
    if not (isinstance(fpr_limit, (int, float, np.floating)) and 0 < fpr_limit <= 1):
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit!r}")
    if not (isinstance(n_thresholds, (int, np.integer)) and n_thresholds >= 2):
        raise ValueError(f"n_thresholds must be an integer >= 2, got {n_thresholds!r}")
    m, a = _pair(masks, maps)
    fpr, pro = _pro_curve(m, a, float(fpr_limit), int(n_thresholds))
    keep = fpr <= fpr_limit
    x, y = fpr[keep], pro[keep]
    if x[-1] < fpr_limit:  # interpolate the curve at fpr_limit from the first point past it
        j = int(np.argmax(~keep))
        x0, x1, y0, y1 = fpr[j - 1], fpr[j], pro[j - 1], pro[j]
        x, y = np.append(x, fpr_limit), np.append(y, y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0))
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))
    return min(max(area / fpr_limit, 0.0), 1.0)


def image_scores_from_maps(maps, top_k: float = 0.01) -> np.ndarray:
    """Image-level anomaly score: the mean of the ``top_k`` fraction of highest pixels of each map.

    Parameters
    ----------
    maps : array-like, (N, H, W)
    top_k : float in (0, 1], default 0.01
        Fraction of pixels averaged, ``round(top_k * H * W)`` but at least 1 (``1.0`` = mean of
        the map; a tiny value = its maximum).

    Returns
    -------
    ndarray, float64, (N,)

    Examples
    --------
    >>> maps = np.arange(2 * 10 * 10, dtype=float).reshape(2, 10, 10)
    >>> image_scores_from_maps(maps, top_k=0.02)
    array([ 98.5, 198.5])
    """
    a = _maps(maps)
    if not (isinstance(top_k, (int, float, np.floating)) and 0 < top_k <= 1):
        raise ValueError(f"top_k must be a fraction in (0, 1], got {top_k!r}")
    flat = a.reshape(len(a), -1).astype(np.float64)
    k = max(1, min(flat.shape[1], round(top_k * flat.shape[1])))
    return np.partition(flat, flat.shape[1] - k, axis=1)[:, flat.shape[1] - k:].mean(axis=1)


def best_f1(labels, scores) -> float:
    """Best F1 of the anomaly class over all thresholds (``score >= threshold``).

    Uses scikit-learn's ``precision_recall_curve``. The threshold is picked on the evaluated
    labels, so this is an oracle upper bound. For the threshold as well, use
    :func:`adgdm.metrics.series.best_f1`, which returns ``(f1, threshold)``.

    Parameters
    ----------
    labels : array-like of 0/1 (any shape, flattened; e.g. image labels or pixel masks)
    scores : array-like, same number of elements

    Returns
    -------
    float

    Examples
    --------
    >>> best_f1([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), round(best_f1([0, 1, 0, 1], [0.1, 0.2, 0.8, 0.9]), 4)
    (1.0, 0.8)
    """
    return _series_best_f1(labels, scores)[0]
