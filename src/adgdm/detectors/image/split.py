"""``image-split`` (issue 32): the image-level score from one image detector, the anomaly maps
from another, both fitted on the same images.

``image-auto`` builds it when the candidate with the best image AUROC on its generated anomalies
is not the one whose maps best find the generated local defects (pixel AUROC, same rule).
"""
from __future__ import annotations

import numpy as np

from ..._params import store_params
from ...data.images import to_float_images
from ..base import Fitted, nested_state, restore_nested
from .base import ImageBase, maps_to_input

__all__ = ["ImageSplit", "WorkingShape", "split_spec"]


def split_spec(score: str, maps: str) -> str:
    """The ``image-split`` spec of two detector specs (their options joined by ``&`` so that
    ``parse_spec`` reads it back).

    Example
    -------
    >>> split_spec("image:max_steps=300,global_size=8", "image-patchcore:size=64")
    'image-split:score=image:max_steps=300&global_size=8,maps=image-patchcore:size=64'
    """
    return f"image-split:score={score.strip().replace(',', '&')},maps={maps.strip().replace(',', '&')}"


def _spec_text(value, what: str) -> str:
    """A part's spec as given (``parse_spec`` reads ``a|b`` inside it as a tuple: joined back)."""
    if isinstance(value, (tuple, list)):  # a list: a tuple read back from JSON
        value = "|".join(str(v) for v in value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be an image detector spec (options joined by '&'), got {value!r}")
    return value.strip().replace("&", ",")


class WorkingShape:
    """Images brought to one working shape (``size``, ``crop``, ``channels``) before inner
    detectors see them; their maps brought back to the input's size (``image-auto``, ``image-split``)."""

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

    def _to_input(self, maps: np.ndarray, raw) -> np.ndarray:
        """Maps at the working size -> the input's ``(H, W)`` (:func:`.base.maps_to_input`)."""
        return maps_to_input(np.asarray(maps, dtype=np.float64), raw, self.crop)


class ImageSplit(WorkingShape, ImageBase):
    """``image-split``: scores, labels and threshold of the ``score`` detector; anomaly maps of
    the ``maps`` detector (module docstring). Both are fitted on the same images.

    Parameters
    ----------
    score, maps : image detector specs; options inside a spec joined by ``&``
        (``"image-patchknn:max_train_patches=500&top_k=0.05"``). They must differ (the same
        detector twice is that detector: use it directly).
    size, crop, channels : how the images are brought to one shape before both see them.
    contamination, random_state : passed to both parts (the threshold is the score part's).

    Attributes
    ----------
    score_, maps_ : the fitted parts.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = np.clip(0.5 + 0.05 * rng.normal(size=(20, 32, 32)), 0, 1)
    >>> det = ImageSplit(score="image-patchknn:max_train_patches=500&top_k=1.0",
    ...                  maps="image-patchknn:max_train_patches=500", random_state=0).fit(train)
    >>> det.anomaly_map(train[:2]).shape, det.threshold_ == det.score_.threshold_
    ((2, 32, 32), True)
    """

    name = "image-split"
    training_scores = "the score part's"
    _fitted_attrs = ("threshold_", "score_", "maps_")

    def __init__(self, score: str = "image", maps: str = "image-patchcore", size=None, crop=None, channels=None,
                 contamination: float = 0.1, random_state=None):
        store_params(self, locals())

    def _specs(self) -> tuple[str, str]:
        from ..registry import detector_class, parse_spec

        specs = _spec_text(self.score, "score"), _spec_text(self.maps, "maps")
        for what, s in zip(("score", "maps"), specs):
            cls = detector_class(parse_spec(s)[0])
            if getattr(cls, "modality", None) != "image":
                raise ValueError(f"{what}={s!r} is a {cls.modality} detector; image-split takes image detectors")
        if parse_spec(specs[0]) == parse_spec(specs[1]):
            raise ValueError(f"score and maps name the same detector {specs[0]!r}: use that detector directly "
                             "(image-split fits two detectors)")
        return specs

    def _check_params(self) -> None:
        super()._check_params()
        self._specs()

    def _make(self, spec: str):
        from ..registry import make_detector

        return make_detector(spec, random_state=self.random_state, contamination=float(self.contamination))

    def _fit(self, data):
        score, maps = self._specs()
        self.score_ = self._make(score).fit(data.images)
        self.maps_ = self._make(maps).fit(data.images)
        return Fitted(self.score_.decision_scores_, None, getattr(self.score_, "calibration_scores_", None))

    # --- scoring: the score part's scores, the maps part's maps ---------------------------------
    def _score(self, data) -> np.ndarray:
        return self.score_.decision_function(data.images)

    def _score_extras(self, data):
        _, inner = self.score_._checked(data.images)
        s, extras = self.score_._score_extras(inner)
        return s, {**extras, "anomaly_map": self._explain_model(data)}

    def _explain_model(self, data) -> np.ndarray:
        return self._to_input(self.maps_.anomaly_map(data.images), data.input_size)

    def score_maps(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), anomaly_map(X))``: the score part's scores, the maps part's maps."""
        _, data = self._checked(X)
        return (np.asarray(self.score_.decision_function(data.images), dtype=np.float64),
                self._explain_model(data))

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self):
        smeta, arrays = nested_state(self.score_, "score")
        mmeta, marrays = nested_state(self.maps_, "maps")
        arrays.update(marrays)
        return {"score_": {"name": self.score_.name, "params": self.score_.get_params(), "meta": smeta},
                "maps_": {"name": self.maps_.name, "params": self.maps_.get_params(), "meta": mmeta}}, arrays

    def _set_state(self, meta, arrays):
        from ..registry import detector_class

        self._specs()
        for part in ("score", "maps"):
            m = meta[part + "_"]
            setattr(self, part + "_", restore_nested(detector_class(m["name"]), dict(m["params"]), m["meta"],
                                                     arrays, part))
