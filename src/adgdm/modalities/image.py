"""Images: ``(N, H, W[, C])`` arrays in [0, 255] or [0, 1], lists of images, or a folder; a score
per image and an anomaly map per image. Detectors preprocess (resize, crop, channels) themselves,
since that is a parameter of theirs; the adapter records the working shape."""
from __future__ import annotations

from .base import Modality, register_modality


class ImageModality(Modality):
    name = "image"
    unit = "image"
    scored_units = "images"
    part = "pixel"
    own_evidence = "anomaly map"
    default_detector = "image"
    source = "folder"
    fitted_meta = ("image_shape_",)

    def check(self, det, X, fitting: bool):
        return X  # images are validated by the detector's preprocessing (size, crop, channels)

    def _meta_value(self, key, value):
        return tuple(int(v) for v in value)


register_modality(ImageModality())
