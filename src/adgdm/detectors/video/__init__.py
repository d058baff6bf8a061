"""Video detectors: a score and an anomaly map per frame, from the frame and its history.

* ``video-pred`` (learned, recommended): conditional diffusion model of the next frame's
  appearance + motion features given the previous frames' (:mod:`.pred`);
* ``video-ideal``: the ideal denoiser of the training frames' feature vectors (:mod:`.ideal`);
* ``video-image``: the per-frame ``image`` default, appearance only (:mod:`.image`);
* ``video-diff``: top share of the pooled absolute frame difference (:mod:`.diff`).
"""
from .base import VideoBase, VideoStream
from .diff import FrameDiff
from .ideal import VideoIdeal
from .image import VideoImage
from .pred import VideoPred

__all__ = ["VideoBase", "VideoStream", "FrameDiff", "VideoImage", "VideoIdeal", "VideoPred"]
