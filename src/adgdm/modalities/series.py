"""Series: ``(T,)`` or ``(T, channels)`` in time order (numpy or pandas); a score per step."""
from __future__ import annotations

import numpy as np

from .._validation import check_series
from .base import Modality, register_modality


class SeriesModality(Modality):
    name = "series"
    unit = "step"
    part = "channel"
    own_evidence = "channel errors"
    default_detector = "series"
    auto_detector = "series-auto"
    fit_input = "series"
    fitted_meta = ("n_channels_", "channel_names_")
    fitted_arrays = ("channel_median_", "center_", "scale_", "channel_lo_", "channel_hi_")
    bound_attrs = ("channel_lo_", "channel_hi_")

    def check(self, det, X, fitting: bool, min_length: int = 1) -> np.ndarray:
        fill = getattr(det, "fill", None)
        if fitting:
            arr, names = check_series(X, fill=fill, min_length=min_length)
            det.n_channels_, det.channel_names_ = arr.shape[1], names
            det.channel_median_ = np.median(arr, axis=0)  # neutral values for occlusion
            return self.bound(det, arr, True, names, "series")
        arr, _ = check_series(X, det.n_channels_, getattr(det, "channel_names_", None), fill=fill,
                              min_length=min_length)
        return self.bound(det, arr, False, getattr(det, "channel_names_", None), "series")

    def neutral(self, det):
        med = getattr(det, "channel_median_", None)
        return med if med is not None else getattr(det, "center_", None)

    def occlude(self, det, arr: np.ndarray, baseline: np.ndarray, max_rows: int,
                reference: np.ndarray | None = None) -> np.ndarray:
        """Channel ``c`` of the whole series set to ``baseline[c]``; the drop in each step's score
        (from ``reference`` when given: the units' training scores)."""
        s0 = det._score_input(arr) if reference is None else np.asarray(reference, dtype=np.float64)
        out = np.empty(arr.shape)
        for c in range(arr.shape[1]):
            occluded = arr.copy()
            occluded[:, c] = baseline[c]
            out[:, c] = np.maximum(s0 - det._score_input(occluded), 0.0)
        return out

    def save(self, det):
        meta, arrays = super().save(det)
        meta.setdefault("channel_names_", None)  # saved explicitly: None means unnamed channels
        return meta, arrays

    def width(self, det):
        return det.n_channels_

    def _meta_value(self, key, value):
        if key == "channel_names_":
            return None if value is None else np.asarray(value, dtype=object)
        return int(value)


register_modality(SeriesModality())
