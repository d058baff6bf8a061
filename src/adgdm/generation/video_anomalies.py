"""Synthetic video anomalies with frame labels and masks, from normal clips.

Kinds (each event covers a stretch of consecutive frames):

* ``fast-object``: a patch cut from the clip (an object-sized piece of the scene) pasted and moved
  across the frame several times faster than things usually move (a cyclist among walkers);
* ``odd-path``: such a patch moving on a zigzag path at a normal speed (wrong way, erratic);
* ``freeze``: one frame repeated (a stalled camera or feed);
* ``reverse``: the stretch played backwards (motion against the usual direction).

Labels are 1 on the frames an event touches; masks are 1 where it is (the patch; the whole frame for
``freeze`` and ``reverse``, whose anomaly is temporal).

Example
-------
>>> frames = np.random.default_rng(0).uniform(size=(40, 24, 32, 1)).astype(np.float32)
>>> inj = inject_video_anomalies(frames, n=2, kinds=["fast-object"], random_state=0)
>>> inj.frames.shape, int(inj.labels.sum()) > 0, inj.masks.shape
((40, 24, 32, 1), True, (40, 24, 32))
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["VIDEO_KINDS", "VideoInjection", "inject_video_anomalies"]

VIDEO_KINDS = ("fast-object", "odd-path", "freeze", "reverse")


@dataclass
class VideoInjection:
    """``frames`` ``(T, H, W, C)``, ``labels`` ``(T,)`` 0/1, ``masks`` ``(T, H, W)`` 0/1 and
    ``events``: one ``{"kind", "start", "stop"}`` per injected event (``stop`` exclusive)."""

    frames: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    events: list = field(default_factory=list)


def _check(frames) -> np.ndarray:
    f = np.asarray(frames)
    if f.ndim == 3:
        f = f[..., None]
    if f.ndim != 4 or len(f) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W) or (T, H, W, C) array, got shape {np.shape(frames)}")
    if not np.isfinite(f).all():
        raise ValueError("frames contain NaN or inf")
    return f.astype(np.float32, copy=True)


def _path(kind: str, length: int, h: int, w: int, ph: int, pw: int, severity: float, gen) -> np.ndarray:
    """``(length, 2)`` top-left corners of the patch, inside the frame."""
    H, W = h - ph, w - pw
    if kind == "fast-object":
        # 2% of the width per frame (x severity): about 4x a walker's pace in a Ped2-like scene
        step = max(1.0, severity * 0.02 * w)
        y0 = gen.uniform(0, H)
        x = gen.uniform(0, W) + step * np.arange(length) * gen.choice([-1, 1])
        x = np.abs((x + W) % (2 * W) - W)  # bounce off the sides
        y = np.full(length, y0)
    else:  # odd-path: zigzag at a normal pace
        step = max(1.0, 0.005 * w)
        t = np.arange(length)
        y = gen.uniform(0, H) + step * t * gen.choice([-1, 1])
        x = gen.uniform(0, W) + 3 * step * severity * np.sign(np.sin(t * np.pi / 4))
        y, x = np.abs((y + H) % (2 * H) - H), np.clip(x, 0, W)
    return np.stack([y, x], axis=1).round().astype(int)


def inject_video_anomalies(frames, n: int = 1, kinds=VIDEO_KINDS, severity: float = 1.0, length: int | None = None,
                           random_state=None) -> VideoInjection:
    """Inject ``n`` events of the given ``kinds`` (drawn in turn) into a normal clip, on
    non-overlapping stretches of ``length`` frames (default: a tenth of the clip, at least 4)."""
    f = _check(frames)
    T, h, w, _ = f.shape
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    bad = [k for k in kinds if k not in VIDEO_KINDS]
    if bad or not kinds:
        raise ValueError(f"unknown video anomaly kind(s) {bad or kinds}; choose from {', '.join(VIDEO_KINDS)}")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    if not np.isfinite(severity) or severity <= 0:
        raise ValueError(f"severity must be > 0, got {severity!r}")
    length = int(length or max(4, T // 10))
    if length < 2 or n * length > T:
        raise ValueError(f"{n} events of {length} frames do not fit in a clip of {T} frames")
    gen = np.random.default_rng(random_state)
    src = f.copy()  # patches and frozen frames come from the clean clip
    labels, masks = np.zeros(T, np.int64), np.zeros((T, h, w), np.float32)
    slots = np.sort(gen.choice(T // length, size=n, replace=False))
    offset = int(gen.integers(0, T - (T // length) * length + 1))  # one for all: stretches never overlap
    events = []
    for i, slot in enumerate(slots):
        kind = kinds[i % len(kinds)]
        a = int(slot * length + offset)
        b = min(T, a + length)
        if kind == "freeze":
            f[a:b] = src[a]
            masks[a:b] = 1
        elif kind == "reverse":
            f[a:b] = src[a:b][::-1]
            masks[a:b] = 1
        else:
            ph, pw = max(2, h // 6), max(2, w // 10)
            sy, sx = gen.integers(0, h - ph + 1), gen.integers(0, w - pw + 1)
            patch = src[gen.integers(0, T), sy:sy + ph, sx:sx + pw]
            # contrast so the pasted object is visible on a plain background
            patch = np.clip(1.0 - patch if patch.std() < 0.05 else patch, 0, 1)
            for t, (y, x) in zip(range(a, b), _path(kind, b - a, h, w, ph, pw, severity, gen)):
                f[t, y:y + ph, x:x + pw] = patch
                masks[t, y:y + ph, x:x + pw] = 1
        labels[a:b] = 1
        events.append({"kind": kind, "start": a, "stop": b})
    return VideoInjection(f, labels, masks, events)
