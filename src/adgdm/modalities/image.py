"""Images: ``(N, H, W[, C])`` arrays in [0, 255] or [0, 1], or lists of images; a score per image
and an anomaly map per image. Detectors preprocess (resize, crop, channels) with their own
parameters (``det._prep_input``); the adapter validates once, checks new images against the
fitted ones (``det._check_images``), records the working shape and returns :class:`Images`.
Reading a folder of image files is the data layer's job (:func:`adgdm.data.images.read_images`,
:func:`adgdm.data.images.load_image_dir`), not a detector's."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .base import Modality, register_modality

__all__ = ["ImageModality", "Images"]


@dataclass
class Images:
    """Validated images: ``images`` ``(N, H, W, C)`` float32 in [0, 1] at the detector's working
    size, and ``input_size``, the ``(H, W)`` maps are brought back to (None: they stay at the
    working size)."""

    images: np.ndarray
    input_size: tuple | None = None

    def __len__(self) -> int:
        return len(self.images)


class ImageModality(Modality):
    name = "image"
    unit = "image"
    scored_units = "images"
    part = "pixel"
    own_evidence = "anomaly map"
    default_detector = "image"
    auto_detector = "image-auto"
    source = "folder"
    fit_input = "images"
    fitted_meta = ("image_shape_",)

    def check(self, det, X, fitting: bool) -> Images:
        if isinstance(X, (str, os.PathLike)):
            raise ValueError(f"{type(det).__name__} takes images (an array (N, H, W[, C]) or a list of them), not a "
                             f"path ({os.fspath(X)!r}); read the folder first, e.g. "
                             "adgdm.data.images.load_image_dir(path, size=..., crop=..., channels=...)")
        imgs, input_size = det._prep_input(X, fitting)
        if fitting:
            det.image_shape_ = tuple(int(v) for v in imgs.shape[1:])
        else:
            det._check_images(imgs)
        return Images(imgs, input_size)

    def read_folder(self, det, path) -> np.ndarray:
        """The training images of the folder ``path`` (an MVTec-style folder's ``train/good``, else
        every image file in it) for ``det.fit``: read as the detector read folders itself before
        detectors took arrays only (``det._folder_options()``), so the fit is the same."""
        from ..data.images import load_image_dir

        return load_image_dir(path, **det._folder_options())

    def check_explain(self, det, method, baseline):
        if method == "occlusion" or baseline is not None:
            raise ValueError(f"{type(det).__name__} explains images by their anomaly maps; occlusion and "
                             "baseline= apply to tables and series")

    def _meta_value(self, key, value):
        return tuple(int(v) for v in value)


register_modality(ImageModality())
