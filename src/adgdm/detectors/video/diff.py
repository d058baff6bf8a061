"""``video-diff``: the frame-difference baseline (motion magnitude only, no model)."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ..._params import store_params
from .base import VideoBase

__all__ = ["FrameDiff"]


class FrameDiff(VideoBase):
    """``video-diff``: a frame scores by the mean of the top ``top_k`` share of its ``pool x pool``
    averaged absolute difference to the frame ``lag`` frames before, at the working size.

    With ``location_norm`` each pixel's pooled difference is divided by its mean over the
    training frames (plus ``1e-3``): motion where nothing ever moves counts more. Off by default.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> det = FrameDiff(size=None).fit(rng.random((20, 16, 16)))
    >>> det.decision_function(rng.random((6, 16, 16))).shape
    (6,)
    """

    name = "video-diff"

    def __init__(self, size: int | None = 60, lag: int = 1, pool: int = 5, location_norm: bool = False,
                 top_k: float = 0.01, smooth_frames: int = 1, smooth_sigma: float = 0.0,
                 calibration_fraction: float = 0.2, contamination: float = 0.1):
        store_params(self, locals())

    def _history(self) -> int:
        return int(self.lag)

    def _check_own_params(self) -> None:
        if int(self.lag) < 1 or int(self.pool) < 1:
            raise ValueError(f"lag and pool must be >= 1, got lag={self.lag}, pool={self.pool}")

    def _diff(self, work: np.ndarray, start: int) -> torch.Tensor:
        w = torch.from_numpy(work)
        L = int(self.lag)
        d = (w[start:] - w[start - L:len(w) - L]).abs()[:, None]
        p = int(self.pool)
        if p > 1:
            d = F.avg_pool2d(d, p, stride=1, padding=p // 2, count_include_pad=False)[..., :w.shape[1], :w.shape[2]]
        return d[:, 0]

    def _location_maps(self, work, feats, start):
        d = self._diff(work, start)
        if self.location_norm:
            d = d / torch.from_numpy(self.norm_)
        return d

    def _fit_clips(self, train, held_out):
        if self.location_norm:
            total = sum(self._diff(w, self._history()).double().sum(0) for w in train)
            n = sum(len(w) - self._history() for w in train)
            self.norm_ = (total / n).float().numpy() + 1e-3
        else:
            self.norm_ = np.ones(self.work_shape_, np.float32)

    def _own_state(self):
        return {}, {"norm_": self.norm_}

    def _set_own_state(self, meta, arrays):
        self.norm_ = np.asarray(arrays["norm_"], dtype=np.float32)
        if self.norm_.shape != self.work_shape_:
            raise ValueError(f"stored location norm has shape {self.norm_.shape}, frames are {self.work_shape_}")
