"""Input checks shared by every detector: every problem gets a ValueError that names it."""
from __future__ import annotations

import numpy as np

__all__ = ["check_tabular"]


def check_tabular(X, n_features: int | None = None, feature_names=None, what: str = "X"):
    """Return ``(array float64 (n, d), column names or None)`` or raise ValueError naming the problem.

    Accepts numpy arrays, nested lists and pandas DataFrames of numeric columns.
    """
    names = None
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # pandas DataFrame, without importing pandas
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [str(c) for c, dt in zip(X.columns, X.dtypes) if not (is_numeric_dtype(dt) or is_bool_dtype(dt))]
        if bad:
            raise ValueError(f"{what} has non-numeric columns: {bad[:10]}; encode them as numbers first")
        names = np.asarray([str(c) for c in X.columns], dtype=object)
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable columns: <NA> -> NaN, caught below
    elif hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas Series
        X = X.to_numpy()
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what} could not be read as an array: {e}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}; encode non-numeric columns first") from None
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}"
                         + ("; use X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else ""))
    if arr.shape[0] == 0:
        raise ValueError(f"{what} is empty: 0 samples")
    if arr.shape[1] == 0:
        raise ValueError(f"{what} has 0 features")
    # C order: the same values must give the same sums (and scores) whatever layout they came in
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        rows, cols = np.nonzero(bad)
        kind = "NaN" if np.isnan(arr[rows[0], cols[0]]) else "inf"
        raise ValueError(f"{what} contains {int(bad.sum())} non-finite values (NaN or inf); first is {kind} at "
                         f"row {rows[0]}, column {cols[0]}. Impute or drop them before fitting or scoring")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{what} has {arr.shape[1]} features, but the detector was fitted with {n_features}")
    if feature_names is not None and names is not None and list(names) != list(feature_names):
        raise ValueError(f"{what} column names differ from those seen at fit: {list(names)[:10]} vs {list(feature_names)[:10]}")
    return arr, names
