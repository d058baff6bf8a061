"""The modality adapter contract and the registry of modalities."""
from __future__ import annotations

import numpy as np

from .._validation import EXTREME_SPREADS, clip_extremes, extreme_bounds

__all__ = ["Modality", "register_modality", "get_modality", "list_modalities"]


class Modality:
    """How one kind of input reaches a detector.

    ``check(det, X, fitting)`` validates ``X`` once and returns what the detector's ``_fit`` /
    ``_score`` take; at fit it records the input's description on the detector (the attributes
    named in ``fitted_meta`` and ``fitted_arrays``), at scoring it checks ``X`` against them.
    ``save`` / ``restore`` keep that description in a model folder. ``occlude`` explains a score by
    setting one part of the input (a feature, a channel) to a neutral value at a time.
    """

    name = "base"
    unit = "unit"                       # what one score belongs to: "row", "step", "image", ...
    scored_units = "rows"               # what the lines of a scores file are called in messages
    part = "part"                       # what explain credits: "feature", "channel", ...
    own_evidence = "evidence"           # a detector's own per-part explanation, in words
    # for the command line: the recommended detector, what a data argument is ("table": CSV,
    # Parquet or NPZ; "folder": a folder of files), and whether a fit drops rows labelled 1
    default_detector: str | None = None
    auto_detector: str | None = None  # what make_detector("auto", modality=...) builds
    source = "table"
    fit_input = "X"                     # what fit takes, in words (for the not-fitted error)
    io = None                           # its I/O (``adgdm.modalities.io``): reading, writing rows, serving
    fitted_meta: tuple[str, ...] = ()   # JSON-able fitted attributes describing the input
    fitted_arrays: tuple[str, ...] = ()  # array-valued ones
    bound_attrs: tuple[str, str] | None = None  # the fitted per-part bounds of extreme values (lo, hi)

    def check(self, det, X, fitting: bool):
        raise NotImplementedError

    def bound(self, det, arr: np.ndarray, fitting: bool, names=None, what: str = "X", parts=None) -> np.ndarray:
        """``arr`` (units x parts) with its extreme cells clipped (:func:`adgdm._validation.clip_extremes`:
        more than ``EXTREME_SPREADS`` robust spreads from the part's training median). At fit the bounds
        are computed from ``arr`` and recorded on ``det`` (``bound_attrs``); ``parts`` (bool per part):
        only those are bounded (a detector's categorical codes are not)."""
        if self.bound_attrs is None:
            return arr
        if fitting:
            lo, hi = extreme_bounds(arr)
            if parts is not None:
                big = np.finfo(np.float64).max
                lo, hi = np.where(parts, lo, -big), np.where(parts, hi, big)
            setattr(det, self.bound_attrs[0], lo)
            setattr(det, self.bound_attrs[1], hi)
        else:
            lo, hi = self.bounds(det)
        return clip_extremes(arr, lo, hi, what, self.unit, self.part, names, at_fit=fitting)

    def bounds(self, det) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The fitted bounds of extreme values; for models saved before they were recorded, the
        standardisation's centre -/+ ``EXTREME_SPREADS`` scales (``(None, None)``: none known)."""
        if self.bound_attrs is not None:
            lo, hi = (getattr(det, a, None) for a in self.bound_attrs)
            if lo is not None and hi is not None:
                return lo, hi
        center, scale = getattr(det, "center_", None), getattr(det, "scale_", None)
        if isinstance(center, np.ndarray) and isinstance(scale, np.ndarray) and center.shape == scale.shape \
                and center.ndim == 1 and center.shape[0] == self.width(det):
            return center - EXTREME_SPREADS * scale, center + EXTREME_SPREADS * scale
        return None, None

    def neutral(self, det) -> np.ndarray | None:
        """The value each part of the input is set to when it is occluded (or None)."""
        return None

    def read_folder(self, det, path):
        """What ``det.fit`` takes for a folder of files (modalities whose data is a folder)."""
        raise NotImplementedError(f"the {self.name} modality reads no folders")

    def check_explain(self, det, method: str, baseline) -> None:
        """Raise if ``explain(method=..., baseline=...)`` does not apply to this modality."""

    def occlude(self, det, data, baseline: np.ndarray, max_rows: int, reference=None) -> np.ndarray:
        """Contributions by occlusion of validated ``data``; the modified copies are scored with
        ``det._score_input`` (validated already: not checked again). ``reference``: the scores the
        drops are measured from (default: ``data``'s own scores)."""
        raise ValueError(f"{type(det).__name__} ({self.name}) has no explanation by occlusion")

    # --- persistence of the input description -------------------------------------------------
    def save(self, det) -> tuple[dict, dict]:
        meta = {k: _plain(getattr(det, k)) for k in self.fitted_meta if getattr(det, k, None) is not None}
        arrays = {k: np.asarray(getattr(det, k)) for k in self.fitted_arrays if getattr(det, k, None) is not None}
        return meta, arrays

    def restore(self, det, meta: dict, arrays: dict) -> None:
        for k in self.fitted_meta:
            if k in meta:
                setattr(det, k, self._meta_value(k, meta[k]))
        width = self.width(det)
        for k in self.fitted_arrays:
            if k in arrays:
                setattr(det, k, np.asarray(arrays[k], dtype=np.float64))
                if width is not None and getattr(det, k).shape != (width,):
                    raise ValueError(f"stored {k} has shape {getattr(det, k).shape}, not ({width},)")

    def width(self, det) -> int | None:
        """How many features (channels) a per-part array of the fitted detector has (None: no check)."""
        return None

    def _meta_value(self, key: str, value):
        return value


def _plain(v):
    if isinstance(v, np.ndarray):
        return [x.item() if hasattr(x, "item") else x for x in v.tolist()] if v.dtype != object else [str(x) for x in v]
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


_MODALITIES: dict[str, Modality] = {}


def register_modality(adapter: Modality) -> Modality:
    """Make ``adapter`` the modality named ``adapter.name`` (a detector's ``modality`` attribute)."""
    _MODALITIES[adapter.name] = adapter
    return adapter


def get_modality(name: str) -> Modality:
    if name not in _MODALITIES:
        raise ValueError(f"unknown modality {name!r}; known: {', '.join(_MODALITIES)}")
    return _MODALITIES[name]


def list_modalities() -> list[str]:
    return list(_MODALITIES)
