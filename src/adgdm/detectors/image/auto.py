"""``image-auto`` (issue 32): choose the image detector per dataset from anomalies generated out of
the user's own normal images; see :mod:`adgdm.detectors.auto` for the rule.

The anomaly kinds are model-free and fast; each is made out of a held-out normal image:

* ``cutpaste``: a patch of the image, colour-jittered, pasted elsewhere in it (CutPaste);
* ``perlin``: a synthetic texture blended in under a Perlin-noise mask (DRAEM's augmentation);
* ``blur``: the whole image Gaussian-blurred (sigma 1.5-4 % of its shorter side);
* ``contrast``: the whole image's contrast scaled about its mean by 0.3-0.6 or 1.6-2.5;
* ``tiles``: the image cut into 4 x 4 tiles put back in a random order (each tile's texture kept,
  the layout broken).

``cutpaste`` and ``perlin`` are local defects with known masks: the candidates' anomaly maps are
also scored against them (pixel AUROC per candidate and kind, ``selection_["pixel"]``, reported
only: the choice is by image AUROC). Images have no fused candidate (``fuse_top`` is 0): no image
detector adds up the scores of arbitrary others yet.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import gaussian_filter

from ..._params import store_params
from ...data.images import to_float_images
from ...metrics.images import pixel_auroc
from ..auto import AutoBase
from .base import ImageBase

__all__ = ["ImageAuto", "image_anomalies"]

LOCAL_KINDS = ("cutpaste", "perlin")
WHOLE_KINDS = ("blur", "contrast", "tiles")
FEATURE_CANDIDATES = ("image-patchcore", "image-feat-ideal", "image-feat")  # need the [vision] extra


def _blur(x: np.ndarray, rng) -> np.ndarray:
    out = np.empty_like(x)
    side = min(x.shape[1:3])
    for i in range(len(x)):
        s = max(0.7, float(rng.uniform(0.015, 0.04)) * side)
        out[i] = gaussian_filter(x[i], sigma=(s, s, 0), mode="reflect")
    return out


def _contrast(x: np.ndarray, rng) -> np.ndarray:
    f = np.where(rng.random(len(x)) < 0.5, rng.uniform(0.3, 0.6, len(x)), rng.uniform(1.6, 2.5, len(x)))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip(mean + f[:, None, None, None].astype(np.float32) * (x - mean), 0, 1).astype(np.float32)


def _tiles(x: np.ndarray, rng, grid: int = 4) -> np.ndarray:
    out = x.copy()
    n, h, w, _ = x.shape
    th, tw = h // grid, w // grid
    if th < 1 or tw < 1:
        raise ValueError(f"images of {h}x{w} pixels are too small to cut into {grid}x{grid} tiles")
    cells = [(r * th, c * tw) for r in range(grid) for c in range(grid)]
    for i in range(n):
        order = rng.permutation(len(cells))
        while len(cells) > 1 and (order == np.arange(len(cells))).all():
            order = rng.permutation(len(cells))
        for (r, c), j in zip(cells, order):
            sr, sc = cells[j]
            out[i, r:r + th, c:c + tw] = x[i, sr:sr + th, sc:sc + tw]
    return out


def image_anomalies(images: np.ndarray, kind: str, rng) -> tuple[np.ndarray, np.ndarray | None]:
    """``(anomalous copies of images, masks or None)``: one copy per image of ``kind`` (module
    docstring); masks ``(N, H, W)`` 0/1 for the local kinds, None for whole-image changes.

    Example
    -------
    >>> x = np.random.default_rng(0).random((3, 32, 32, 1), dtype=np.float32)
    >>> out, m = image_anomalies(x, "cutpaste", np.random.default_rng(0))
    >>> out.shape, m.shape, image_anomalies(x, "blur", np.random.default_rng(0))[1] is None
    ((3, 32, 32, 1), (3, 32, 32), True)
    """
    from ...generation.image_synth import cutpaste, perlin_paste

    x = np.asarray(images, dtype=np.float32)
    if kind == "cutpaste":
        return cutpaste(x, rng)
    if kind == "perlin":
        return perlin_paste(x, rng)
    if kind == "blur":
        return _blur(x, rng), None
    if kind == "contrast":
        return _contrast(x, rng), None
    if kind == "tiles":
        return _tiles(x, rng), None
    raise ValueError(f"unknown image anomaly kind {kind!r}; choose one of {', '.join(LOCAL_KINDS + WHOLE_KINDS)}")


def _vision_available() -> bool:
    try:
        from ...nets.efficientnet import _weights_path

        _weights_path()
    except ImportError:
        return False
    return True


class ImageAuto(AutoBase, ImageBase):
    """``image-auto``: chooses among ``image``, ``image-patchcore``, ``image-feat-ideal`` and
    ``image-feat`` on anomalies generated out of held-out normal images (local defects: CutPaste
    and Perlin pastes; whole-image changes: blur, contrast, shuffled tiles), by the smallest mean
    regret of image AUROC over the kinds (:func:`adgdm.detectors.auto.choose`); then refits the
    choice on all the images. ``make_detector("auto", modality="image")`` builds it.

    Parameters
    ----------
    candidates : image detector specs joined by ``+`` (options inside a spec after ``:``, tuples
        with ``|``, e.g. ``"image:max_steps=300+image-patchcore:size=64"``); None: the four above,
        the feature ones only when the ``[vision]`` extra is installed (else left out with a warning).
    kinds : anomaly kinds joined by ``+`` (None: ``cutpaste+perlin+blur+contrast+tiles``).
    size, crop, channels : how the images are brought to one shape first (as for every image
        detector); the candidates then preprocess that with their own parameters.
    holdout, n_anomalies (per kind), min_units (fewer normal images: the first candidate is
        fitted, with an ``AutoFallbackWarning``), contamination, random_state : as ``auto``.
    fuse_top : must be 0 (images have no fused candidate).

    Attributes
    ----------
    chosen_, best_ : the chosen spec and its detector fitted on all images;
    selection_ : ``{"choice", "why", "table": {candidate: {kind: image AUROC}}, "regret",
        "pixel": {candidate: {local kind: pixel AUROC}}, "skipped"}``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = np.clip(0.5 + 0.05 * rng.normal(size=(40, 32, 32)), 0, 1)
    >>> det = ImageAuto(candidates="image-patchknn+image-patch:max_train_patches=500", n_anomalies=10,
    ...                 random_state=0).fit(train)
    >>> det.chosen_ in det.selection_["table"], det.anomaly_map(train[:2]).shape
    (True, (2, 32, 32))
    >>> print(det.selection_table())                                    # doctest: +SKIP
    """

    name = "image-auto"
    modality = "image"
    default_candidates = ("image", "image-patchcore", "image-feat-ideal", "image-feat")
    kinds_all = LOCAL_KINDS + WHOLE_KINDS

    def __init__(self, candidates=None, kinds=None, size=None, crop=None, channels=None, holdout: float = 0.3,
                 fuse_top: int = 0, n_anomalies: int = 50, min_units: int = 30, contamination: float = 0.1,
                 random_state=None):
        store_params(self, locals())

    # --- candidates and checks ------------------------------------------------------------------
    def candidate_specs(self) -> list[str]:
        specs = super().candidate_specs()
        if self.candidates is None and not _vision_available():
            specs = [s for s in specs if s not in FEATURE_CANDIDATES]
            if not getattr(self, "_told_vision", False):
                warnings.warn("image-auto: the [vision] extra (EfficientNet weights) is not installed; choosing "
                              f"among {', '.join(specs)} only", UserWarning, stacklevel=3)
                self._told_vision = True
        return specs

    def _check_params(self) -> None:
        super()._check_params()
        if int(self.fuse_top) != 0:
            raise ValueError(f"fuse_top must be 0 for images (no image detector fuses arbitrary others yet), "
                             f"got {self.fuse_top}")

    # --- input ----------------------------------------------------------------------------------
    def _prep_input(self, X, fitting: bool):
        raw = None
        if not fitting:
            a = np.asarray(X) if not isinstance(X, list) else None
            raw = a.shape[1:3] if a is not None and a.ndim in (3, 4) else None
        imgs = to_float_images(X, size=self.size, crop=self.crop, channels=self.channels)
        return imgs, (None if raw is None or (tuple(raw) == imgs.shape[1:3] and self.crop is None) else tuple(raw))

    def _check_images(self, imgs: np.ndarray) -> None:
        if imgs.shape[1:] != tuple(self.image_shape_):
            raise ValueError(f"images have shape {imgs.shape[1:]} after preprocessing, the detector was fitted on "
                             f"{tuple(self.image_shape_)}; use the same size/crop/channels")

    # --- anomalies and judging ------------------------------------------------------------------
    def _anomalies(self, ref, base, kind, n, rng):
        src = base[rng.integers(0, len(base), n)]
        out, masks = image_anomalies(src, kind, rng)
        self._masks[kind] = masks
        return out

    def _judge(self, spec, det, X_eval, y, kind, fit_part=None):
        """Image scores of the clean held-out images (scored once per candidate) and of the
        anomalies; for local kinds the anomaly maps too, against the defects' masks."""
        n0 = int((y == 0).sum())
        if spec not in self._clean:
            self._clean[spec] = det.score_maps(X_eval[:n0])
        clean_s, clean_m = self._clean[spec]
        masks = self._masks.get(kind)
        if masks is None:
            return np.concatenate([clean_s, det.decision_function(X_eval[n0:])])
        s, m = det.score_maps(X_eval[n0:])
        all_masks = np.concatenate([np.zeros(clean_m.shape, np.uint8), masks])
        if all_masks.any():
            self._pixel.setdefault(spec, {})[kind] = float(pixel_auroc(all_masks, np.concatenate([clean_m, m])))
        return np.concatenate([clean_s, s])

    def _fit(self, data):
        self._masks, self._clean, self._pixel = {}, {}, {}
        try:
            out = super()._fit(data.images)
            self.selection_["pixel"] = self._pixel
        finally:
            del self._masks, self._clean, self._pixel
        return out

    # --- scoring: the chosen detector's ---------------------------------------------------------
    def _score(self, data) -> np.ndarray:
        return self.best_.decision_function(data.images)

    def _score_extras(self, data):
        _, inner = self.best_._checked(data.images)
        s, extras = self.best_._score_extras(inner)
        return s, {**extras, "anomaly_map": self._to_input(extras["anomaly_map"], data.input_size)}

    def _explain_model(self, data) -> np.ndarray:
        return self._to_input(self.best_.anomaly_map(data.images), data.input_size)

    def score_maps(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), anomaly_map(X))`` in one pass (the chosen detector's)."""
        _, data = self._checked(X)
        s, maps = self.best_.score_maps(data.images)
        return np.asarray(s, dtype=np.float64), self._to_input(maps, data.input_size)

    def _to_input(self, maps: np.ndarray, raw) -> np.ndarray:
        """Maps at the working size -> the input's ``(H, W)``: undo the resize and place a centre
        crop back in the frame (the border repeats the crop's edge values)."""
        import torch
        import torch.nn.functional as F

        maps = np.asarray(maps, dtype=np.float64)
        if raw is None:
            return maps
        H, W = raw
        inner = (int(self.crop), int(self.crop)) if self.crop is not None else (H, W)
        m = torch.from_numpy(np.ascontiguousarray(maps))[:, None]
        if tuple(m.shape[-2:]) != inner:
            m = F.interpolate(m, size=inner, mode="bilinear", align_corners=False)
        if inner != (H, W):
            top, left = (H - inner[0]) // 2, (W - inner[1]) // 2
            m = F.pad(m, (left, W - inner[1] - left, top, H - inner[0] - top), mode="replicate")
        return m[:, 0].numpy()
