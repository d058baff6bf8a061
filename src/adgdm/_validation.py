"""Input checks shared by every detector: every problem gets a ValueError that names it."""
from __future__ import annotations

import contextlib
import contextvars
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["check_tabular", "check_series", "read_array", "as_numeric", "check_2d", "refuse_complex",
           "EXTREME_SPREADS", "ExtremeValueWarning", "extreme_bounds", "clip_extremes", "collect_extremes",
           "extreme_note"]

# --- extreme finite values ---------------------------------------------------------------------------
# A finite cell can still be far too large for the arithmetic of a model (1e200 squared is inf; float32
# networks overflow at 3e38). Every detector's input therefore passes one rule where it enters the model:
# a cell more than EXTREME_SPREADS robust spreads from its column's training median is clipped to that
# bound, at fit and at scoring. A clipped row stays what it was, far beyond the training data (it scores
# very high, finite, and is flagged); the other rows are untouched. The largest distance of a real cell
# from its median on the shared benchmark data (ADBench, NSL-KDD, SKAB, NAB) is 3.3e4 spreads.
EXTREME_SPREADS = 1e6


class ExtremeValueWarning(UserWarning):
    """Cells beyond :data:`EXTREME_SPREADS` robust spreads of their column were clipped to that bound."""


def extreme_bounds(arr: np.ndarray, spreads: float = EXTREME_SPREADS) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``arr`` (NaN ignored): ``(lo, hi) = median -/+ spreads * s``, with ``s`` the largest
    of the interquartile range / 1.349, the 1%-99% range / 4.65 (both 1 sd for normal data) and the
    smallest nonzero distance of a value from the median (the column's resolution, for columns that are
    one value 98% of the time); ``s`` below 1e-12 counts as 1 (as standardisation does).

    Example
    -------
    >>> lo, hi = extreme_bounds(np.array([[0.0], [1.0], [2.0], [3.0]]))
    >>> float(hi[0]) > 1e6 and float(lo[0]) < -1e6
    True
    """
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: the callers refuse them
        q01, q25, med, q75, q99 = np.nanquantile(arr, [0.01, 0.25, 0.5, 0.75, 0.99], axis=0)
        dev = np.abs(arr - med)
        step = np.where(dev > 0, dev, np.inf).min(axis=0)
        cands = np.stack([(q75 - q25) / 1.349, (q99 - q01) / 4.65, step])
        s = np.max(np.where(np.isfinite(cands), cands, 0.0), axis=0)
        s = np.where(s > 1e-12, s, 1.0)
        lo, hi = med - spreads * s, med + spreads * s
    big = np.finfo(np.float64).max
    return np.nan_to_num(lo, nan=-big, neginf=-big), np.nan_to_num(hi, nan=big, posinf=big)


@dataclass
class ExtremeCells:
    """What :func:`clip_extremes` clipped in one input: how many cells, in which units (rows, steps)
    and which parts (columns, channels)."""

    n: int
    units: np.ndarray
    parts: np.ndarray              # column (channel) indices
    names: list | None = None      # the columns' names, when the detector knows them
    unit: str = "row"
    part: str = "column"
    at_fit: bool = False

    def shifted(self, offset: int) -> "ExtremeCells":
        return ExtremeCells(self.n, self.units + offset, self.parts, self.names, self.unit, self.part, self.at_fit)


_SINK: contextvars.ContextVar = contextvars.ContextVar("adgdm_extreme_cells", default=None)


@contextlib.contextmanager
def collect_extremes():
    """Within this block, :func:`clip_extremes` records what it clipped in the yielded list instead of
    warning (the command line and ``adgdm serve`` turn it into a note). Thread- and task-safe.

    Example
    -------
    >>> with collect_extremes() as found:
    ...     _ = clip_extremes(np.array([[1e200]]), np.array([-1.0]), np.array([1.0]))
    >>> found[0].n
    1
    """
    found: list = []
    token = _SINK.set(found)
    try:
        yield found
    finally:
        _SINK.reset(token)


def clip_extremes(arr: np.ndarray, lo, hi, what: str = "X", unit: str = "row", part: str = "column",
                  names=None, at_fit: bool = False) -> np.ndarray:
    """``arr`` with cells below ``lo`` / above ``hi`` (per column, :func:`extreme_bounds`) clipped to
    them (NaN kept). What was clipped goes to :func:`collect_extremes`, else one
    :class:`ExtremeValueWarning` naming the first rows and columns."""
    if lo is None or hi is None or arr.ndim != 2 or arr.shape[1] != np.shape(lo)[0]:
        return arr
    over = (arr < lo) | (arr > hi)
    if not over.any():
        return arr
    units, cols = np.nonzero(over)
    found = ExtremeCells(int(over.sum()), np.unique(units), np.unique(cols),
                         None if names is None else [str(v) for v in names], unit, part, at_fit)
    sink = _SINK.get()
    if sink is not None:
        sink.append(found)
    else:
        warnings.warn(f"{what}: {extreme_note([found])}", ExtremeValueWarning, stacklevel=4)
    return np.where(over, np.clip(arr, lo, hi), arr)


def extreme_note(found: list, names=None) -> str | None:
    """One sentence on the cells :func:`clip_extremes` clipped (``found``: its records), or None;
    ``names``: the columns' names when the records have none."""
    if not found:
        return None
    at_fit = found[0].at_fit
    n = sum(f.n for f in found)
    units = np.unique(np.concatenate([f.units for f in found]))
    idx = np.unique(np.concatenate([f.parts for f in found]))
    known = found[0].names if found[0].names is not None else names
    parts = [str(known[j]) if known is not None and j < len(known) else str(j) for j in idx]
    unit, part = found[0].unit, found[0].part
    shown = ", ".join(str(int(u)) for u in units[:10]) + (" ..." if len(units) > 10 else "")
    cols = ", ".join(repr(p) for p in parts[:10]) + (" ..." if len(parts) > 10 else "")
    where = "the training data" if at_fit else "the scored data"
    then = (f"before fitting; check those {unit}s" if at_fit else
            f"(too large for the model's arithmetic): such {unit}s are scored as lying far beyond the training data")
    return (f"{n} cell(s) of {where} lay more than {EXTREME_SPREADS:.0e} robust spreads from their {part}'s "
            f"median ({unit}s {shown}; {part}s {cols}) and were clipped to that bound {then}")


