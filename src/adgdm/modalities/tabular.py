"""Tables: rows of numeric features (numpy or pandas); a score per row."""
from __future__ import annotations

import numpy as np

from .._validation import check_tabular
from .base import Modality, register_modality


class TabularModality(Modality):
    name = "tabular"
    unit = "row"
    part = "feature"
    own_evidence = "feature reconstruction"
    default_detector = "diffusion"
    auto_detector = "auto"
    fitted_meta = ("n_features_in_", "feature_names_in_")
    fitted_arrays = ("feature_median_", "center_", "scale_", "feature_lo_", "feature_hi_")
    bound_attrs = ("feature_lo_", "feature_hi_")

    def check(self, det, X, fitting: bool) -> np.ndarray:
        blanks = bool(getattr(det, "_takes_nan", lambda: False)())
        if fitting:
            arr, names = check_tabular(X, allow_nan=blanks)
            det.n_features_in_ = arr.shape[1]
            if names is not None:
                det.feature_names_in_ = names
            elif hasattr(det, "feature_names_in_"):
                del det.feature_names_in_
            # the neutral value of each feature, for explanations by occlusion
            if blanks and np.isnan(arr).any():
                empty = np.flatnonzero(np.isnan(arr).all(axis=0))
                if len(empty):
                    names_ = [str(names[j]) if names is not None else str(j) for j in empty[:10]]
                    raise ValueError(f"X has {len(empty)} column(s) blank (NaN) in every training row: {names_}; "
                                     "drop them")
                det.feature_median_ = np.nanmedian(arr, axis=0)
            else:
                det.feature_median_ = np.median(arr, axis=0)
            return self.bound(det, arr, True, names)
        arr, _ = check_tabular(X, det.n_features_in_, getattr(det, "feature_names_in_", None), allow_nan=blanks,
                               who=type(det).__name__)
        return self.bound(det, arr, False, getattr(det, "feature_names_in_", None))

    def neutral(self, det):
        return getattr(det, "feature_median_", None)

    def occlude(self, det, arr: np.ndarray, baseline: np.ndarray, max_rows: int,
                reference: np.ndarray | None = None) -> np.ndarray:
        """Feature ``j`` of each row set to ``baseline[j]``; the contribution is the drop in score
        (from ``reference`` when given: the units' training scores)."""
        n, d = arr.shape
        s0 = det._score_input(arr) if reference is None else np.asarray(reference, dtype=np.float64)
        out = np.empty((n, d))
        per_call = max(1, max_rows // d)  # rows per call: each becomes d occluded copies
        diag = np.arange(d)
        for i in range(0, n, per_call):
            block = arr[i : i + per_call]
            m = len(block)
            occluded = np.repeat(block[:, None, :], d, axis=1)  # (m, d copies, d features)
            occluded[:, diag, diag] = baseline
            s = det._score_input(occluded.reshape(m * d, d)).reshape(m, d)
            out[i : i + m] = np.maximum(s0[i : i + m, None] - s, 0.0)
        return out

    def width(self, det):
        return det.n_features_in_

    def _meta_value(self, key, value):
        if key == "feature_names_in_":
            return np.asarray(value, dtype=object)
        return int(value)


register_modality(TabularModality())
