"""Sliding windows over a series and their fold back to one value per step.

The grid is anchored at step 0: windows start at ``0, stride, 2 * stride, ...`` while they fit.
Steps after the last grid window are covered by one extra window aligned to the end, used only
for those steps. The same rule, applied as data arrive, is what makes streaming scores equal
batch scores (see ``adgdm.detectors.series.window.SeriesStream``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["grid_starts", "window_view", "fold"]


def grid_starts(n_steps: int, length: int, stride: int) -> np.ndarray:
    """Start indices of the complete grid windows of a series of ``n_steps``."""
    if n_steps < length:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_steps - length + 1, stride, dtype=np.int64)


def window_view(values: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """``(n_windows, channels, length)`` windows of ``values`` ``(T, channels)`` at ``starts`` (a copy)."""
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)[None, :]
    return np.ascontiguousarray(values[idx].transpose(0, 2, 1))


def fold(per_position: np.ndarray, weights: np.ndarray, starts: np.ndarray, n_steps: int, offset: int = 0):
    """Sum ``per_position`` ``(n_windows, length)`` and ``weights`` (same shape, 1 where a window
    scores a position) onto steps ``offset .. offset + n_steps - 1``; returns ``(sums, counts)``.

    Example
    -------
    >>> s, c = fold(np.ones((2, 4)), np.ones((2, 4)), np.array([0, 2]), 6)
    >>> c.tolist()
    [1.0, 1.0, 2.0, 2.0, 1.0, 1.0]
    """
    length = per_position.shape[1]
    idx = (np.asarray(starts, dtype=np.int64)[:, None] - offset + np.arange(length)[None, :]).ravel()
    keep = (idx >= 0) & (idx < n_steps)
    w = np.asarray(weights, dtype=np.float64).ravel()[keep]
    sums = np.bincount(idx[keep], weights=np.asarray(per_position, dtype=np.float64).ravel()[keep] * w,
                       minlength=n_steps)
    counts = np.bincount(idx[keep], weights=w, minlength=n_steps)
    return sums[:n_steps], counts[:n_steps]