def refuse_complex(X, what: str) -> None:
    """A ValueError when ``X`` (an array, or a DataFrame's columns) holds complex numbers: casting them
    to float would silently drop the imaginary part (numpy only warns).

    Example
    -------
    >>> refuse_complex(np.array([[1 + 2j]]), "X")
    Traceback (most recent call last):
    ...
    ValueError: X holds complex numbers (dtype complex128); Complex data not supported: the detectors read real numbers; pass the real part, the magnitude (np.abs) or both as separate columns
    """
    fix = ("Complex data not supported: the detectors read real numbers; pass the real part, the magnitude (np.abs) "
           "or both as separate columns")

    def kind(dt) -> str:  # numpy and pandas (extension) dtypes alike
        return getattr(dt, "kind", "") or ""

    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        bad = [str(c) for c, dt in zip(X.columns, X.dtypes) if kind(dt) == "c"
               or (kind(dt) == "O" and any(isinstance(v, complex) for v in X[c]))]
        if bad:
            raise ValueError(f"{what} has complex columns {bad[:10]}; {fix}")
        return
    dtype = getattr(X, "dtype", None)
    if kind(dtype) == "c":
        raise ValueError(f"{what} holds complex numbers (dtype {dtype}); {fix}")
    if kind(dtype) == "O" and any(isinstance(v, complex) for v in np.ravel(np.asarray(X, dtype=object))):
        raise ValueError(f"{what} holds complex numbers; {fix}")


def refuse_sparse(x, what: str) -> None:
    """A ValueError when ``x`` is a scipy sparse matrix or array (``np.asarray`` would make a 0-d object
    array of it, and the error would not say why)."""
    if hasattr(x, "toarray") and hasattr(x, "nnz"):
        raise ValueError(f"{what} is a sparse matrix ({type(x).__name__}): sparse input is not supported; pass a "
                         f"dense array ({what}.toarray())")


