"""Shared by the video selection benchmarks: the object a synthetic anomaly is cut from."""
from __future__ import annotations

import numpy as np


def walker(f: np.ndarray):
    """The clip's most salient moving object: a box around the largest deviation from the clip's
    median frame (the static background), and the mask of its pixels."""
    from scipy.ndimage import binary_dilation, uniform_filter

    bg = np.median(f, axis=0)
    dev = np.abs(f - bg)
    t0 = int(np.argmax(uniform_filter(dev, (1, 15, 15)).reshape(len(f), -1).max(1)))
    H, W = bg.shape
    r, c = np.unravel_index(int(np.argmax(uniform_filter(dev[t0], 15))), (H, W))
    h, w = 40, 24
    r0, c0 = int(np.clip(r - h // 2, 0, H - h)), int(np.clip(c - w // 2, 0, W - w))
    patch = f[t0, r0:r0 + h, c0:c0 + w].copy()
    mask = binary_dilation(dev[t0, r0:r0 + h, c0:c0 + w] > 0.08, iterations=1)
    return patch, mask, r0
