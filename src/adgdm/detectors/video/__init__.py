"""Video detectors: a score and an anomaly map per frame, from the frame and its history.

* ``video``: the recommended one, today ``video-pred`` (:class:`.pred.VideoDefault`);
* ``video-pred`` (learned): conditional diffusion model of the next frame's
  appearance + motion features given the previous frames' (:mod:`.pred`);
* ``video-ideal``: the ideal denoiser of the training frames' feature vectors (:mod:`.ideal`);
* ``video-image``: the per-frame ``image`` default, appearance only (:mod:`.image`);
* ``video-obj``: per-object features (foreground components, optical flow, size, position) under
  the ideal denoiser; the frame score is its most abnormal object's, comparable across clips (:mod:`.obj`);
* ``video-diff``: top share of the pooled absolute frame difference (:mod:`.diff`).

Input: a clip ``(T, H, W[, C])`` in [0, 1], a :class:`adgdm.data.video.Clip` or a list of them
(the ``video`` modality). Every detector has ``decision_function`` (one score per frame, clips
concatenated), ``anomaly_map`` / ``score_maps`` (maps at the input frame size), ``predict_result``
(a ``Prediction`` with unit ``"frame"``), ``stream()`` and ``smooth_frames`` (causal).

Example
-------
>>> import adgdm
>>> from adgdm.data.video import load_ped2
>>> train, test = load_ped2("ped2")                                          # doctest: +SKIP
>>> det = adgdm.make_detector("video-pred", random_state=0).fit(train)       # doctest: +SKIP
>>> r = det.predict_result(test[0]); r.score.shape, r.anomaly_map.shape      # doctest: +SKIP
((180,), (180, 240, 360))
>>> live = det.stream()                                                      # doctest: +SKIP
>>> for chunk in camera_chunks: scores = live.update(chunk)                  # doctest: +SKIP
"""
from .base import VideoBase, VideoStream
from .diff import FrameDiff
from .ideal import VideoIdeal
from .image import VideoImage
from .obj import VideoObj
from .pred import VideoDefault, VideoPred

__all__ = ["VideoBase", "VideoStream", "FrameDiff", "VideoImage", "VideoIdeal", "VideoPred", "VideoDefault", "VideoObj"]
