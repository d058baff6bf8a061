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
also scored against them (pixel AUROC per candidate and kind, ``selection_["pixel"]``). The image
score is chosen by image AUROC; with ``split_maps`` (default) the map source is chosen by the same
rule on the pixel table, and when it is another candidate the refitted detector is
``image-split`` (:class:`adgdm.detectors.image.split.ImageSplit`: the scores of one, the maps of
the other). Images have no fused candidate (``fuse_top`` is 0): no image detector adds up the
scores of arbitrary others yet.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import gaussian_filter

from ..._params import store_params
from ...metrics.images import pixel_auroc
from ..auto import AutoBase, choose
from .base import ImageBase
from .split import WorkingShape, split_spec

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


class ImageAuto(WorkingShape, AutoBase, ImageBase):
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
    split_maps : choose the anomaly maps' source by the same rule on the pixel AUROC of the
        generated local defects; another candidate than the image-level choice gives an
        ``image-split`` (False: the image-level choice gives both scores and maps).

    Attributes
    ----------
    chosen_, best_ : the chosen spec (``image-split:score=<A>,maps=<B>`` when the maps come from
        another candidate) and its detector fitted on all images;
    selection_ : ``{"choice", "why", "table": {candidate: {kind: image AUROC}}, "regret",
        "pixel": {candidate: {local kind: pixel AUROC}}, "maps_choice", "maps_regret", "skipped"}``
        (``choice``: the image-level choice; ``maps_choice``: the maps' source, with ``split_maps``).

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
                 random_state=None, split_maps: bool = True):
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

    def _refit(self, spec: str, data, seed: int):
        """Refit the image-level choice, or with ``split_maps`` an ``image-split`` of it and the
        candidate whose maps are best on the generated local defects (same rule, pixel table)."""
        pixel = getattr(self, "_pixel", None)
        if self.split_maps and pixel and self.selection_.get("table"):
            order = [s for s in self.candidate_specs() if s in pixel]
            maps, regret = choose(pixel, order)
            self.selection_.update(maps_choice=maps, maps_regret=regret)
            if maps != spec:
                spec = split_spec(spec, maps)
        return super()._refit(spec, data, seed)

    def selection_table(self) -> str:
        """The image AUROC table (as ``auto``) and, when measured, the pixel AUROC of the candidates'
        maps on the generated local defects (``<- maps``: the maps' source)."""
        text = super().selection_table()
        sel = getattr(self, "selection_", None) or {}
        pixel, regret = sel.get("pixel") or {}, sel.get("maps_regret") or {}
        if not pixel:
            return text
        kinds = sorted({k for row in pixel.values() for k in row})
        w = max(len(s) for s in pixel) + 2
        lines = [text, "", "pixel AUROC".ljust(w) + "".join(k[:10].rjust(11) for k in kinds)
                 + ("  regret" if regret else "")]
        order = [s for s in self.candidate_specs() if s in pixel]
        for s in order + [s for s in pixel if s not in order]:
            mark = " <- maps" if s == sel.get("maps_choice") else ""
            lines.append(s.ljust(w) + "".join(f"{pixel[s].get(k, float('nan')):11.3f}" for k in kinds)
                         + (f"  {regret[s]:6.3f}" if s in regret else "") + mark)
        return "\n".join(lines)

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