def read_array(x, what: str, dtype=None) -> np.ndarray:
    """``np.asarray(x, dtype=dtype)``, or a ValueError naming ``what`` when ``x`` cannot be read as one."""
    refuse_sparse(x, what)
    if dtype is not None and np.dtype(dtype).kind != "c":
        refuse_complex(x if hasattr(x, "dtype") else _maybe_array(x), what)
    try:
        return np.asarray(x, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what} could not be read as {'an' if dtype is None else 'a numeric'} array: {e}") from None


def _maybe_array(x):
    try:
        return np.asarray(x)
    except (ValueError, TypeError):
        return None  # read_array names the problem


def as_numeric(arr: np.ndarray, what: str, fix: str) -> np.ndarray:
    """``arr`` (numbers and bools as they are, anything else cast to float64), or a ValueError ending in ``fix``
    (complex numbers: :func:`refuse_complex`)."""
    refuse_complex(arr, what)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}; {fix}") from None
    return arr


def check_2d(arr: np.ndarray, what: str) -> None:
    """A ValueError unless ``arr`` is ``(n_samples >= 1, n_features >= 1)``."""
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}"
                         + (". Reshape your data: X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else ""))
    if arr.shape[0] == 0:
        raise ValueError(f"{what} is empty: 0 samples")
    if arr.shape[1] == 0:
        raise ValueError(f"{what} has 0 features: 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")


def check_tabular(X, n_features: int | None = None, feature_names=None, what: str = "X", allow_nan: bool = False,
                  who: str = "the detector"):
    """Return ``(array float64 (n, d), column names or None)`` or raise ValueError naming the problem.

    Accepts numpy arrays, nested lists and pandas DataFrames of numeric columns. ``allow_nan``
    (detectors that handle blank cells): NaN cells pass (inf still raises), but a row with no
    observed cell is an error naming the rows. ``who``: the fitted estimator, in messages.
    """
    names = None
    refuse_sparse(X, what)
    refuse_complex(X, what)
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # pandas DataFrame, without importing pandas
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [str(c) for c, dt in zip(X.columns, X.dtypes) if not (is_numeric_dtype(dt) or is_bool_dtype(dt))]
        if bad:
            raise ValueError(f"{what} has non-numeric columns: {bad[:10]}; encode them as numbers first")
        names = np.asarray([str(c) for c in X.columns], dtype=object)
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable columns: <NA> -> NaN, caught below
    elif hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas Series
        X = X.to_numpy()
    arr = as_numeric(read_array(X, what), what, "encode non-numeric columns first")
    check_2d(arr, what)
    # C order: the same values must give the same sums (and scores) whatever layout they came in
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if allow_nan:
        if np.isinf(arr).any():
            r, c = np.argwhere(np.isinf(arr))[0]
            raise ValueError(f"{what} contains {int(np.isinf(arr).sum())} infinite values; first at row {r}, column {c}")
        empty = np.flatnonzero(np.isnan(arr).all(axis=1))
        if len(empty):
            raise ValueError(f"{what} has {len(empty)} row(s) with no observed cell (every value NaN): rows "
                             f"{empty[:10].tolist()}{' ...' if len(empty) > 10 else ''}; drop them (nothing to score "
                             "them on)")
    elif not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        rows, cols = np.nonzero(bad)
        kind = "NaN" if np.isnan(arr[rows[0], cols[0]]) else "inf"
        raise ValueError(f"{what} contains {int(bad.sum())} non-finite values (NaN or inf); first is {kind} at "
                         f"row {rows[0]}, column {cols[0]}. Impute or drop them before fitting or scoring")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{what} has {arr.shape[1]} features, but {who} is expecting {n_features} features as input "
                         f"(it was fitted with {n_features})")
    if feature_names is not None and names is not None and list(names) != list(feature_names):
        raise ValueError(f"{what} column names differ from those seen at fit: {list(names)[:10]} vs {list(feature_names)[:10]}")
    return arr, names


