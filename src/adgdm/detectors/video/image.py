"""``video-image``: the per-frame ``image`` default, appearance only (a baseline)."""
from __future__ import annotations

import numpy as np
import torch

from ..._params import store_params
from ..base import nested_state, restore_nested
from ..image.default import ImageDiffusion
from .base import VideoBase

__all__ = ["VideoImage"]


class VideoImage(VideoBase):
    """``video-image``: every frame is an image for the ``image`` detector (``ImageDiffusion``),
    fitted on at most ``max_train_frames`` training frames (evenly spaced; not the held-out last
    ``calibration_fraction`` of each clip, which sets ``threshold_``) at the working size;
    ``image_params`` overrides its parameters (e.g. ``{"max_steps": 300}``). No history, no motion:
    what a single frame shows is all it sees.

    Example
    -------
    >>> det = VideoImage(size=48, image_params={"max_steps": 50}).fit(train_clips)  # doctest: +SKIP
    """

    name = "video-image"

    def __init__(self, size: int | None = 60, max_train_frames: int = 400, image_params: dict | None = None,
                 top_k: float = 0.002, smooth_frames: int = 1, smooth_sigma: float = 0.0,
                 calibration_fraction: float = 0.2, contamination: float = 0.1, verbose: bool = False,
                 random_state=None):
        store_params(self, locals())

    def _history(self) -> int:
        return 0

    def _check_own_params(self):
        if int(self.max_train_frames) < 4:
            raise ValueError(f"max_train_frames must be >= 4, got {self.max_train_frames}")
        if self.image_params is not None and not isinstance(self.image_params, dict):
            raise ValueError(f"image_params must be a dict of ImageDiffusion parameters, got {self.image_params!r}")

    def _inner_params(self) -> dict:
        params = dict(top_k=float(self.top_k), verbose=bool(self.verbose), random_state=self.random_state)
        params.update(self.image_params or {})
        return params

    def _fit_clips(self, train, held_out):
        # the training frames only: the held-out ones set the video threshold (the inner detector
        # holds its own share of these out for its z-scales)
        frames = np.concatenate(train)
        idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), int(self.max_train_frames))).astype(int))
        self.image_ = ImageDiffusion(**self._inner_params()).fit(frames[idx])

    def _location_maps(self, work, feats, start):
        return torch.from_numpy(np.asarray(self.image_.anomaly_map(work[start:]), dtype=np.float32))

    def _own_state(self):
        meta, arrays = nested_state(self.image_, "image")
        return {"image": meta, "image_params": self.image_.get_params()}, arrays

    def _set_own_state(self, meta, arrays):
        self.image_ = restore_nested(ImageDiffusion, meta["image_params"], meta["image"], arrays, "image")
