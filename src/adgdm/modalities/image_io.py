"""I/O of images: a folder of image files or an MVTec-style folder (labels and masks from its test
set), or images in memory; a score and an anomaly map per image."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import FitInput, ModalityIO, ReadSpec, ScoreResult, register_io
from .readers import Data, read_data

__all__ = ["ImageIO", "image_prep"]


def image_prep(det) -> dict:
    """How image files are read for ``det``: as for its fit (``det._folder_options()``: its size and
    channels, or with ``crop`` the files' own size, so that the detector crops and resizes them
    once). Reading them cropped and resized and then letting the detector crop again scored a
    ``crop`` model on a crop of the crop."""
    options = getattr(det, "_folder_options", None)
    if options is not None:
        return options()
    return {k: getattr(det, k, None) for k in ("size", "crop", "channels")}


class ImageIO(ModalityIO):
    name = "image"
    id_column = "image"
    source = "folder"
    takes_columns = False
    serve_types = ("image",)
    ray_parts = "images"
    holds_out = True

    def fit_input(self, source, det, spec: ReadSpec, params: dict) -> FitInput:
        p = Path(source)
        if not p.exists():
            raise FileNotFoundError(f"no such image folder: {p}")
        if spec.columns or spec.label or spec.time:
            raise ValueError("--columns, --label and --time are for tables and series")
        from .base import get_modality

        # detectors take arrays, not folders: the adapter reads the training images as each detector wants
        return FitInput(get_modality(self.name).read_folder(det, p), None, [], [])

    def read(self, source, det) -> Data:
        if Path(source).is_file():
            raise ValueError(f"{source} is a file, but this is an image model: give a folder of images")
        return read_data(source, "image", image_prep=image_prep(det))

    def as_data(self, images, ids, source: str = "the request", labels=None) -> Data:
        """Images in memory (``(N, H, W[, C])``, already preprocessed) as read data."""
        return Data("image", None, [], np.asarray(ids, dtype=object), labels, images=images, source=source)

    def score(self, det, card, source, *, spec: ReadSpec, explain=True, top_k=3, progress=None, given=None):
        d = given if given is not None else self.read(source, det)
        result = det.predict_result(d.images)
        extras = {"images": d.images, "maps": result.anomaly_map, "masks": d.masks}
        if result.anomaly_map is not None:  # the report's overlays: the 9 highest and 3 lowest scores
            extras["overlay"] = {"images": d.images, "maps": result.anomaly_map, "masks": d.masks, "top": 9,
                                 "bottom": 3, "id_columns": [self.id_column]}
        return ScoreResult(result, {self.id_column: d.ids}, d.labels, top_k=top_k, extras=extras)

    def probe(self, det, card):
        import io

        from PIL import Image

        s = getattr(det, "size", None) or 64
        h, w = (s, s) if np.isscalar(s) else s
        buf = io.BytesIO()
        Image.fromarray(np.full((int(h), int(w)), 128, np.uint8)).save(buf, format="PNG")
        return buf.getvalue()

    def describe(self, det) -> dict:
        return {"image_size": getattr(det, "size", None)}


register_io(ImageIO())
