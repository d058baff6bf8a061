"""Video: one clip ``(T, H, W)`` or ``(T, H, W, C)`` in [0, 1] (uint8 frames are divided by 255),
a :class:`adgdm.data.video.Clip`, or a list of those; a score and an anomaly map per frame.

The adapter validates once: at least one clip, finite values in [0, 1], every clip at least
``history + 1`` frames long (the detector's history plus the frame it scores), one frame size and
one channel count across the clips of a fit, and at scoring the fitted ones (whatever the
detector's working ``size``: resizing frames of another shape would stretch them). Errors name
the clip as given (its folder or file name, or its index in a list of arrays) and the reader
option that makes frames one size (``--frame-size``) or colour (``--frame-channels``). It returns
``[(name, frames (T, H, W, C) float32), ...]`` and records ``frame_shape_`` ``(H, W)`` and
``n_channels_``.

Example
-------
>>> clips = VideoModality().as_clips([np.zeros((4, 8, 8)), np.ones((3, 8, 8, 1))])
>>> [(n, f.shape) for n, f in clips]
[('0', (4, 8, 8, 1)), ('1', (3, 8, 8, 1))]
"""
from __future__ import annotations

import numpy as np

from .base import Modality, register_modality
from .readers import channels_hint, frame_size_hint

__all__ = ["VideoModality"]


class VideoModality(Modality):
    name = "video"
    unit = "frame"
    scored_units = "frames"
    part = "pixel"
    own_evidence = "anomaly map"
    default_detector = "video-obj"
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
        if fitting:
            first, hw, c = clips[0][0], _hw(clips[0][1]), clips[0][1].shape[3]
            for name, arr in clips[1:]:
                if _hw(arr) != hw:
                    raise ValueError(f"clips differ in frame size: {first!r} is {_size(hw)} (HxW) but {name!r} is "
                                     f"{_size(_hw(arr))}; a model is fitted on frames of one size: make them one "
                                     f"size with {frame_size_hint(*hw)}")
                if arr.shape[3] != c:
                    raise ValueError(f"clips differ in colour: {first!r} has {_colour(c)} frames but {name!r} "
                                     f"{_colour(arr.shape[3])}; read them all as RGB with {channels_hint(3)}")
            det.frame_shape_, det.n_channels_ = hw, int(c)
            return clips
        for name, arr in clips:
            self.check_frames(det, name, arr)
        return clips

    @staticmethod
    def check_frames(det, name: str, arr: np.ndarray) -> None:
        """Frames ``(T, H, W, C)`` of clip ``name`` against the frame size and colour ``det`` was
        fitted on (a model saved without them, if any, is not checked). Resizing them to the
        detector's working size would stretch frames of another shape, and every frame would
        score as an anomaly; so frames of another size are refused with the option that resizes
        them when read."""
        fitted_c = getattr(det, "n_channels_", None)
        if fitted_c is not None and arr.shape[3] != fitted_c:
            raise ValueError(f"clip {name!r} has {_colour(arr.shape[3])} frames; this model was fitted on "
                             f"{_colour(fitted_c)} frames: read them as the model's with {channels_hint(fitted_c)}")
        fitted = getattr(det, "frame_shape_", None)
        if fitted is not None and _hw(arr) != tuple(fitted):
            raise ValueError(f"clip {name!r} has {_size(_hw(arr))} (HxW) frames, not the model's frame size "
                             f"{_size(fitted)} (brought to the model's working size, they would be stretched or "
                             f"blurred and score as anomalies): resize them when read with "
                             f"{frame_size_hint(*fitted)}")

    def check_explain(self, det, method, baseline):
        if method == "occlusion" or baseline is not None:
            raise ValueError(f"{type(det).__name__} explains frames by their anomaly maps; occlusion and "
                             "baseline= apply to tables and series")

    def _meta_value(self, key, value):
        return int(value) if key == "n_channels_" else tuple(int(v) for v in value)


def _hw(arr: np.ndarray) -> tuple[int, int]:
    return int(arr.shape[1]), int(arr.shape[2])


def _size(hw) -> str:
    return f"{int(hw[0])}x{int(hw[1])}"


def _colour(c: int) -> str:
    return "gray (1-channel)" if int(c) == 1 else f"RGB ({int(c)}-channel)"


register_modality(VideoModality())
