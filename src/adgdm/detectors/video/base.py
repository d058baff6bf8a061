"""What every video detector shares: frames to the working size, the per-frame pipeline, the
history rule, causal smoothing, anomaly maps and the live stream.

A detector scores frame ``t`` of a clip from frames ``t - history .. t`` only. Subclasses give

* ``_per_frame(work) -> tensor (T, ...)``: what is computed from one frame alone (cached by the
  stream; None when there is nothing), and
* ``_location_maps(work, feats, start) -> (n, g1, g2)``: location scores of frames ``start ..
  T - 1`` of the working frames ``work`` ``(T, h, w)`` (``start >= history``),

plus ``_fit_clips(train, held_out)`` on working clips. The rest is here: a location map is
upsampled (bilinear) to the working size and smoothed (``smooth_sigma``), the frame score is the
mean of its top ``top_k`` share, the first ``history`` frames of a clip take the score and map of
the clip's first scorable frame, and ``smooth_frames > 1`` replaces each frame score by the mean
of the last ``smooth_frames`` scores of its clip (causal, so the stream equals batch scoring).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ...modalities import get_modality
from ..base import BaseDetector, cross_fitted

__all__ = ["VideoBase", "VideoStream", "trailing_mean"]


def trailing_mean(scores: np.ndarray, n: int, history: np.ndarray | None = None) -> np.ndarray:
    """Causal trailing mean over ``n`` frames; ``history`` holds the scores just before (at most
    ``n - 1``); the first frames of a clip average over what is there."""
    scores = np.asarray(scores, dtype=np.float64)
    if n <= 1:
        return scores
    prev = np.zeros(0) if history is None else np.asarray(history, dtype=np.float64)[-(n - 1):]
    full = np.concatenate([prev, scores])
    c = np.concatenate([[0.0], np.cumsum(full)])
    idx = np.arange(len(prev), len(full))
    lo = np.maximum(idx + 1 - n, 0)
    return (c[idx + 1] - c[lo]) / (idx + 1 - lo)


class VideoBase(BaseDetector):
    """Base of the video detectors (module docstring). Parameters every one has: ``size`` (working
    frame height in pixels, the width keeps the fitted frames' aspect ratio; None: no resizing),
    ``smooth_frames``, ``smooth_sigma``, ``top_k``, ``calibration_fraction`` (the last share of
    every training clip is held out: per-location statistics and ``threshold_`` come from it, the
    statistics cross-fitted over the clips for the calibration scores, see ``_fit``),
    ``contamination``."""

    modality = "video"
    training_scores = "held-out"
    _proba_method = "rank"

    # --- the subclass's part --------------------------------------------------------------------
    def _history(self) -> int:
        return int(self.history)

    def _per_frame(self, work: np.ndarray):
        return None

    def _location_maps(self, work: np.ndarray, feats, start: int) -> torch.Tensor:
        raise NotImplementedError

    def _fit_clips(self, train: list[np.ndarray], held_out: list[np.ndarray]) -> None:
        raise NotImplementedError

    def _scorable_objects(self, work: np.ndarray, feats, start: int, with_maps: bool, shape):
        """``_scorable`` plus, for a detector that finds objects, the objects of the same frames:
        one list per frame of dicts (``box`` ``[x0, y0, x1, y1]`` in pixels of input frames of
        ``shape`` ``(H, W)``, ``score``, ``group``, ...), most abnormal first; None: no objects.
        The live stream reads them (``VideoStream.last_objects``)."""
        return (*self._scorable(work, feats, start, with_maps), None)

    def _calibrate(self, held_out: list[np.ndarray]) -> None:
        """Hook after ``_fit_clips``: per-location statistics of the held-out frames."""

    def _check_own_params(self) -> None:
        pass

    # --- checks ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        if self.size is not None and (isinstance(self.size, bool) or int(self.size) < 8):
            raise ValueError(f"size must be None (no resizing) or an integer >= 8, got {self.size!r}")
        if int(self._history()) < 0:
            raise ValueError(f"history must be >= 0, got {self._history()}")
        if int(self.smooth_frames) < 1:
            raise ValueError(f"smooth_frames must be >= 1 (1: no smoothing), got {self.smooth_frames}")
        if not float(self.smooth_sigma) >= 0:
            raise ValueError(f"smooth_sigma must be >= 0, got {self.smooth_sigma}")
        if not 0.0 < float(self.top_k) <= 1.0:
            raise ValueError(f"top_k must be a fraction in (0, 1], got {self.top_k}")
        if not 0.0 < float(self.calibration_fraction) < 1.0:
            raise ValueError(f"calibration_fraction must lie in (0, 1), got {self.calibration_fraction}")
        self._check_own_params()

    def _log(self, text: str) -> None:
        if getattr(self, "verbose", False):
            print(f"[{self.name}] {text}", flush=True)

    # --- frames ---------------------------------------------------------------------------------
    def _work_shape(self, frame_shape) -> tuple[int, int]:
        H, W = (int(v) for v in frame_shape)
        if self.size is None:
            return H, W
        h = int(self.size)
        return h, max(8, int(round(h * W / H)))

    def _work(self, frames: np.ndarray) -> np.ndarray:
        """``(T, H, W, C)`` in [0, 1] -> gray ``(T, h, w)`` float32 at the working size."""
        g = frames.mean(axis=3) if frames.shape[3] > 1 else frames[..., 0]
        h, w = self.work_shape_
        if g.shape[1:] != (h, w):
            t = torch.from_numpy(np.ascontiguousarray(g, dtype=np.float32))[:, None]
            g = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False, antialias=True)[:, 0].numpy()
        return np.ascontiguousarray(g, dtype=np.float32)

    # --- fit ------------------------------------------------------------------------------------
    def _input(self, X, fitting: bool):
        clips = super()._input(X, fitting)
        if fitting:
            self.work_shape_ = self._work_shape(self.frame_shape_)
        return clips

    def _calibration_split(self, clips):
        """``(training working clips, held-out working clips)``: the last ``calibration_fraction``
        of each clip (at least one scorable frame) is held out, with its ``history`` frames."""
        H = self._history()
        train, held = [], []
        for _, arr in clips:
            w = self._work(arr)
            n_cal = max(1, int(round(float(self.calibration_fraction) * len(w))))
            cut = len(w) - n_cal
            held.append(w[max(0, cut - H):])          # held-out frames with their history
            if cut > H:
                train.append(w[:cut])
        if not train:
            raise ValueError(f"{self.name}: the training clips leave no frames to fit on after holding out "
                             f"{float(self.calibration_fraction):g} of each (clips too short for history {H})")
        return train, held

    def _fit(self, train, held):
        """Fit on the training working clips; the held-out frames' scores calibrate. The
        per-location statistics ``_calibrate`` sets from held-out frames are cross-fitted
        (:func:`adgdm.detectors.base.cross_fitted`, the clips' held-out pieces dealt to folds; one
        clip: its piece cut in two): each piece is scored with statistics of the other folds'
        pieces, and the model keeps those of all of them."""
        H = self._history()
        self._fit_clips(train, held)
        pieces = held if len(held) > 1 else self._halves(held[0])
        scores = cross_fitted(len(pieces), lambda idx: self._calibrate([pieces[i] for i in idx]),
                              lambda idx: [self._clip_scores(pieces[i], with_maps=False)[0][H:] for i in idx])
        return np.concatenate(scores)

    def _halves(self, piece: np.ndarray) -> list[np.ndarray]:
        """One held-out piece as two, each with its ``history`` frames (one scorable frame: as is)."""
        H = self._history()
        n = len(piece) - H
        if n < 2:
            return [piece]
        m = n // 2
        return [piece[:H + m], piece[m:]]

    # --- scoring --------------------------------------------------------------------------------
    def _post_maps(self, loc: torch.Tensor) -> np.ndarray:
        """Location maps ``(n, g1, g2)`` -> ``(n, h, w)`` at the working size, smoothed."""
        h, w = self.work_shape_
        loc = loc.float()
        if tuple(loc.shape[1:]) != (h, w):
            loc = F.interpolate(loc[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        out = loc.numpy()
        if float(self.smooth_sigma) > 0 and len(out):
            from scipy.ndimage import gaussian_filter

            out = gaussian_filter(out, sigma=(0, float(self.smooth_sigma), float(self.smooth_sigma)))
        return out

    def _frame_scores(self, maps: np.ndarray) -> np.ndarray:
        flat = maps.reshape(len(maps), -1)
        k = max(1, int(round(float(self.top_k) * flat.shape[1])))
        return np.partition(flat, flat.shape[1] - k, axis=1)[:, -k:].mean(axis=1).astype(np.float64)

    def _scorable(self, work: np.ndarray, feats, start: int, with_maps: bool):
        """Unsmoothed scores (and working-size maps) of frames ``start ..`` of ``work``."""
        maps = self._post_maps(self._location_maps(work, feats, start))
        return self._frame_scores(maps), (maps if with_maps else None)

    def _clip_scores(self, work: np.ndarray, with_maps: bool):
        """Per-frame scores of one working clip (fill rule and smoothing applied) and maps."""
        H = self._history()
        with torch.inference_mode():
            s, maps = self._scorable(work, self._per_frame(work), H, with_maps)
        s = np.concatenate([np.full(H, s[0]), s])
        if with_maps:
            maps = np.concatenate([np.repeat(maps[:1], H, axis=0), maps])
        return trailing_mean(s, int(self.smooth_frames)), maps

    def _to_input(self, maps: np.ndarray, shape) -> np.ndarray:
        if tuple(maps.shape[1:]) != tuple(shape):
            maps = F.interpolate(torch.from_numpy(np.ascontiguousarray(maps))[:, None], size=tuple(shape),
                                 mode="bilinear", align_corners=False)[:, 0].numpy()
        return maps.astype(np.float32, copy=False)

    def _score_clips(self, clips, with_maps: bool):
        """Scores (and maps at the input size) of validated clips, concatenated in order. The
        first ``history`` frames of each clip get the score of its first scorable frame."""
        scores, maps = [], []
        for _, arr in clips:
            s, m = self._clip_scores(self._work(arr), with_maps)
            scores.append(s)
            if with_maps:
                maps.append(self._to_input(m, arr.shape[1:3]))
        if with_maps and len({m.shape[1:] for m in maps}) > 1:
            raise ValueError("the clips have different frame sizes, so their maps cannot be stacked; score them one "
                             "clip at a time")
        return np.concatenate(scores), (np.concatenate(maps) if with_maps else None)

    def _score(self, clips) -> np.ndarray:
        return self._score_clips(clips, with_maps=False)[0]

    def _score_extras(self, clips):
        s, maps = self._score_clips(clips, with_maps=True)
        return s, {"anomaly_map": maps}

    def _explain_model(self, clips) -> np.ndarray:
        """A frame score is explained by where it comes from: the anomaly maps."""
        return self._score_clips(clips, with_maps=True)[1]

    def anomaly_map(self, X) -> np.ndarray:
        """``(total frames, H, W)`` float32 per-pixel maps at the input frame size (clips
        concatenated; clips of different sizes: use one call per clip)."""
        return self._explain_model(self._checked(X)[1])

    def score_maps(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), anomaly_map(X))`` in one pass."""
        return self._score_clips(self._checked(X)[1], with_maps=True)

    def stream(self) -> "VideoStream":
        """A live scorer for one clip: ``update(frames)`` returns the scores of the frames that
        became scorable; concatenated they equal ``decision_function`` of the whole clip.

        Example
        -------
        >>> s = det.stream()                                   # doctest: +SKIP
        >>> np.concatenate([s.update(clip[i:i + 5]) for i in range(0, len(clip), 5)])  # doctest: +SKIP
        """
        self._check_fitted()
        return VideoStream(self)

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self):
        meta, arrays = self._own_state()
        meta["work_shape_"] = [int(v) for v in self.work_shape_]
        return meta, arrays

    def _set_state(self, meta, arrays):
        self.work_shape_ = tuple(int(v) for v in meta["work_shape_"])
        self._set_own_state(meta, arrays)