def check_series(X, n_channels: int | None = None, channel_names=None, fill: str | None = None,
                 min_length: int = 1, what: str = "series"):
    """Return ``(array float64 (T, C), channel names or None)`` for a series given as ``(T,)``,
    ``(T, C)``, a pandas Series or a DataFrame (one column per channel, rows in time order).

    NaN gaps raise a ValueError unless ``fill`` is ``"ffill"`` (carry the last value forward, the
    first values backward) or ``"interpolate"`` (linear in the step index); inf always raises.
    """
    refuse_complex(X, what)
    if hasattr(X, "ndim") and getattr(X, "ndim", 0) == 1 and hasattr(X, "to_numpy"):  # pandas Series
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(X) if not hasattr(X, "columns") else X
    if not hasattr(arr, "columns") and np.asarray(arr).ndim == 1:
        arr = np.asarray(arr).reshape(-1, 1)
    if not hasattr(arr, "columns") and np.asarray(arr).ndim not in (1, 2):
        raise ValueError(f"{what} must be (T,) or (T, channels), got shape {np.asarray(arr).shape}")
    try:
        arr, names = _tabular_allow_nan(arr, what)
    except ValueError as e:
        raise ValueError(str(e).replace("n_samples, n_features", "T, channels")) from None
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} is empty: shape {arr.shape}")
    if np.isinf(arr).any():
        t, c = np.argwhere(np.isinf(arr))[0]
        raise ValueError(f"{what} contains inf at step {t}, channel {c}")
    gaps = np.isnan(arr)
    if gaps.any():
        if fill is None:
            t, c = np.argwhere(gaps)[0]
            raise ValueError(f"{what} has {int(gaps.sum())} NaN values (first at step {t}, channel {c}); fill the gaps "
                             "or pass fill='ffill' or fill='interpolate'")
        arr = _fill(arr, fill, what)
    if arr.shape[0] < min_length:
        raise ValueError(f"{what} has {arr.shape[0]} steps, fewer than the window length {min_length}")
    if n_channels is not None and arr.shape[1] != n_channels:
        raise ValueError(f"{what} has {arr.shape[1]} channels, but the detector was fitted with {n_channels}")
    if channel_names is not None and names is not None and list(names) != list(channel_names):
        raise ValueError(f"{what} channel names differ from those seen at fit: {list(names)[:10]} vs "
                         f"{list(channel_names)[:10]}")
    return arr, names


def _tabular_allow_nan(X, what):
    """``check_tabular`` without the finiteness check (series may have gaps to fill)."""
    refuse_complex(X, what)
    if hasattr(X, "columns"):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [str(c) for c, dt in zip(X.columns, X.dtypes) if not (is_numeric_dtype(dt) or is_bool_dtype(dt))]
        if bad:
            raise ValueError(f"{what} has non-numeric columns: {bad[:10]}; encode them as numbers first")
        return X.to_numpy(dtype=np.float64, na_value=np.nan), np.asarray([str(c) for c in X.columns], dtype=object)
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"{what} must be numeric") from None
    if arr.shape[0] == 0:
        raise ValueError(f"{what} is empty: 0 steps")
    if arr.shape[1] == 0:
        raise ValueError(f"{what} has 0 channels")
    return np.ascontiguousarray(arr), None


def _fill(arr, fill, what):
    out = arr.copy()
    steps = np.arange(len(arr))
    for c in range(arr.shape[1]):
        ok = ~np.isnan(arr[:, c])
        if not ok.any():
            raise ValueError(f"{what} channel {c} is all NaN; nothing to fill from")
        if fill == "interpolate":
            out[:, c] = np.interp(steps, steps[ok], arr[ok, c])
        elif fill == "ffill":
            last = np.maximum.accumulate(np.where(ok, steps, -1))
            first = np.argmax(ok)
            out[:, c] = arr[np.where(last >= 0, last, first), c]
        else:
            raise ValueError(f"unknown fill {fill!r}; choose None, 'ffill' or 'interpolate'")
    return out
