"""Video: one clip ``(T, H, W)`` or ``(T, H, W, C)`` in [0, 1] (uint8 frames are divided by 255),
a :class:`adgdm.data.video.Clip`, or a list of those; a score and an anomaly map per frame.

The adapter validates once: at least one clip, finite values in [0, 1], the same number of
channels everywhere, every clip at least ``history + 1`` frames long (the detector's history
plus the frame it scores), and, for a detector that does not resize (``size=None``), one frame
size across clips and the fitted one at scoring. It returns ``[(name, frames (T, H, W, C)
float32), ...]`` and records ``frame_shape_`` (the first clip's ``(H, W)``) and ``n_channels_``.

Example
-------
>>> clips = VideoModality().as_clips([np.zeros((4, 8, 8)), np.ones((3, 8, 8, 1))])
>>> [(n, f.shape) for n, f in clips]
[('0', (4, 8, 8, 1)), ('1', (3, 8, 8, 1))]
"""
from __future__ import annotations

import numpy as np

from .base import Modality, register_modality

__all__ = ["VideoModality"]


class VideoModality(Modality):
    name = "video"
    unit = "frame"
    scored_units = "frames"
    part = "pixel"
    own_evidence = "anomaly map"
    default_detector = "video"
    source = "folder"
    fit_input = "clips"
    fitted_meta = ("frame_shape_", "n_channels_")

    @staticmethod
    def as_clips(X) -> list[tuple[str, np.ndarray]]:
        """``X`` -> ``[(name, float32 (T, H, W, C)), ...]`` with shapes and values checked."""
        from ..data.video import Clip

        items = list(X) if isinstance(X, (list, tuple)) else [X]
        if not items:
            raise ValueError("video input is empty: pass a clip (T, H, W[, C]), a Clip, or a list of them")
        out = []
        for i, item in enumerate(items):
            name, frames = (item.name, item.frames) if isinstance(item, Clip) else (str(i), item)
            try:
                arr = np.asarray(frames)
            except (TypeError, ValueError) as e:
                raise ValueError(f"clip {name!r}: frames must be a numeric array ({e})") from None
            if arr.ndim == 3:
                arr = arr[..., None]
            if arr.ndim != 4 or arr.shape[3] not in (1, 3):
                raise ValueError(f"clip {name!r}: frames must have shape (T, H, W) or (T, H, W, C) with C = 1 or 3, "
                                 f"got shape {arr.shape}")
            if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
                raise ValueError(f"clip {name!r} is empty (shape {arr.shape})")
            if arr.dtype == np.uint8:
                arr = arr / 255.0
            if not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"clip {name!r}: frames must be numeric, got dtype {arr.dtype}")
            arr = arr.astype(np.float32, copy=False)
            if not np.isfinite(arr).all():
                raise ValueError(f"clip {name!r} holds non-finite values (NaN or inf)")
            lo, hi = float(arr.min()), float(arr.max())
            if lo < -1e-3 or hi > 1 + 1e-3:
                raise ValueError(f"clip {name!r}: frames must be in [0, 1], got values in [{lo:g}, {hi:g}] "
                                 "(divide 8-bit frames by 255)")
            out.append((name, arr))
        return out

    def check(self, det, X, fitting: bool):
        clips = self.as_clips(X)
        need = int(det._history()) + 1
        for name, arr in clips:
            if len(arr) < need:
                raise ValueError(f"clip {name!r} has {len(arr)} frame(s); {det.name} needs at least {need} "
                                 f"(history {need - 1} + the scored frame)")
        channels = {a.shape[3] for _, a in clips}
        if len(channels) > 1:
            raise ValueError(f"clips have different channel counts {sorted(channels)}")
        sizes = {a.shape[1:3] for _, a in clips}
        resizes = getattr(det, "size", None) is not None
        if len(sizes) > 1 and not resizes:
            raise ValueError(f"clips have different frame sizes {sorted(sizes)}; set size= on the detector to "
                             "resize them, or resize the frames")
        if fitting:
            det.frame_shape_ = tuple(int(v) for v in clips[0][1].shape[1:3])
            det.n_channels_ = int(clips[0][1].shape[3])
            return clips
        if clips[0][1].shape[3] != det.n_channels_:
            raise ValueError(f"frames have {clips[0][1].shape[3]} channel(s), the detector was fitted on "
                             f"{det.n_channels_}")
        if not resizes and tuple(clips[0][1].shape[1:3]) != tuple(det.frame_shape_):
            raise ValueError(f"frames are {clips[0][1].shape[1:3]}, the detector was fitted on frames of size "
                             f"{tuple(det.frame_shape_)} and does not resize (size=None)")
        return clips

    def check_explain(self, det, method, baseline):
        if method == "occlusion" or baseline is not None:
            raise ValueError(f"{type(det).__name__} explains frames by their anomaly maps; occlusion and "
                             "baseline= apply to tables and series")

    def _meta_value(self, key, value):
        return int(value) if key == "n_channels_" else tuple(int(v) for v in value)


register_modality(VideoModality())
