"""``video-obj``: a frame scores by its most abnormal *object*, so scores of clips with different
crowd levels and textures sit on one scale (issue 31).

Per frame (causal: the frame and the one before):

1. foreground: ``|frame - background|`` (the per-pixel median of the training frames; static
   camera) or ``|frame - previous frame|`` above a threshold, cleaned by a morphological opening
   and closing; connected components of at least ``min_area`` working pixels are the objects;
2. per object: position (centre ``y``, ``x`` over the frame: the reference of perspective),
   size (log box height, width and area), motion (mean Farneback optical flow ``dx``, ``dy``
   inside the object's mask, mean and 90 % quantile of its magnitude, in working-frame heights
   per 100 frames) and, with ``appearance=True`` (or ``"grey"``), the object's mean, spread and
   gradient energy of grey level; with ``appearance="cnn"``, its learned appearance: the object's
   square crop (its box padded by 15 % each side, resized to 48 x 48 px) through the pretrained
   EfficientNet-Lite0 (the ``[vision]`` extra) up to its stride-16 stage, the stride-8 and
   stride-16 maps averaged (152 numbers), reduced by a PCA fitted on the training objects to
   ``appearance_dims`` columns (``cnn_0`` ..);
3. density: an :class:`~adgdm.scores.EmpiricalDenoiser` (the ideal denoiser) over the training
   objects' standardised features; its evidence scale is cross-fitted leave-one-training-clip-out
   (each clip's objects are scored against the other clips' objects, as new objects will be);
4. the frame score is the max over its objects; a frame without objects scores as the median of
   the held-out training frames (so it is never flagged); causal trailing mean over
   ``smooth_frames``.

Because a frame's score is a statement about one object against training objects *at the same
place*, a busier scene does not raise it (more ordinary objects: the max of more ordinary
scores barely moves), and one fast cyclist in an empty scene does.

:meth:`VideoObj.objects` lists, per frame, the objects with their boxes (input pixels), score and
the feature group (``speed``, ``size``, ``appearance``) the denoiser had to move most;
``predict_result`` carries the top object's box and group residuals as ``parts``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..._params import store_params
from ...nets.efficientnet import LAYERS
from ...scores import EmpiricalDenoiser
from .base import VideoBase, trailing_mean

__all__ = ["VideoObj"]

_POS, _SIZE, _SPEED, _APP = ["y", "x"], ["log_h", "log_w", "log_area"], ["dx", "dy", "speed", "speed_q90"], \
    ["grey_mean", "grey_std", "grad"]
_CROP, _CROP_PAD = 48, 0.15  # appearance="cnn": crop side in pixels, padding per side (fraction of the box)
_CNN_LAYERS = ("stride8", "stride16")  # an early and a mid stage: texture and parts, not ImageNet classes
_CNN_DIM = sum(LAYERS[n][1] for n in _CNN_LAYERS)  # 152
GROUPS = ("speed", "size", "appearance")
# least spread a feature is standardised by (its unit): a feature constant over the training
# objects (every walker the same height) would otherwise turn a one-pixel change into an alarm
_FLOOR = {**dict.fromkeys(_POS, 0.05), **dict.fromkeys(_SIZE, 0.3), **dict.fromkeys(_SPEED, 0.05),
          **dict.fromkeys(_APP, 0.03)}


def _cnn_names(k: int) -> list[str]:
    return [f"cnn_{j}" for j in range(int(k))]


_EXTRACTOR: dict = {}


def _crop_extractor():
    """The frozen EfficientNet-Lite0 crop extractor, loaded once per process (weights checked by
    SHA-256, read with ``weights_only=True``); ImportError naming the ``[vision]`` extra without it."""
    if "fx" not in _EXTRACTOR:
        from ...nets.efficientnet import FeatureExtractor

        _EXTRACTOR["fx"] = FeatureExtractor(layers=_CNN_LAYERS, pool=1, size=_CROP, batch_size=256)
    return _EXTRACTOR["fx"]


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - the [video] extra brings it
        raise ImportError("video-obj needs OpenCV: pip install 'adgdm[video]' (opencv-python-headless)") from exc
    return cv2


class VideoObj(VideoBase):
    """``video-obj``: object-centred, clip-comparable frame scores (module docstring).

    Parameters: ``size`` (working height), ``fg_threshold`` (grey-level difference to the
    background that is foreground), ``diff_threshold`` (to the previous frame), ``min_area``
    (working pixels), ``close_size`` (closing kernel that joins the pieces of one object), ``border`` (objects within
    that many working pixels of the frame edge are left out until they are in view; 0 keeps them),
    ``flow_scale`` (optical flow on frames downscaled by this factor), ``appearance`` (False: none;
    True or ``"grey"``: grey-level features; ``"cnn"``: ``appearance_dims`` PCA columns of the
    pretrained EfficientNet-Lite0 on each object's crop, needs the ``[vision]`` extra), ``size_weight`` (weight of the size features in the distance),
    ``perspective`` (size and motion in units of the expected object height at the object's row,
    a line fitted on the training objects), ``position_weight`` (weight of the position ``y``,
    ``x`` in the distance: 1 judges an object against training objects at the same place, 0 by
    what it is and how it moves wherever it is; a row no training clip used is then not an alarm),
    ``density`` (``"ideal"``: the closed-form denoiser over the training objects, non-parametric;
    ``"learned"``: a conditional DDPM of size and motion given position,
    :class:`~adgdm.detectors.video.obj_density.LearnedObjectDensity`, trained for
    ``learned_steps`` steps and scored at the noise levels ``learned_sigmas`` (standard deviations
    in standardised units: large enough that an object far from every training object still
    denoises badly; at 0.1 the error saturates and a fast object scored as normal), its calibration from ``learned_folds`` models that each leave a group
    of whole clips out), ``max_objects`` (reference objects kept), ``n_neighbors``, ``noise_levels`` and
    ``marginal_sigma`` (the denoiser's), ``smooth_frames``, ``contamination``.
    ``calibration_fraction`` is not used: calibration holds out whole training clips.

    Example
    -------
    >>> det = VideoObj(size=None, min_area=4).fit(train_clips)          # doctest: +SKIP
    >>> det.decision_function(test_clip).shape                          # doctest: +SKIP
    >>> det.objects(test_clip)[10][0]["box"], det.objects(test_clip)[10][0]["group"]  # doctest: +SKIP
    >>> VideoObj(appearance="cnn", appearance_dims=4).feature_names[-4:]
    ['cnn_0', 'cnn_1', 'cnn_2', 'cnn_3']
    """

    name = "video-obj"
    # models saved before position_weight existed weighed position fully
    params_before = {"position_weight": 1.0}

    def __init__(self, size: int | None = 120, fg_threshold: float = 0.08, diff_threshold: float = 0.05,
                 min_area: int = 12, close_size: int = 5, border: int = 0, flow_scale: float = 1.0,
                 appearance: bool | str = False, appearance_dims: int = 8,
                 size_weight: float = 1.0, perspective: bool = False, position_weight: float = 0.1,
                 density: str = "ideal", learned_steps: int = 2000, learned_folds: int = 4,
                 learned_sigmas=(0.5, 1.0, 2.0),
                 max_objects: int = 20_000, n_neighbors: int = 10,
                 noise_levels=(0.3, 0.5), marginal_sigma: float = 0.5, smooth_frames: int = 3,
                 calibration_fraction: float = 0.2, contamination: float = 0.1, random_state=None):
        store_params(self, locals())

    # unused base knobs: maps are painted per object
    smooth_sigma, top_k = 0.0, 1.0

    def _history(self) -> int:
        return 1

    def _check_own_params(self):
        if not (float(self.fg_threshold) > 0 and float(self.diff_threshold) > 0):
            raise ValueError("fg_threshold and diff_threshold must be > 0 (grey levels in [0, 1])")
        if self.density not in ("ideal", "learned"):
            raise ValueError(f"density must be 'ideal' (the closed-form denoiser) or 'learned' (a conditional "
                             f"DDPM of size and motion given position), got {self.density!r}")
        if int(self.learned_steps) < 1 or int(self.learned_folds) < 1:
            raise ValueError("learned_steps and learned_folds must be >= 1")
        a = self.appearance
        if not (isinstance(a, (bool, np.bool_)) or (isinstance(a, str) and a in ("grey", "cnn"))):
            raise ValueError(f"appearance must be False (none), True or 'grey' (grey-level features) or 'cnn' "
                             f"(pretrained EfficientNet-Lite0 features of each object's crop), got {a!r}")
        d = self.appearance_dims
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= d <= _CNN_DIM:
            raise ValueError(f"appearance_dims must be an integer in [1, {_CNN_DIM}] (PCA columns of the crop "
                             f"features), got {d!r}")
        if int(self.border) < 0:
            raise ValueError(f"border must be >= 0 working pixels, got {self.border}")
        if int(self.min_area) < 1 or int(self.max_objects) < 10 or int(self.n_neighbors) < 1:
            raise ValueError("min_area must be >= 1, max_objects >= 10 and n_neighbors >= 1")
        if not 0.0 < float(self.flow_scale) <= 1.0:
            raise ValueError(f"flow_scale must lie in (0, 1], got {self.flow_scale}")
        if not (float(self.position_weight) >= 0 and float(self.size_weight) >= 0):
            raise ValueError(f"position_weight and size_weight must be >= 0, got {self.position_weight}, "
                             f"{self.size_weight}")

    @property
    def _app_mode(self) -> str | None:
        """None, ``"grey"`` or ``"cnn"``."""
        a = self.appearance
        return a if isinstance(a, str) else ("grey" if a else None)

    @property
    def feature_names(self) -> list[str]:
        mode = self._app_mode
        return _POS + _SIZE + _SPEED + (_APP if mode == "grey" else []) + \
            (_cnn_names(self.appearance_dims) if mode == "cnn" else [])

    @property
    def _n_cnn(self) -> int:
        return int(self.appearance_dims) if self._app_mode == "cnn" else 0

    # --- objects --------------------------------------------------------------------------------
    def _flow(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        """Dense flow ``(h, w, 2)`` in working pixels per frame."""
        cv2 = _cv2()
        h, w = cur.shape
        s = float(self.flow_scale)
        a, b = (np.clip(x * 255, 0, 255).astype(np.uint8) for x in (prev, cur))
        if s < 1:
            size = (max(8, int(round(w * s))), max(8, int(round(h * s))))
            a, b = cv2.resize(a, size, interpolation=cv2.INTER_AREA), cv2.resize(b, size, interpolation=cv2.INTER_AREA)
        f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)
        if s < 1:
            f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) / s
        return f

    def _masks(self, prev: np.ndarray, cur: np.ndarray):
        cv2 = _cv2()
        fg = (np.abs(cur - self.background_) > float(self.fg_threshold)) | \
             (np.abs(cur - prev) > float(self.diff_threshold))
        m = fg.astype(np.uint8)
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        if int(self.close_size) > 1:
            m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((int(self.close_size),) * 2, np.uint8))
        return cv2.connectedComponentsWithStats(m, connectivity=8)

    def _frame_objects(self, prev: np.ndarray, cur: np.ndarray):
        """``(boxes (n, 4) x0 y0 x1 y1 working pixels, features (n, d), crops)`` of one frame: the
        features are every column of :attr:`feature_names` but the ``cnn_*`` ones, which
        :meth:`_clip_objects` adds from the crops (``(n, 48, 48)`` with ``appearance="cnn"``, else None)
        for a whole clip at once."""
        n, labels, stats, cent = self._masks(prev, cur)
        keep = [i for i in range(1, n) if stats[i, 4] >= int(self.min_area) and not self._at_border(stats[i], cur.shape)]
        d = len(self.feature_names) - self._n_cnn
        cnn = self._app_mode == "cnn"
        if not keep:
            return np.zeros((0, 4)), np.zeros((0, d)), (np.zeros((0, _CROP, _CROP), np.float32) if cnn else None)
        h, w = cur.shape
        flow = self._flow(prev, cur) * (100.0 / h)
        mag = np.hypot(flow[..., 0], flow[..., 1])
        grey = self._app_mode == "grey"
        if grey:
            gy, gx = np.gradient(cur)
            grad = np.hypot(gx, gy)
        boxes, rows = [], []
        for i in keep:
            x0, y0, bw, bh, area = (int(v) for v in stats[i])
            sl = (slice(y0, y0 + bh), slice(x0, x0 + bw))
            m = labels[sl] == i
            fx, fy, mg = flow[sl][..., 0][m], flow[sl][..., 1][m], mag[sl][m]
            r = [cent[i, 1] / h, cent[i, 0] / w, np.log(bh / h), np.log(bw / w), np.log(area / (h * w)),
                 fx.mean(), fy.mean(), mg.mean(), np.quantile(mg, 0.9)]
            if grey:
                g = cur[sl][m]
                r += [g.mean(), g.std(), grad[sl][m].mean()]
            boxes.append([x0, y0, x0 + bw, y0 + bh])
            rows.append(r)
        crops = np.stack([self._crop(cur, b) for b in boxes]) if cnn else None
        return np.asarray(boxes, float), np.asarray(rows, float), crops

    @staticmethod
    def _crop(cur: np.ndarray, box) -> np.ndarray:
        """The object's square crop, ``_CROP`` px a side: centred on its box, side the box's longer
        side padded by ``_CROP_PAD`` each way (the object's shape kept, not stretched); the frame's
        edge pixels repeat beyond it."""
        cv2 = _cv2()
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0) * (1 + 2 * _CROP_PAD)
        patch = cv2.getRectSubPix(cur, (int(round(side)), int(round(side))), ((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2))
        interp = cv2.INTER_AREA if patch.shape[0] > _CROP else cv2.INTER_LINEAR
        return np.clip(cv2.resize(patch, (_CROP, _CROP), interpolation=interp), 0.0, 1.0)

    def _at_border(self, stat, shape) -> bool:
        """An object within ``border`` working pixels of the frame edge is cut by it: its size and
        flow describe a part of it (a walker half in view), so it waits until it is in view."""
        b = int(self.border)
        if b <= 0:
            return False
        x0, y0, bw, bh = (int(v) for v in stat[:4])
        return x0 < b or y0 < b or x0 + bw > shape[1] - b or y0 + bh > shape[0] - b

    def _clip_objects(self, work: np.ndarray, start: int):
        """Objects of frames ``start ..`` of ``work``: ``(frame index from start, boxes, rows)``,
        rows with every column of :attr:`feature_names`."""
        fid, boxes, rows, emb = self._clip_objects_raw(work, start)
        return fid, boxes, self._with_cnn(rows, emb)

    def _clip_objects_raw(self, work: np.ndarray, start: int):
        """``(fid, boxes, rows without the cnn columns, crop embeddings (n, 152) or None)``: the
        crops of every frame go through the network together (batches of 256)."""
        fid, boxes, rows, crops = [], [], [], []
        for t in range(max(start, 1), len(work)):
            b, r, c = self._frame_objects(work[t - 1], work[t])
            fid.append(np.full(len(b), t - start))
            boxes.append(b)
            rows.append(r)
            crops.append(c)
        d = len(self.feature_names) - self._n_cnn
        if not fid:
            fid, boxes, rows = np.zeros(0, int), np.zeros((0, 4)), np.zeros((0, d))
            crops = [np.zeros((0, _CROP, _CROP), np.float32)]
        else:
            fid, boxes, rows = np.concatenate(fid).astype(int), np.concatenate(boxes), np.concatenate(rows)
        return fid, boxes, rows, (self._embed(np.concatenate(crops)) if self._n_cnn else None)

    @staticmethod
    def _embed(crops: np.ndarray) -> np.ndarray:
        """``(n, 152)`` global-average-pooled EfficientNet-Lite0 features of grey crops, in batches
        of 256. A batch is padded (blank crops) to at least 16: PyTorch runs a convolution on
        fewer than 16 images by another CPU kernel whose results differ in the 5th digit, so a
        live stream's few crops per update would not score as the whole clip does."""
        fx = _crop_extractor()
        out = [np.zeros((0, fx.dim))]
        for i in range(0, len(crops), 256):
            c = crops[i:i + 256]
            pad = np.zeros((max(0, 16 - len(c)), *c.shape[1:]), c.dtype)
            out.append(fx.pooled(np.concatenate([c, pad])[:, None])[:len(c)].double().numpy())
        return np.concatenate(out)

    def _with_cnn(self, rows: np.ndarray, emb) -> np.ndarray:
        """``rows`` with the crop embeddings' PCA columns appended (``appearance="cnn"``)."""
        if emb is None:
            return rows
        return np.hstack([rows, (emb - self.pca_mean_) @ self.pca_components_.T])

    def _fit_pca(self, emb: np.ndarray, rng) -> None:
        """``pca_mean_`` (152,) and ``pca_components_`` (appearance_dims, 152) of the training
        objects' crop embeddings (at most ``max_objects`` of them); signs fixed (largest loading
        positive) so a refit gives the same columns."""
        k = int(self.appearance_dims)
        if len(emb) > int(self.max_objects):
            emb = emb[np.sort(rng.choice(len(emb), int(self.max_objects), replace=False))]
        if k > min(len(emb) - 1, emb.shape[1]):
            raise ValueError(f"appearance_dims={k} needs more than {k} training objects (found {len(emb)})")
        self.pca_mean_ = emb.mean(axis=0)
        _, _, vt = np.linalg.svd(emb - self.pca_mean_, full_matrices=False)
        vt = vt[:k]
        vt *= np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])[:, None]
        self.pca_components_ = vt

    def _std(self, rows: np.ndarray) -> np.ndarray:
        z = (self._relative(rows) - self.mean_) / self.scale_
        return z * self._weights()

    def _weights(self) -> np.ndarray:
        # learned: position is what the model conditions on, not a distance term
        pw = 1.0 if self.density == "learned" else float(self.position_weight)
        w = {**dict.fromkeys(_SIZE, float(self.size_weight)), **dict.fromkeys(_POS, pw)}
        return np.array([w.get(n, 1.0) for n in self.feature_names])

    # --- perspective ----------------------------------------------------------------------------
    def _height_at(self, y: np.ndarray) -> np.ndarray:
        """Expected object height (frame heights) at row ``y``: the line fitted on the training
        objects, floored so rows above every training object do not divide by ~0."""
        a, b, floor = self.perspective_
        return np.maximum(a + b * np.asarray(y, float), floor)

    def _relative(self, rows: np.ndarray) -> np.ndarray:
        """With ``perspective``: size and motion in units of the expected object height at the
        object's row (a walker near the camera is taller and crosses more pixels per frame than
        the same walker far away), so objects at rows no training clip showed are judged by what
        they are, not by where they are."""
        if not self.perspective or not len(rows):
            return rows
        names = self.feature_names
        out = np.array(rows, dtype=float, copy=True)
        lh = np.log(self._height_at(rows[:, names.index("y")]))
        for n, k in (("log_h", 1), ("log_w", 1), ("log_area", 2)):
            out[:, names.index(n)] -= k * lh
        for n in _SPEED:
            out[:, names.index(n)] /= np.exp(lh)
        return out

    def _fit_perspective(self, rows: np.ndarray) -> None:
        """``perspective_ = (a, b, floor)``: object height ~ a + b * y, a least-squares line through
        the median heights of up to ten row bins (medians: merged walkers and fragments are
        the minority), weighted by their counts."""
        names = self.feature_names
        y, h = rows[:, names.index("y")], np.exp(rows[:, names.index("log_h")])
        edges = np.unique(np.quantile(y, np.linspace(0, 1, 11)))
        bins = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, max(len(edges) - 2, 0))
        cy, ch, cw = [], [], []
        for b in np.unique(bins):
            sel = bins == b
            if sel.sum() >= 5:
                cy.append(np.median(y[sel]))
                ch.append(np.median(h[sel]))
                cw.append(sel.sum())
        cy, ch, cw = np.asarray(cy), np.asarray(ch), np.sqrt(np.asarray(cw, float))
        if len(cy) >= 2 and np.ptp(cy) > 0:
            b, a = np.polyfit(cy, ch, 1, w=cw)
            b = max(float(b), 0.0)  # a camera looking down a ground plane: nearer rows are lower
            a = float(np.average(ch - b * cy, weights=cw))
        else:
            a, b = float(np.median(h)), 0.0
        self.perspective_ = (a, b, float(0.5 * ch.min()) if len(ch) else float(np.median(h)))

    # --- fit ------------------------------------------------------------------------------------
    def _calibration_split(self, clips):
        """Every training clip whole: calibration holds out whole clips (leave-one-clip-out),
        because the last frames of a clip show the same people as its first ones."""
        works = [self._work(arr) for _, arr in clips]
        return works, works

    def _fit(self, train, held):
        """Reference = the objects of every training clip; the evidence scale and the calibration
        frame scores are leave-one-training-clip-out: each clip's objects and frames are scored
        against the other clips' objects only, as objects of a new clip will be. Returns the
        calibration frame scores (every frame of every training clip) that set ``threshold_``."""
        rng = np.random.default_rng(self.random_state)
        stack = np.concatenate([w[:: max(1, len(w) // 50)] for w in train])
        self.background_ = np.median(stack, axis=0).astype(np.float32)
        raw = [self._clip_objects_raw(w, 1) for w in train]
        if self._n_cnn:
            self._fit_pca(np.concatenate([p[3] for p in raw]), rng)
        per_clip = [(fid, b, self._with_cnn(r, e)) for fid, b, r, e in raw]
        clip_of = np.concatenate([np.full(len(p[2]), i) for i, p in enumerate(per_clip)])
        rows = np.concatenate([p[2] for p in per_clip])
        if len(rows) < 10:
            raise ValueError(f"video-obj found {len(rows)} objects in the training clips (at least 10 needed): "
                             f"lower fg_threshold / diff_threshold / min_area, or fit on clips where things move")
        self._fit_perspective(rows)
        rel = self._relative(rows)
        self.mean_ = rel.mean(axis=0)
        floor = np.array([_FLOOR.get(n, 0.0) for n in self.feature_names])
        if self._n_cnn:  # a PCA column with a tenth of the leading one's spread is not blown up to it
            floor[-self._n_cnn:] = 0.1 * rel[:, -self._n_cnn].std()
        if self.perspective:  # motion in object heights: its unit scales by the typical height
            floor[[self.feature_names.index(n) for n in _SPEED]] /= float(np.median(self._height_at(rows[:, 0])))
        self.scale_ = np.maximum(rel.std(axis=0), floor)
        if len(rows) > int(self.max_objects):
            pick = np.sort(rng.choice(len(rows), int(self.max_objects), replace=False))
            rows, clip_of = rows[pick], clip_of[pick]
        if self.density == "learned":
            scores = self._fit_learned(train, per_clip, rows, clip_of, rng)
        else:
            scores = self._fit_ideal(train, per_clip, rows, clip_of)
        s = np.concatenate(scores)
        self.empty_score_ = float(np.median(s[np.isfinite(s)])) if np.isfinite(s).any() else 0.0
        s = np.where(np.isfinite(s), s, self.empty_score_)
        return np.concatenate([trailing_mean(np.concatenate([x[:1], x]), int(self.smooth_frames))
                               for x in np.split(s, np.cumsum([len(w) - 1 for w in train])[:-1])])

    def _fit_ideal(self, train, per_clip, rows, clip_of):
        """The ideal denoiser over every training object; calibration frame scores leave each
        training clip out (its objects against the other clips' objects)."""
        z = self._std(rows)
        n = len(z)
        levels = tuple(float(v) for v in np.atleast_1d(self.noise_levels))
        self.den_ = EmpiricalDenoiser(noise_levels=levels, n_neighbors=min(int(self.n_neighbors), n - 1),
                                      coarse_neighbors=min(50, n - 1), marginal_sigma=float(self.marginal_sigma),
                                      knn_backend="torch").fit(z)
        clips = np.unique(clip_of)
        if len(clips) > 1:  # leave-one-training-clip-out evidence scale
            self.den_.cross_fit([np.flatnonzero(clip_of == c) for c in clips], lambda fold: clip_of != clip_of[fold[0]])
        scores = []
        for i, (w, (fid, _, r)) in enumerate(zip(train, per_clip)):
            others = clip_of != i
            den = self.den_.subset(others) if len(clips) > 1 and others.sum() >= 2 else self.den_
            sc = den.score(self._std(r)) if len(r) else np.zeros(0)
            scores.append(self._frame_max(fid, sc, len(w) - 1))
        return scores

    def _learned(self, seed):
        from .obj_density import LearnedObjectDensity

        return LearnedObjectDensity(cond_columns=tuple(self.feature_names.index(c) for c in _POS),
                                    max_steps=int(self.learned_steps), random_state=seed,
                                    noise_levels=tuple(float(v) for v in np.atleast_1d(self.learned_sigmas)))

    def _fit_learned(self, train, per_clip, rows, clip_of, rng):
        """A conditional DDPM of an object's size and motion given its position: the final model
        on every training object; calibration frame scores from ``learned_folds`` models, each
        fitted without a group of whole clips and scoring that group's clips (one model per clip
        would cost 16 fits on Ped2)."""
        seed = int(rng.integers(2**31 - 1))
        self._log(f"video-obj: learned density on {len(rows)} objects")
        self.den_ = self._learned(seed).fit(self._std(rows))
        k = min(int(self.learned_folds), len(train))
        groups = np.arange(len(train)) % k
        scores: list = [None] * len(train)
        for g in range(k):
            if k > 1:
                self._log(f"video-obj: calibration model {g + 1}/{k}")
            den = self._learned(seed).fit(self._std(rows[groups[clip_of] != g])) if k > 1 else self.den_
            for i in np.flatnonzero(groups == g):
                fid, _, r = per_clip[i]
                sc = den.score(self._std(r)) if len(r) else np.zeros(0)
                scores[i] = self._frame_max(fid, sc, len(train[i]) - 1)
        return scores

    @staticmethod
    def _frame_max(fid, sc, n):
        out = np.full(n, -np.inf)
        if len(sc):
            np.maximum.at(out, fid, sc)
        return np.where(np.isfinite(out), out, np.nan)

    # --- scoring --------------------------------------------------------------------------------
    def _object_frame_scores(self, work, start):
        """Frame scores (NaN where no object) and the objects ``(fid, boxes, rows, scores)``."""
        fid, boxes, rows = self._clip_objects(work, start)
        sc = self.den_.score(self._std(rows)) if len(rows) else np.zeros(0)
        return self._frame_max(fid, sc, len(work) - start), (fid, boxes, rows, sc)

    def _scorable(self, work, feats, start, with_maps):
        s, found = self._object_frame_scores(work, start)
        return np.where(np.isnan(s), self.empty_score_, s), self._paint(found, len(s), work) if with_maps else None

    def _paint(self, found, n, work):
        """Anomaly maps: each object's box carries its score; elsewhere the empty-frame score."""
        fid, boxes, _, sc = found
        maps = np.full((n, *work.shape[1:]), self.empty_score_, np.float32)
        for f, b, v in zip(fid, boxes.astype(int), sc):
            m = maps[f, b[1]:b[3], b[0]:b[2]]
            np.maximum(m, v, out=m)
        return maps

    def _groups(self, rows: np.ndarray) -> np.ndarray:
        """``(n, 3)`` squared denoiser residual summed per group (speed, size, appearance)."""
        res = self.den_.residual(self._std(rows)) if len(rows) else np.zeros((0, len(self.feature_names)))
        names = self.feature_names
        cols = {"speed": _SPEED, "size": _SIZE, "appearance": _APP + _cnn_names(self._n_cnn)}
        return np.stack([res[:, [names.index(c) for c in cols[g] if c in names]].sum(axis=1) if
                         any(c in names for c in cols[g]) else np.zeros(len(res)) for g in GROUPS], axis=1)

    def _clip_details(self, arr: np.ndarray):
        """Per frame of one validated clip: list of objects (dicts), boxes at the input size."""
        work = self._work(arr)
        found = self._object_frame_scores(work, 1)[1]
        frames = [[]] + self._object_lists(found, len(work) - 1, arr.shape[1:3], work.shape[1:])
        if len(frames) > 1:
            frames[0] = frames[1]  # the history rule: the first frame takes the first scorable frame's
        return frames

    def objects(self, X) -> list[list[dict]]:
        """Per frame (clips concatenated), the objects found, most abnormal first: ``box`` (x0,
        y0, x1, y1 in input pixels), ``score``, ``group`` (the feature group the denoiser moved
        most: speed, size or appearance), ``groups`` and ``features``.

        Example
        -------
        >>> top = det.objects(clip)[40][0]; top["group"], top["box"]      # doctest: +SKIP
        """
        out = []
        for _, arr in self._checked(X)[1]:
            out += self._clip_details(arr)
        return out

    def _score_extras(self, clips):
        """Scores, maps and the top object's parts, the objects of each clip found once (scores
        and maps as ``_score_clips``, objects as :meth:`objects`): finding them (flow, and the
        network on every crop with ``appearance="cnn"``) is the cost of a frame."""
        scores, maps, frames = [], [], []
        for _, arr in clips:
            with torch.inference_mode():
                sc, m, objs = self._scorable_objects(self._work(arr), None, 1, True, arr.shape[1:3])
            # the history rule of _clip_scores / _clip_details: the first frame takes the first scorable frame's
            scores.append(trailing_mean(np.concatenate([sc[:1], sc]), int(self.smooth_frames)))
            maps.append(self._to_input(np.concatenate([m[:1], m]), arr.shape[1:3]))
            frames += objs[:1] + objs if objs else [[]]
        if len({m.shape[1:] for m in maps}) > 1:
            raise ValueError("the clips have different frame sizes, so their maps cannot be stacked; score them one "
                             "clip at a time")
        s, maps = np.concatenate(scores), np.concatenate(maps)
        box, n_obj, groups = [], [], []
        for objs in frames:
            n_obj.append(len(objs))
            box.append(objs[0]["box"] if objs else [np.nan] * 4)
            groups.append([objs[0]["groups"][g] for g in GROUPS] if objs else [0.0] * 3)
        groups = np.asarray(groups, float).reshape(-1, 3)
        parts = {"top_box": np.asarray(box, float).reshape(-1, 4), "n_objects": np.asarray(n_obj, float)}
        parts.update({g: groups[:, i] for i, g in enumerate(GROUPS)})
        return s, {"anomaly_map": maps, "parts": parts}

    # --- persistence ----------------------------------------------------------------------------
    def _own_state(self):
        meta, arrays = self.den_.state()
        own = {"den": meta, "empty_score_": float(self.empty_score_), "perspective_": list(self.perspective_)}
        pca = {}
        if self._n_cnn:
            from ...nets.efficientnet import backbone_meta

            own.update(backbone_meta())
            pca = {"pca_mean_": self.pca_mean_, "pca_components_": self.pca_components_}
        return (own, {"background_": self.background_, "mean_": self.mean_, "scale_": self.scale_, **pca,
                      **{f"den.{k}": v for k, v in arrays.items()}})

    def _set_own_state(self, meta, arrays):
        self.background_ = np.asarray(arrays["background_"], dtype=np.float32)
        if self.background_.shape != tuple(self.work_shape_):
            raise ValueError(f"stored background has shape {self.background_.shape}, frames are {self.work_shape_}")
        self.mean_, self.scale_ = np.asarray(arrays["mean_"], float), np.asarray(arrays["scale_"], float)
        if self.mean_.shape != (len(self.feature_names),):
            raise ValueError(f"stored feature scale has {self.mean_.size} features; appearance={self.appearance} "
                             f"needs {len(self.feature_names)}")
        if self._n_cnn:
            self._set_pca(meta, arrays)
        self.empty_score_ = float(meta["empty_score_"])
        # models saved before the perspective line: no normalisation (a flat line of height 1)
        self.perspective_ = tuple(float(v) for v in meta.get("perspective_", (1.0, 0.0, 1.0)))
        den_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("den.")}
        if self.density == "learned":
            from .obj_density import LearnedObjectDensity

            self.den_ = LearnedObjectDensity.from_state(meta["den"], den_arrays)
        else:
            self.den_ = EmpiricalDenoiser.from_state(meta["den"], den_arrays)

    def _set_pca(self, meta, arrays):
        from ...nets.efficientnet import check_backbone_meta

        check_backbone_meta(meta, "video-obj")
        if "pca_components_" not in arrays or "pca_mean_" not in arrays:
            raise ValueError("this video-obj model has appearance='cnn' but no stored crop-feature PCA "
                             "(pca_mean_, pca_components_): the file is incomplete; refit the model")
        mean, comp = np.asarray(arrays["pca_mean_"], float), np.asarray(arrays["pca_components_"], float)
        dim = _CNN_DIM
        want = (int(self.appearance_dims), dim)
        if comp.shape != want or mean.shape != (dim,):
            raise ValueError(f"stored crop-feature PCA has components {comp.shape} and mean {mean.shape}; "
                             f"appearance_dims={self.appearance_dims} on {dim} EfficientNet features needs "
                             f"components {want} and mean ({dim},)")
        self.pca_mean_, self.pca_components_ = mean, comp

    # --- live objects (the stream's boxes, adgdm watch) -----------------------------------------
    def _scorable_objects(self, work, feats, start, with_maps, shape):
        """``_scorable`` and the objects of the same frames in one pass (objects found once): what
        the live stream returns; the objects equal :meth:`objects` of those frames."""
        s, found = self._object_frame_scores(work, start)
        s = np.where(np.isnan(s), self.empty_score_, s)
        maps = self._paint(found, len(s), work) if with_maps else None
        return s, maps, self._object_lists(found, len(s), shape, work.shape[1:])

    def _object_lists(self, found, n, shape, work_shape) -> list[list[dict]]:
        """Objects ``(fid, boxes, rows, scores)`` as ``n`` per-frame lists of dicts (boxes scaled
        from the working size to ``shape``), most abnormal first: the dicts of :meth:`objects`."""
        fid, boxes, rows, sc = found
        gr = self._groups(rows)
        sy, sx = shape[0] / work_shape[0], shape[1] / work_shape[1]
        frames: list[list[dict]] = [[] for _ in range(n)]
        for f, b, r, v, g in zip(fid, boxes, rows, sc, gr):
            frames[f].append({"box": [float(b[0] * sx), float(b[1] * sy), float(b[2] * sx), float(b[3] * sy)],
                              "score": float(v), "group": GROUPS[int(np.argmax(g))],
                              "groups": {k: float(x) for k, x in zip(GROUPS, g)},
                              "features": {k: float(x) for k, x in zip(self.feature_names, r)}})
        for objs in frames:
            objs.sort(key=lambda o: -o["score"])
        return frames
