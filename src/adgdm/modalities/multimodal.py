"""Multimodal records: several named modalities per record (images, texts, numbers); a score per record.

Input: a dict (any mapping) of equal-length columns, or a pandas DataFrame, one entry per modality:

* image: an array ``(n, H, W)`` or ``(n, H, W, C)`` (C = 1 or 3) in [0, 1] (uint8 is divided by 255);
  in a DataFrame, a column whose cells are 2-D or 3-D arrays;
* text: a list (or object array, or DataFrame column) of ``n`` non-empty strings;
* numeric: an array ``(n,)`` or ``(n, d)`` of finite numbers.

The kind is inferred (strings: text; 3 or 4 dimensions: image; else numeric). The adapter validates
once and names the record and the modality of every problem (a missing modality, an empty text at
record i, a NaN, an image of another shape). At fit it records ``modalities_`` (``[(name, kind,
shape of one record), ...]``), at scoring it checks the input against it. It returns a
:class:`Records`.

Example
-------
>>> r = MultimodalModality.as_records({"image": np.zeros((2, 8, 8)), "text": ["a", "b"], "x": [1.0, 2.0]})
>>> r.n, [(name, kind) for name, kind, _ in r.spec()]
(2, [('image', 'image'), ('text', 'text'), ('x', 'numeric')])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Modality, register_modality

__all__ = ["MultimodalModality", "Records"]

KINDS = ("image", "text", "numeric")


@dataclass
class Records:
    """Validated records: ``columns[name]`` is a float32 ``(n, H, W, C)`` image array, a list of ``n``
    strings, or a float64 ``(n, d)`` array; ``kinds[name]`` its kind; in the order given."""

    n: int
    columns: dict
    kinds: dict

    def spec(self) -> list:
        out = []
        for name, kind in self.kinds.items():
            col = self.columns[name]
            shape = [] if kind == "text" else [int(v) for v in np.asarray(col).shape[1:]]
            out.append((name, kind, shape))
        return out

    def take(self, idx) -> "Records":
        idx = np.asarray(idx)
        cols = {k: ([v[i] for i in idx] if self.kinds[k] == "text" else v[idx]) for k, v in self.columns.items()}
        return Records(int(len(idx)), cols, dict(self.kinds))

    def __len__(self) -> int:
        return self.n


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _column(name: str, values) -> tuple[str, object]:
    """``(kind, validated column)`` of one modality."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    if isinstance(values, str):
        raise ValueError(f"modality {name!r}: give one text per record (a list of strings), not a single string")
    seq = values if isinstance(values, np.ndarray) else list(values)
    if isinstance(seq, list):
        if any(isinstance(v, str) for v in seq):
            kind = "text"
        elif seq and all(isinstance(v, np.ndarray) and v.ndim in (2, 3) for v in seq):
            shapes = {v.shape for v in seq}
            if len(shapes) > 1:
                i = next(i for i, v in enumerate(seq) if v.shape != seq[0].shape)
                raise ValueError(f"record {i}: image {name!r} has shape {seq[i].shape}, record 0 has {seq[0].shape}")
            seq = np.stack(seq)
            kind = "image"
        else:
            kind = "numeric"
    else:
        if seq.dtype.kind in "OUS" and seq.ndim == 1:
            if seq.dtype.kind == "O" and len(seq) and all(isinstance(v, np.ndarray) for v in seq):
                return _column(name, list(seq))
            kind = "text" if any(isinstance(v, str) for v in seq) else "numeric"
            seq = list(seq) if kind == "text" else seq
        else:
            kind = "image" if seq.ndim in (3, 4) else "numeric"
    if kind == "text":
        for i, v in enumerate(seq):
            if not isinstance(v, str):
                raise ValueError(f"record {i}: text {name!r} is a {type(v).__name__}, not a string")
            if not v.strip():
                raise ValueError(f"record {i}: text {name!r} is empty")
        return kind, [str(v) for v in seq]
    try:
        arr = np.asarray(seq)
        if arr.dtype == object:
            arr = arr.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"modality {name!r}: values must be numbers, images or strings ({e})") from None
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise ValueError(f"modality {name!r}: values must be numbers, images or strings, got dtype {arr.dtype}")
    if kind == "image":
        if arr.ndim == 3:
            arr = arr[..., None]
        if arr.shape[3] not in (1, 3):
            raise ValueError(f"modality {name!r}: images must be (n, H, W) or (n, H, W, C) with C = 1 or 3, "
                             f"got shape {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr / 255.0
        arr = arr.astype(np.float32)
        flat = arr.reshape(len(arr), -1)
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            raise ValueError(f"record {_first_bad(bad)}: image {name!r} holds NaN or infinite values")
        out = (flat < -1e-3).any(axis=1) | (flat > 1 + 1e-3).any(axis=1)
        if out.any():
            i = _first_bad(out)
            raise ValueError(f"record {i}: image {name!r} has values in [{flat[i].min():g}, {flat[i].max():g}], "
                             "not in [0, 1] (divide 8-bit images by 255)")
        return kind, arr
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"modality {name!r}: numbers must be (n,) or (n, d), got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"record {_first_bad(bad)}: numeric {name!r} holds NaN or infinite values")
    return "numeric", arr


class MultimodalModality(Modality):
    name = "multimodal"
    unit = "record"
    scored_units = "records"
    part = "modality"
    own_evidence = "per-modality score"
    default_detector = "multimodal"
    fitted_meta = ("modalities_",)

    @staticmethod
    def as_records(X) -> Records:
        """A dict of columns or a DataFrame -> :class:`Records` (validated)."""
        if hasattr(X, "columns") and hasattr(X, "iloc"):  # a pandas DataFrame
            X = {str(c): X[c] for c in X.columns}
        if not hasattr(X, "keys") or not hasattr(X, "__getitem__"):
            raise ValueError("multimodal input must be a dict {modality name: column} or a pandas DataFrame, "
                             f"got {type(X).__name__}")
        if not len(X):
            raise ValueError("multimodal input has no modality")
        columns, kinds, n = {}, {}, None
        for name in X.keys():
            kind, col = _column(str(name), X[name])
            if n is not None and len(col) != n:
                first = next(iter(columns))
                raise ValueError(f"modality {str(name)!r} has {len(col)} records, {first!r} has {n}")
            n = len(col)
            columns[str(name)], kinds[str(name)] = col, kind
        if not n:
            raise ValueError("multimodal input has no record")
        return Records(int(n), columns, kinds)

    def check(self, det, X, fitting: bool):
        rec = self.as_records(X)
        if fitting:
            det.modalities_ = [tuple(s) for s in rec.spec()]
            return rec
        fitted = {name: (kind, list(shape)) for name, kind, shape in det.modalities_}
        missing = [name for name in fitted if name not in rec.kinds]
        if missing:
            raise ValueError(f"modality {missing[0]!r} is missing; the detector was fitted on "
                             f"{list(fitted)} (got {list(rec.kinds)})")
        for name, kind, shape in rec.spec():
            if name not in fitted:
                continue  # extra columns (ids, labels) are ignored
            fkind, fshape = fitted[name]
            if kind != fkind:
                raise ValueError(f"modality {name!r} is {kind}, the detector was fitted on {fkind}")
            if shape != fshape:
                raise ValueError(f"modality {name!r}: records have shape {tuple(shape)}, the detector was fitted "
                                 f"on {tuple(fshape)} (image shape mismatch)" if kind == "image" else
                                 f"modality {name!r}: records have {shape} values, fitted on {fshape}")
        cols = {name: rec.columns[name] for name in fitted}
        return Records(rec.n, cols, {name: fitted[name][0] for name in fitted})

    def _meta_value(self, key, value):
        return [(str(n), str(k), [int(v) for v in s]) for n, k, s in value]


register_modality(MultimodalModality())