class VideoStream:
    """Online scoring of one clip by a fitted video detector (see ``VideoBase.stream``).

    Frames before the history is complete are held until the first scorable frame arrives; they
    are then returned with it (and take its score). ``update(frames, maps=True)`` also returns
    the frames' anomaly maps at the input size.

    A detector that finds objects (``video-obj``) also sets, after each ``update``, one list per
    returned frame: ``last_objects`` (dicts ``box``, ``score``, ``group``, ``groups``,
    ``features``, most abnormal first: ``det.objects`` of the same frames) and ``last_boxes``
    (their boxes ``[x0, y0, x1, y1]`` in input pixels); both stay None for other detectors.

    Example
    -------
    >>> s = det.stream(); scores = s.update(clip[:5])                    # doctest: +SKIP
    >>> s.last_boxes[-1][:1], s.last_objects[-1][0]["group"]               # doctest: +SKIP
    ([[40.0, 30.0, 44.0, 38.0]], 'speed')
    """

    def __init__(self, det: VideoBase):
        self.det = det
        self.H = det._history()
        self.n = 0                    # frames received
        self.work = None              # the last `history` working frames
        self.feats = None             # their per-frame features
        self.raw = np.zeros(0)        # last unsmoothed scores, for the trailing mean
        self.last_objects = None      # per frame returned by the last update: its objects (or None)
        self.last_boxes = None        # ... and their boxes

    def update(self, frames, maps: bool = False):
        det = self.det
        modality = get_modality(det.modality)
        arr = modality.as_clips([frames])[0][1]
        modality.check_frames(det, "the stream", arr)
        w = det._work(arr)
        with torch.inference_mode():
            f = det._per_frame(w)
            work = w if self.work is None else np.concatenate([self.work, w])
            feats = f if self.feats is None or f is None else torch.cat([self.feats, f])
            prev = self.n
            self.n += len(w)
            if self.n <= self.H:
                s, m = np.zeros(0), np.zeros((0, *arr.shape[1:3]), np.float32)
                objs = [] if callable(getattr(det, "objects", None)) else None
            else:
                s, m, objs = det._scorable_objects(work, feats, self.H, maps, arr.shape[1:3])
                if prev <= self.H:  # the first scorable frame: the frames before take its score
                    s = np.concatenate([np.full(self.H, s[0]), s])
                    if maps:
                        m = np.concatenate([np.repeat(m[:1], self.H, axis=0), m])
                    if objs is not None:  # ... and its objects
                        objs = [objs[0]] * self.H + list(objs)
                if maps:
                    m = det._to_input(m, arr.shape[1:3])
        self.last_objects = None if objs is None else list(objs)
        self.last_boxes = None if objs is None else [[list(o["box"]) for o in f] for f in objs]
        keep = self.H
        self.work = work[len(work) - keep:] if keep else work[:0]
        self.feats = None if feats is None else feats[len(feats) - keep:]
        out = trailing_mean(s, int(det.smooth_frames), self.raw)
        self.raw = np.concatenate([self.raw, s])[-max(int(det.smooth_frames) - 1, 0):] if det.smooth_frames > 1 \
            else np.zeros(0)
        return (out, m) if maps else out
