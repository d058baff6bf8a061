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

MODALITIES = ("tabular", "series", "image")
SCALARS = (str, int, float, bool, type(None))


@dataclass
class LoadedModel:
    det: object
    meta: dict
    version: str          # SHA-256 of the folder's files (12 hex digits): which model answered
    loaded_at: float
    columns: list | None  # the input columns a request names (None: any numeric columns)

    @property
    def modality(self) -> str:
        return self.meta["modality"]

    def describe(self) -> dict:
        thr = self.meta.get("threshold") or {}
        return {"modality": self.modality, "detector": self.meta.get("detector"), "columns": self.columns,
                "label": self.meta.get("label"), "time": self.meta.get("time"),
                "threshold": float(getattr(self.det, "threshold_", thr.get("value", float("nan")))),
                "threshold_method": thr.get("method"), "version": self.version,
                "adgdm_version": self.meta.get("adgdm_version"),
                "image_size": getattr(self.det, "size", None) if self.modality == "image" else None}


def _version(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def load_verified(model_dir) -> LoadedModel:
    """Load a model folder and score a probe with it; any failure raises ``ValueError`` and
    nothing is returned, so a corrupt folder is never served."""
    from ..commands.fit import input_columns, read_model

    folder = Path(model_dir)
    try:
        det, meta = read_model(folder)
    except (ValueError, FileNotFoundError) as e:
        raise ValueError(str(e).splitlines()[0]) from None
    except Exception as e:  # a truncated safetensors file and the like
        raise ValueError(f"{folder}: cannot load the model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if meta.get("modality") not in MODALITIES:
        raise ValueError(f"adgdm serve serves {', '.join(MODALITIES)} models; {folder} is {meta.get('modality')}")
    model = LoadedModel(det, meta, _version(folder), time.time(), input_columns(meta))
    try:
        _probe(model)
    except Exception as e:
        raise ValueError(f"{folder}: the model loads but fails on a probe ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return model


def _probe(model: LoadedModel) -> None:
    """Score one made-up unit: a row of typical values, or a gray image."""
    if model.modality == "tabular":
        enc = model.meta.get("encoder")
        if enc is not None:
            row = {c["name"]: (c.get("center", 0.0) if c["kind"] == "numeric" else
                               (c["categories"][0] if c.get("categories") else None)) for c in enc["columns"]}
        else:
            n = int(getattr(model.det, "n_features_in_", 0) or len(model.columns or []))
            row = {c: 0.0 for c in (model.columns or [f"x{j}" for j in range(n)])}
        out = score_records(model, [row], explain=False)
        if not np.isfinite(out[0]["score"]):
            raise ValueError("a non-finite score")
    elif model.modality == "image":
        s = getattr(model.det, "size", None) or 64
        h, w = (s, s) if np.isscalar(s) else s
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.full((int(h), int(w)), 128, np.uint8)).save(buf, format="PNG")
        score_image(model, buf.getvalue(), max_pixels=int(h) * int(w))


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
    allowed = set(model.columns) | {c for c in (model.meta.get("label"), model.meta.get("time")) if c}
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
    extra = [c for c in (model.meta.get("label"), model.meta.get("time")) if c and c in records[0]]
    return pd.DataFrame.from_records(records, columns=cols + [c for c in extra if c not in cols])


def score_frame(model: LoadedModel, df, explain: bool = True, top_k: int = 3) -> list[dict]:
    """The ``adgdm score`` fields of each row of ``df`` (a frame of the model's columns)."""
    from ..commands.score import score_data

    frame, _ = score_data(model.det, model.meta, "the request", explain=explain, top_k=top_k, frame=df)
    return to_records(frame)


def score_records(model: LoadedModel, records, explain: bool = True, top_k: int = 3,
                  max_rows: int = 10_000) -> list[dict]:
    return score_frame(model, check_records(model, records, max_rows), explain, top_k)


def to_records(frame) -> list[dict]:
    contrib = [c for c in frame.columns if c.startswith("contrib:")]
    parts = [c for c in frame.columns if c.startswith("part:")]
    plain = [c for c in frame.columns if c not in contrib and c not in parts]
    out = []
    cols = {c: frame[c].to_numpy() for c in frame.columns}
    for i in range(len(frame)):
        rec = {c: _py(cols[c][i]) for c in plain}
        if contrib:
            rec["contributions"] = {c[len("contrib:"):]: _py(cols[c][i]) for c in contrib}
        if parts:
            rec["parts"] = {c[len("part:"):]: _py(cols[c][i]) for c in parts}
        out.append(rec)
    return out


def _py(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def score_image(model: LoadedModel, body: bytes, max_pixels: int, explain: bool = True) -> list[dict]:
    """One uploaded image (PNG, JPEG, BMP, TIFF bytes): the ``adgdm score`` fields and a summary of
    its anomaly map (max, mean, where the max is, the share of pixels above the map's threshold)."""
    from PIL import Image

    from ..modalities.readers import Data
    from ..commands.score import score_data
    from ..data.images import load_image_files

    try:
        with Image.open(io.BytesIO(body)) as im:
            w, h = im.size
    except Exception as e:
        raise ValueError(f"the body is not an image PIL can read ({type(e).__name__})") from None
    if w * h > max_pixels:
        raise OverflowError(f"the image has {w}x{h} = {w * h} pixels; the limit is {max_pixels}")
    prep = {k: getattr(model.det, k, None) for k in ("size", "crop", "channels")}
    try:
        imgs = load_image_files([io.BytesIO(body)], **prep)
    except ValueError as e:
        raise ValueError(f"the uploaded image: {str(e).split(': ', 1)[-1]}") from None
    d = Data("image", None, [], np.asarray(["upload"], dtype=object), images=imgs, source="the request")
    frame, extras = score_data(model.det, model.meta, "the request", images=d)
    recs = to_records(frame)
    maps = extras.get("maps")
    if maps is not None:
        m = np.asarray(maps[0], dtype=np.float64)
        y, x = np.unravel_index(int(np.argmax(m)), m.shape)
        recs[0]["map"] = {"shape": list(m.shape), "max": float(m.max()), "mean": float(m.mean()),
                          "argmax": [int(y), int(x)]}
    return recs
