"""A seeded synthetic video for tests and label-free checks: squares drifting slowly over a
textured background, with optional anomalies (a square moving ``fast_factor`` times too fast, or a
new shape, a dark cross, moving at normal speed).

Example
-------
>>> clip, labels, boxes = moving_squares(30, seed=0, anomaly="fast", start=10)
>>> clip.shape, int(labels.sum()) > 0
((30, 48, 64), True)
"""
from __future__ import annotations

import numpy as np

__all__ = ["moving_squares"]


def _texture(shape, rng) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    t = gaussian_filter(rng.random(shape), 2.0)
    t = (t - t.min()) / (t.max() - t.min() + 1e-9)
    return 0.3 + 0.06 * t


def moving_squares(T: int = 60, seed: int = 0, anomaly: str | None = None, start: int = 20, length: int = 20,
                   shape=(48, 64), n_squares: int = 3, side: int = 8, speed: float = 1.0, fast_factor: float = 4.0):
    """``(frames (T, H, W) in [0, 1], labels (T,) 0/1, boxes (T, 4) of the anomalous object's
    (top, left, bottom, right) or -1)``. Squares bounce off the borders; the background is the same
    texture for every seed (a fixed scene, as a fixed camera sees); the squares' starting places
    and directions depend on ``seed``. ``anomaly``: None, ``"fast"`` or ``"shape"`` during frames
    ``start .. start + length - 1``."""
    H, W = shape
    bg = _texture(shape, np.random.default_rng(12345))
    rng = np.random.default_rng(seed)
    pos = np.column_stack([rng.uniform(0, H - side, n_squares), rng.uniform(0, W - side, n_squares)])
    ang = rng.uniform(0, 2 * np.pi, n_squares)
    vel = speed * np.column_stack([np.sin(ang), np.cos(ang)])
    apos = np.array([rng.uniform(0, H - side), rng.uniform(0, W - side)])
    aang = rng.uniform(0, 2 * np.pi)
    avel = speed * np.array([np.sin(aang), np.cos(aang)]) * (fast_factor if anomaly == "fast" else 1.0)
    frames = np.empty((T, H, W), np.float32)
    labels = np.zeros(T, np.int64)
    boxes = -np.ones((T, 4), np.int64)
    lim = np.array([H - side, W - side], float)
    big = side + side // 2  # the cross's arm length (cut at the frame's border)

    def step(p, v):
        p = p + v
        for d in range(2):
            if p[d] < 0 or p[d] > lim[d]:
                v[d] = -v[d]
                p[d] = np.clip(p[d], 0, lim[d])
        return p, v

    for t in range(T):
        f = bg.copy()
        for i in range(n_squares):
            r, c = (int(round(v)) for v in pos[i])
            f[r:r + side, c:c + side] = 0.9
            pos[i], vel[i] = step(pos[i], vel[i])
        if anomaly is not None and start <= t < start + length:
            r, c = (int(round(v)) for v in apos)
            if anomaly == "fast":
                f[r:r + side, c:c + side] = 0.9
            else:  # a dark cross, half as large again: a shape and shade no normal object has
                m = big // 2
                f[r + m - 2:r + m + 2, c:c + big] = 0.05
                f[r:r + big, c + m - 2:c + m + 2] = 0.05
            labels[t] = 1
            size = side if anomaly == "fast" else big
            boxes[t] = (r, c, min(H, r + size), min(W, c + size))
            apos, avel = step(apos, avel)
        frames[t] = f
    return frames, labels, boxes
