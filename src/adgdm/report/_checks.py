"""Input checks for the report: every problem is a ValueError that names the argument and the fix."""
from __future__ import annotations

import numpy as np

from .._validation import read_array

__all__ = ["vector", "labels01", "same_length", "names", "contributions", "images", "maps", "masks", "columns"]


def _array(x, what: str) -> np.ndarray:
    if hasattr(x, "to_numpy"):  # pandas Series / Index without importing pandas
        x = x.to_numpy()
    if hasattr(x, "detach"):  # torch tensors
        x = x.detach().cpu().numpy()
    return read_array(x, what)


def vector(x, what: str, *, allow_nan: bool = False) -> np.ndarray:
    """A non-empty 1-D float64 array (``(n, 1)`` is accepted); NaN/inf raise unless ``allow_nan``."""
    if x is None:
        raise ValueError(f"{what} is required, got None")
    arr = _array(x, what)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one value per row), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty: nothing to report")
    try:
        arr = arr.astype(np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}") from None
    if not allow_nan and not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr))
        kind = "NaN" if np.isnan(arr[bad[0]]) else "inf"
        raise ValueError(f"{what} contain {bad.size} non-finite values (NaN or inf); first is {kind} at index "
                         f"{bad[0]}. Drop or fill them before reporting")
    if allow_nan and np.isinf(arr).any():
        raise ValueError(f"{what} contain inf at index {int(np.flatnonzero(np.isinf(arr))[0])}")
    return arr


def same_length(arr, n: int, what: str, ref: str) -> None:
    if len(arr) != n:
        raise ValueError(f"length mismatch: {what} has {len(arr)} values but {ref} has {n}")


def labels01(y, n: int, what: str = "labels", ref: str = "scores") -> np.ndarray:
    """0/1 integer labels of length ``n`` (bools accepted)."""
    arr = _array(y, what)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    same_length(arr, n, what, ref)
    try:
        f = arr.astype(np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"{what} must be 0/1, got dtype {arr.dtype}") from None
    bad = ~np.isin(f, (0.0, 1.0))
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise ValueError(f"{what} must be 0/1 (1 = anomaly); found other values {found}")
    return f.astype(np.int8)


def names(values, n: int, what: str, ref: str, default: str) -> list[str]:
    """``n`` strings: the given ones, or ``default.format(i)``."""
    if values is None:
        return [default.format(i) for i in range(n)]
    out = [str(v) for v in _array(values, what).reshape(-1).tolist()] if not isinstance(values, (list, tuple)) \
        else [str(v) for v in values]
    if len(out) != n:
        raise ValueError(f"length mismatch: {what} has {len(out)} entries but {ref} has {n}")
    return out


def contributions(x, n: int, feature_names=None, ref: str = "scores", default: str = "f{}"):
    """``(C, names)``: an ``(n, d)`` finite, non-negative float array and its ``d`` feature names
    (given, a DataFrame's columns, or ``default.format(j)``)."""
    C = _array(x, "contributions")
    try:
        C = C.astype(np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"contributions must be numeric, got dtype {C.dtype}") from None
    if C.ndim != 2 or C.shape[0] != n:
        raise ValueError(f"contributions must be (n, d) with n = {n} rows like {ref}; got shape {C.shape}")
    if not np.isfinite(C).all() or (C < 0).any():
        raise ValueError("contributions must be finite and non-negative (e.g. absolute or squared errors)")
    if feature_names is None and hasattr(x, "columns"):
        feature_names = list(x.columns)
    return C, names(feature_names, C.shape[1], "feature_names", "contributions' columns", default)


def images(x, what: str = "images") -> np.ndarray:
    """``(N, H, W)`` or ``(N, H, W, C)`` with C in 1, 3, 4; uint8, bool, or float in [0, 1]."""
    arr = _array(x, what)
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (1, 3, 4)):
        hint = ("; channels must be last: use images.transpose(0, 2, 3, 1)"
                if arr.ndim == 4 and arr.shape[1] in (1, 3) else "")
        raise ValueError(f"{what} must be (N, H, W) or (N, H, W, C) with C in 1, 3, 4; got shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"{what} is empty: shape {arr.shape}")
    if arr.dtype == np.uint8 or arr.dtype == bool:
        return arr
    arr = _finite_float32(arr, what)
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{what} are floats in [{lo:.3g}, {hi:.3g}]; pass floats in [0, 1] or uint8 in [0, 255]")
    return np.clip(arr, 0.0, 1.0)


def _finite_float32(arr: np.ndarray, what: str) -> np.ndarray:
    try:
        arr = arr.astype(np.float32)
    except (ValueError, TypeError):
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or inf values")
    return arr


def maps(x, shape: tuple, what: str = "maps") -> np.ndarray:
    """Float maps with the images' ``(N, H, W)``."""
    arr = _array(x, what)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != tuple(shape):
        raise ValueError(f"shape mismatch: {what} has shape {arr.shape} but the images are {tuple(shape)} "
                         "(N, H, W); resize the maps to the image size first")
    return _finite_float32(arr, what)


def masks(x, shape: tuple, what: str = "masks") -> np.ndarray:
    """Boolean masks (nonzero = anomalous pixel) with shape ``(N, H, W)``."""
    arr = _array(x, what)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != tuple(shape):
        raise ValueError(f"shape mismatch: {what} has shape {arr.shape} but the images are {tuple(shape)} (N, H, W)")
    return arr > 0.5 if arr.dtype.kind == "f" else arr != 0


def columns(df, required, what: str = "df") -> None:
    if not hasattr(df, "columns"):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing columns {missing}; it has {list(map(str, df.columns))[:20]}")
    if len(df) == 0:
        raise ValueError(f"{what} is empty: 0 rows")


def objects(x, n: int, what: str = "objects") -> list[list[dict]]:
    """Per image a list of object dicts, each with a ``box`` of four finite numbers and a finite ``score``."""
    if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__len__"):
        raise ValueError(f"{what} must be one list of objects per image, got {type(x).__name__}")
    out = [list(o) for o in x]
    same_length(out, n, what, "images")
    for i, objs in enumerate(out):
        for o in objs:
            box = np.asarray(o.get("box", ()) if isinstance(o, dict) else (), dtype=np.float64).ravel()
            if not isinstance(o, dict) or box.size != 4 or not np.isfinite(box).all() \
                    or not np.isfinite(float(o.get("score", np.nan))):
                raise ValueError(f"{what}[{i}]: each object must be a dict with a 'box' [x0, y0, x1, y1] of finite "
                                 f"numbers and a finite 'score', got {o!r}")
    return out
