"""The served model: loaded and checked before it is used, swapped whole on reload, and the
scoring of one request's rows or image with the code of ``adgdm score``."""
from __future__ import annotations

import hashlib
import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCALARS = (str, int, float, bool, type(None))


@dataclass
class LoadedModel:
    pipe: object          # the adgdm.Pipeline being served
    version: str          # SHA-256 of the folder's files (12 hex digits): which model answered
    loaded_at: float
    columns: list | None  # the input columns a request names (None: any numeric columns)

    @property
    def det(self):
        return self.pipe.detector_

    @property
    def card(self):
        return self.pipe.card_

    @property
    def io(self):
        return self.pipe.io

    @property
    def modality(self) -> str:
        return self.card.modality

    def describe(self) -> dict:
        card = self.card
        return {"modality": self.modality, "detector": card.detector, "columns": self.columns,
                "label": card.label, "time": card.time,
                "threshold": float(getattr(self.det, "threshold_", card.threshold.get("value", float("nan")))),
                "threshold_method": card.threshold.get("method"), "version": self.version,
                "adgdm_version": card.adgdm_version, "image_size": self.io.describe(self.det).get("image_size")}


def _version(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def load_verified(model_dir) -> LoadedModel:
    """Load a model folder and score a probe with it; any failure raises ``ValueError`` and
    nothing is returned, so a corrupt folder is never served."""
    from ..pipeline import Pipeline

    folder = Path(model_dir)
    try:
        pipe = Pipeline.load(folder)
    except (ValueError, FileNotFoundError) as e:
        raise ValueError(str(e).splitlines()[0]) from None
    except Exception as e:  # a truncated safetensors file and the like
        raise ValueError(f"{folder}: cannot load the model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if getattr(pipe, "load_notes_", None):  # an incomplete folder is not served (a reload keeps the old model)
        raise ValueError(pipe.load_notes_[0])
    if not pipe.io.serve_types:
        raise ValueError(f"adgdm serve serves {', '.join(_served())} models; {folder} is {pipe.card_.modality}")
    model = LoadedModel(pipe, _version(folder), time.time(), pipe.card_.input_columns())
    try:
        _probe(model)
    except Exception as e:
        raise ValueError(f"{folder}: the model loads but fails on a probe ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return model


def _served() -> list[str]:
    from ..modalities import list_modalities
    from ..modalities.io import get_io

    return [m for m in list_modalities() if get_io(m).serve_types]


def _probe(model: LoadedModel) -> None:
    """Score one made-up unit: a row of typical values, or a gray image."""
    probe = model.io.probe(model.det, model.card)
    if probe is None:
        return
    if isinstance(probe, bytes):
        h, w = _image_size(model)
        score_image(model, probe, max_pixels=h * w)
        return
    out = score_records(model, probe, explain=False)
    if not np.isfinite(out[0]["score"]):
        raise ValueError("a non-finite score")


def _image_size(model) -> tuple[int, int]:
    s = getattr(model.det, "size", None) or 64
    h, w = (s, s) if np.isscalar(s) else s
    return int(h), int(w)


class ModelSlot:
    """The model being served; :meth:`reload` builds the new one fully, then swaps the reference
    (one assignment), so a request sees the old model or the new one, never a mix."""

    def __init__(self, model_dir):
        self.model_dir = Path(model_dir)
        self.current = load_verified(self.model_dir)
        self._lock = threading.Lock()

    def reload(self) -> LoadedModel:
        with self._lock:  # one reload at a time
            new = load_verified(self.model_dir)
            self.current = new
            return new


# --- scoring ------------------------------------------------------------------------------------
def check_columns(model: LoadedModel, names, where: str = "") -> None:
    """A request's column ``names`` against the model's, by name: an unknown or a missing column
    is a ``ValueError`` that names it (a label or id column named at fit may come along)."""
    if model.columns is None:
        return
    allowed = set(model.columns) | {c for c in (model.card.label, model.card.time) if c}
    unknown = [str(k) for k in names if k not in allowed]
    if unknown:
        raise ValueError(f"{where}unknown column(s) {sorted(unknown)[:10]}; the model's columns are {model.columns[:50]}")
    missing = [c for c in model.columns if c not in set(names)]
    if missing:
        raise ValueError(f"{where}missing column(s) {missing[:10]}")


def check_records(model: LoadedModel, records, max_rows: int):
    """``records`` as a pandas frame in the model's column order; errors name the problem:
    ``ValueError`` (422) or ``OverflowError`` (413, too many rows)."""
    import pandas as pd

    if not isinstance(records, list) or not records:
        raise ValueError("'records' must be a non-empty list of objects ({column: value})")
    if len(records) > max_rows:
        raise OverflowError(f"{len(records)} records in one request; the limit is {max_rows}")
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise ValueError(f"record {i} is not an object ({{column: value}})")
        check_columns(model, r, f"record {i}: ")
        bad = [k for k, v in r.items() if not isinstance(v, SCALARS)]
        if bad:
            raise ValueError(f"record {i}: column(s) {bad[:10]} hold a list or object; give one number, text, "
                             "true/false or null per cell")
    cols = model.columns or list(records[0])
    extra = [c for c in (model.card.label, model.card.time) if c and c in records[0]]
    return pd.DataFrame.from_records(records, columns=cols + [c for c in extra if c not in cols])


def score_frame(model: LoadedModel, df, explain: bool = True, top_k: int = 3) -> list[dict]:
    """The ``adgdm score`` fields of each row of ``df`` (a frame of the model's columns)."""
    return model.pipe.score(df, name="the request", explain=explain, top_k=top_k).to_records()


def score_records(model: LoadedModel, records, explain: bool = True, top_k: int = 3,
                  max_rows: int = 10_000) -> list[dict]:
    return score_frame(model, check_records(model, records, max_rows), explain, top_k)


def score_image(model: LoadedModel, body: bytes, max_pixels: int, explain: bool = True) -> list[dict]:
    """One uploaded image (PNG, JPEG, BMP, TIFF bytes): the ``adgdm score`` fields and a summary of
    its anomaly map (max, mean, where the max is, the share of pixels above the map's threshold)."""
    from PIL import Image

    from ..data.images import load_image_files
    from ..modalities.image_io import image_prep

    try:
        with Image.open(io.BytesIO(body)) as im:
            w, h = im.size
    except Exception as e:
        raise ValueError(f"the body is not an image PIL can read ({type(e).__name__})") from None
    if w * h > max_pixels:
        raise OverflowError(f"the image has {w}x{h} = {w * h} pixels; the limit is {max_pixels}")
    try:
        imgs = load_image_files([io.BytesIO(body)], **image_prep(model.det))
    except ValueError as e:
        raise ValueError(f"the uploaded image: {str(e).split(': ', 1)[-1]}") from None
    res = model.pipe.score(model.io.as_data(imgs, ["upload"], "the request"), name="the request")
    recs = res.to_records()
    maps = res.extras.get("maps")
    if maps is not None:
        m = np.asarray(maps[0], dtype=np.float64)
        y, x = np.unravel_index(int(np.argmax(m)), m.shape)
        recs[0]["map"] = {"shape": list(m.shape), "max": float(m.max()), "mean": float(m.mean()),
                          "argmax": [int(y), int(x)]}
    return recs
