"""A table as users have it (numbers, categories, true/false, blank cells) -> the numeric matrix a
tabular detector reads, and back to words for explanations.

:class:`TableEncoder` keeps, per column, its kind (``numeric``, ``categorical`` or ``boolean``),
its categories in order, and a numeric column's centre and scale; the state is plain JSON
(:meth:`TableEncoder.state` / :meth:`TableEncoder.from_state`). Encoding:

* numeric: ``(x - mean) / std`` of the training column; a blank cell is 0 there, plus a
  ``name:missing`` indicator column (``category_scale`` when blank) for the columns that had
  blanks at fit. A blank in a column that had none at fit is an error naming it (filling it
  with the centre would hide it). With ``blanks="nan"`` (for a detector that handles blank cells
  itself, e.g. ``diffusion``) a numeric blank stays NaN and no indicator column is made;
* categorical and boolean: one-hot, each level worth ``category_scale`` (default 1.0: one
  category mismatch moves a row ``sqrt(2)`` ~ 1.4 standard deviations of a numeric column);
  blank cells are their own ``<missing>`` level when training had them; a value never seen at
  fit (or a blank where training had none) sets the ``name=<unseen>`` indicator instead, so it
  reads as a mismatch with every training row. :meth:`TableEncoder.encode` counts them.

A column whose kind changed between fit and scoring (numbers at fit, text at scoring, or the
reverse), a column blank in every training row and a column of dates are errors naming the
column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .._validation import extreme_bounds

_BIG = np.finfo(np.float64).max

__all__ = ["TableEncoder", "Encoded", "infer_kind", "looks_like_dates", "KINDS"]

KINDS = ("numeric", "categorical", "boolean")
MISSING = "<missing>"
UNSEEN = "<unseen>"
TRUE_WORDS, FALSE_WORDS = {"true"}, {"false"}
DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d*,\d+\s*$")  # 1,5 or -0,25: a number with a decimal comma


@dataclass
class Encoded:
    """What :meth:`TableEncoder.encode` returns: the matrix, its column names, and per source
    column how many cells held a category never seen at fit (``unseen``; a few examples in
    ``unseen_values``)."""

    X: np.ndarray
    names: list[str]
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_values: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_unseen(self) -> int:
        return int(sum(self.unseen.values()))


def _series(values):
    import pandas as pd

    return values if isinstance(values, pd.Series) else pd.Series(values)


def _text(s):
    """Cells as stripped strings, blanks (and NaN/None) as <NA>."""
    t = s.astype("string").str.strip()
    return t.mask(t == "")


def looks_like_dates(values) -> bool:
    """True when most filled cells of a text column read as dates or timestamps (2024-01-31,
    31/01/2024, 2024-01-31T10:00:00...)."""
    import pandas as pd

    s = _series(values)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return True
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return False
    t = _text(s).dropna()
    if t.empty:
        return False
    return float(t.str.match(DATE_LIKE).mean()) >= 0.9


def infer_kind(values, name: str = "column") -> str:
    """``numeric`` (numbers, integer columns included), ``boolean`` (true/false) or
    ``categorical`` (text). A date column is an error naming it."""
    import pandas as pd

    s = _series(values)
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "numeric"
    if looks_like_dates(s):
        raise ValueError(f"column {name!r} holds dates; drop it, or give it as --time to keep it as the row id")
    t = _text(s).dropna()
    if t.empty:
        return "numeric"  # all blank: fit says so (an all-missing column is an error there)
    low = set(t.str.lower().unique())
    if low <= TRUE_WORDS | FALSE_WORDS:
        return "boolean"
    if pd.to_numeric(t, errors="coerce").notna().all():
        return "numeric"
    return "categorical"


def _numbers(s, name: str, where: str) -> np.ndarray:
    """A numeric column's cells as float64 (blanks NaN); text cells are an error naming the column."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s.dtype):
        raise ValueError(f"{where}column {name!r} was numeric at fit but holds true/false here")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    t = _text(s)
    num = pd.to_numeric(t, errors="coerce")
    bad = t.notna() & num.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        fix = ("the file writes numbers with a decimal comma: score with --decimal , (and fit the same way)"
               if DECIMAL_COMMA.match(str(t.iloc[i])) else "fix those cells, or refit with the column as --categorical")
        raise ValueError(f"{where}column {name!r} was numeric at fit but holds text here ({str(t.iloc[i])!r} at row "
                         f"{i}, {int(bad.sum())} such cells); {fix}")
    return num.to_numpy(dtype=np.float64, na_value=np.nan)


def _labels(s, kind: str) -> np.ndarray:
    """A categorical/boolean column's cells as canonical strings (object array), blanks None.
    Integer-valued numbers read as integers ("3", not "3.0"); booleans as "True"/"False"."""
    import pandas as pd

    out = np.empty(len(s), dtype=object)
    if pd.api.types.is_bool_dtype(s.dtype):
        for i, v in enumerate(s.to_numpy()):
            out[i] = None if v is None or v is pd.NA else str(bool(v))
        return out
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        for i, x in enumerate(v):
            out[i] = None if not np.isfinite(x) else (str(int(x)) if float(x).is_integer() else repr(float(x)))
        return out
    t = _text(s)
    for i, x in enumerate(t.to_numpy(dtype=object, na_value=None)):
        if x is None:
            out[i] = None
        elif kind == "boolean" and x.lower() in TRUE_WORDS | FALSE_WORDS:
            out[i] = "True" if x.lower() in TRUE_WORDS else "False"
        else:
            out[i] = x
    return out


def _as_read(level, c: dict):
    """A category level (a canonical string, None: blank) as its column was read: text, a number
    (integer codes as integers) or a boolean."""
    if level is None or c.get("source") == "text":
        return level
    if c.get("source") == "bool" or c["kind"] == "boolean" and level in ("True", "False"):
        return level == "True"
    try:
        v = float(level)
    except ValueError:
        return level
    return int(v) if v.is_integer() else v


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


class TableEncoder:
    """Fit on a table (a pandas DataFrame, or a dict of columns); encode tables with the same
    columns (matched by name, in any order, extra columns ignored) into one numeric matrix.

    ``categorical``: columns read as categories even when they hold numbers (integer codes);
    ``numeric``: columns read as numbers (their text cells are then an error); ``category_scale``:
    the value of a one-hot (and indicator) cell, in numeric standard deviations. ``blanks``:
    ``"fill"`` (default) encodes a numeric blank as 0 (the column mean) plus a ``name:missing``
    indicator; ``"nan"`` keeps it NaN, without indicator, for a detector that handles blanks
    itself (``diffusion``: imputed by the model). Categorical blanks are a level either way.

    Example
    -------
    >>> import pandas as pd
    >>> enc = TableEncoder().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    >>> enc.kinds_
    {'x': 'numeric', 'c': 'categorical'}
    >>> enc.feature_names_
    ['x', 'c=a', 'c=b', 'c=<unseen>']
    >>> e = enc.encode(pd.DataFrame({"x": [2.0], "c": ["z"]}))
    >>> e.X.tolist(), e.unseen
    ([[0.0, 0.0, 0.0, 1.0]], {'c': 1})
    >>> TableEncoder(blanks="nan").fit(pd.DataFrame({"x": [1.0, None, 3.0]})).transform(
    ...     pd.DataFrame({"x": [None, 3.0]})).tolist()
    [[nan], [1.0]]
    """

    def __init__(self, categorical=(), numeric=(), category_scale: float = 1.0, blanks: str = "fill"):
        self.categorical = categorical
        self.numeric = numeric
        self.category_scale = category_scale
        self.blanks = blanks

    # --- fit ----------------------------------------------------------------------------------
    def fit(self, df, where: str = "") -> "TableEncoder":
        import pandas as pd

        df = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
        where = f"{where}: " if where else ""
        cat, num = [str(c) for c in (self.categorical or ())], [str(c) for c in (self.numeric or ())]
        both = sorted(set(cat) & set(num))
        if both:
            raise ValueError(f"column(s) {both} are named both categorical and numeric")
        cols = [str(c) for c in df.columns]
        unknown = [c for c in cat + num if c not in cols]
        if unknown:
            raise ValueError(f"{where}column(s) {unknown} named as categorical/numeric are not in the table; "
                             f"columns are {cols[:20]}")
        if not float(self.category_scale) > 0:
            raise ValueError(f"category_scale must be > 0, got {self.category_scale}")
        if len(df) == 0 or not cols:
            raise ValueError(f"{where}the table is empty")
        if self.blanks not in ("fill", "nan"):
            raise ValueError(f"blanks must be 'fill' (0 + a name:missing indicator) or 'nan' (left to the model), "
                             f"got {self.blanks!r}")
        self.columns_ = []
        for c, name in zip(df.columns, cols):
            s = df[c]
            try:
                kind = "categorical" if name in cat else "numeric" if name in num else infer_kind(s, name)
            except ValueError as e:
                raise ValueError(f"{where}{e}") from None
            self.columns_.append(self._fit_column(s, name, kind, where))
        return self

    def _fit_column(self, s, name: str, kind: str, where: str) -> dict:
        import pandas as pd

        if kind == "numeric":
            v = _numbers(s, name, where)
            ok = np.isfinite(v)
            if np.isinf(v).any():
                raise ValueError(f"{where}column {name!r} holds infinite values")
            if not ok.any():
                raise ValueError(f"{where}column {name!r} is blank in every training row; drop it")
            # centre and scale of the column without its extreme cells (adgdm._validation.extreme_bounds):
            # one 1e200 cell must not make the others all 0; the detector clips and reports it
            lo, hi = extreme_bounds(v[ok][:, None])
            kept = v[ok][(v[ok] >= lo[0]) & (v[ok] <= hi[0])]
            mu, sd = float(kept.mean()), float(kept.std())
            return {"name": name, "kind": kind, "center": mu, "scale": sd if sd > 1e-12 else 1.0,
                    "missing_indicator": bool((~ok).any()) and self.blanks == "fill", "has_blanks": bool((~ok).any())}
        labels = _labels(s, kind)
        filled = [x for x in labels if x is not None]
        if not filled:
            raise ValueError(f"{where}column {name!r} is blank in every training row; drop it")
        cats = sorted(set(filled), key=lambda x: (not _is_number(x), float(x) if _is_number(x) else 0.0, x))
        source = "bool" if pd.api.types.is_bool_dtype(s.dtype) else \
            "number" if pd.api.types.is_numeric_dtype(s.dtype) else "text"
        return {"name": name, "kind": kind, "categories": cats, "missing_level": len(filled) < len(labels),
                "source": source}

    # --- what was fitted ----------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "columns_"):
            raise ValueError("this TableEncoder is not fitted yet; call fit(table) first")

    @property
    def kinds_(self) -> dict[str, str]:
        self._check_fitted()
        return {c["name"]: c["kind"] for c in self.columns_}

    @property
    def input_names_(self) -> list[str]:
        self._check_fitted()
        return [c["name"] for c in self.columns_]

    def groups(self) -> list[tuple[str, list[str]]]:
        """``[(source column, [its encoded column names])]``, in order."""
        self._check_fitted()
        out = []
        for c in self.columns_:
            n = c["name"]
            if c["kind"] == "numeric":
                out.append((n, [n] + ([f"{n}:missing"] if c["missing_indicator"] else [])))
            else:
                out.append((n, [f"{n}={v}" for v in c["categories"]] + ([f"{n}={MISSING}"] if c["missing_level"] else [])
                            + [f"{n}={UNSEEN}"]))
        return out

    @property
    def feature_names_(self) -> list[str]:
        return [e for _, enc in self.groups() for e in enc]

    def describe(self) -> list[str]:
        """One note per kind: the columns read that way (what ``adgdm fit`` prints)."""
        self._check_fitted()
        notes = []
        for kind in KINDS:
            cols = [c for c in self.columns_ if c["kind"] == kind]
            if not cols:
                continue
            shown = []
            for c in cols[:30]:
                if kind == "numeric":
                    shown.append(c["name"] + (" (has blanks)" if c.get("has_blanks", c["missing_indicator"]) else ""))
                else:
                    shown.append(f"{c['name']} ({len(c['categories'])} levels"
                                 + (", has blanks" if c["missing_level"] else "") + ")")
            more = f", ... ({len(cols)} in all)" if len(cols) > 30 else ""
            notes.append(f"{kind} columns ({len(cols)}): {', '.join(shown)}{more}")
        comma = [c["name"] for c in self.columns_ if c["kind"] == "categorical" and c["categories"]
                 and all(DECIMAL_COMMA.match(str(v)) for v in c["categories"])]
        if comma:
            notes.append(f"column(s) {comma[:10]} hold numbers written with a decimal comma (1,5): read as categories; "
                         "refit with --decimal , to read them as numbers")
        return notes

    # --- encode -------------------------------------------------------------------------------
    def transform(self, df, where: str = "") -> np.ndarray:
        return self.encode(df, where).X

    def encode(self, df, where: str = "") -> Encoded:
        """The encoded matrix of ``df`` (columns matched by name) and the unseen categories met."""
        import pandas as pd

        self._check_fitted()
        df = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
        where = f"{where}: " if where else ""
        have = {str(c): c for c in df.columns}
        absent = [c["name"] for c in self.columns_ if c["name"] not in have]
        if absent:
            raise ValueError(f"{where}column(s) {absent} of the fitted table are not in this one; columns are "
                             f"{list(have)[:20]}")
        scale = float(self.category_scale)
        blocks, unseen, examples = [], {}, {}
        for c in self.columns_:
            name, s = c["name"], df[have[c["name"]]]
            if c["kind"] == "numeric":
                v = _numbers(s, name, where)
                if np.isinf(v).any():
                    raise ValueError(f"{where}column {name!r} holds infinite values")
                miss = np.isnan(v)
                with np.errstate(over="ignore"):  # an extreme cell: the largest float, clipped by the detector
                    z = np.clip((v - c["center"]) / c["scale"], -_BIG, _BIG)
                if getattr(self, "blanks", "fill") == "nan":  # the model handles them
                    blocks.append(z[:, None])
                    continue
                if miss.any() and not c["missing_indicator"]:
                    i = int(np.flatnonzero(miss)[0])
                    raise ValueError(f"{where}column {name!r} has {int(miss.sum())} blank cells (first at row {i}) but "
                                     "none at fit, so the model has no way to weigh them; fill them, or refit on data "
                                     "with blanks in that column")
                z = np.where(miss, 0.0, z)
                blocks.append(z[:, None])
                if c["missing_indicator"]:
                    blocks.append((miss * scale)[:, None])
                continue
            self._check_still_categorical(c, s, where)
            labels = _labels(s, c["kind"])
            cats = c["categories"]
            index = {v: j for j, v in enumerate(cats)}
            width = len(cats) + int(c["missing_level"]) + 1
            block = np.zeros((len(labels), width))
            new = []
            for i, x in enumerate(labels):
                if x is None:
                    j = len(cats) if c["missing_level"] else width - 1
                    if not c["missing_level"]:
                        new.append(MISSING)
                else:
                    j = index.get(x, width - 1)
                    if j == width - 1:
                        new.append(x)
                block[i, j] = scale
            if new:
                unseen[name] = len(new)
                examples[name] = sorted(set(new))[:5]
            blocks.append(block)
        X = np.hstack(blocks) if blocks else np.zeros((len(df), 0))
        return Encoded(X, self.feature_names_, unseen, examples)

    def _check_still_categorical(self, c: dict, s, where: str) -> None:
        """Text categories at fit, only numbers (none of them a known category) here: the column
        changed kind, not its values."""
        import pandas as pd

        if c.get("source") != "text" or any(_is_number(v) for v in c["categories"]):
            return
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype) and s.notna().any():
            raise ValueError(f"{where}column {c['name']!r} held text categories at fit "
                             f"({', '.join(c['categories'][:3])}, ...) but holds numbers here")

    def value_labels(self, df) -> dict[str, np.ndarray]:
        """Per categorical/boolean column, each row's value as ``"name=value"`` (blank:
        ``name=<missing>``; numeric columns with blanks at fit: ``name=<missing>`` or ``name``),
        for explanations in words."""
        import pandas as pd

        self._check_fitted()
        df = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
        have = {str(c): c for c in df.columns}
        out = {}
        for c in self.columns_:
            if c["kind"] == "numeric":
                if c["missing_indicator"]:
                    miss = np.isnan(_numbers(df[have[c["name"]]], c["name"], ""))
                    out[c["name"]] = np.where(miss, f"{c['name']}={MISSING}", c["name"]).astype(object)
                continue
            labels = _labels(df[have[c["name"]]], c["kind"])
            out[c["name"]] = np.array([f"{c['name']}={MISSING if x is None else x}" for x in labels], dtype=object)
        return out

    # --- decode -------------------------------------------------------------------------------
    def decode(self, X, random_state=None):
        """Encoded rows (generated ones, e.g. by ``adgdm generate``) back to the table's columns,
        as a DataFrame: a numeric column unstandardised, blank (NaN) where its ``name:missing``
        indicator is above half a category cell; a categorical or boolean column as the level
        (or the ``<missing>`` level: a blank cell) with the highest value in its one-hot group
        (ties broken at random, seeded by ``random_state``; ``<unseen>`` is never given). Levels
        come back as they were read: text as text, integer codes as numbers, booleans as
        True/False.

        Example
        -------
        >>> import pandas as pd
        >>> enc = TableEncoder().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
        >>> enc.decode(enc.transform(pd.DataFrame({"x": [3.0], "c": ["b"]})) + 0.1).round(3).to_dict("list")
        {'x': [3.082], 'c': ['b']}
        """
        import pandas as pd

        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        width = len(self.feature_names_)
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"decode takes rows of the {width} encoded columns, got shape {X.shape}")
        rng = np.random.default_rng(random_state)
        scale, out, j = float(self.category_scale), {}, 0
        for c, (_, enc) in zip(self.columns_, self.groups()):
            block, j = X[:, j:j + len(enc)], j + len(enc)
            if c["kind"] == "numeric":
                v = block[:, 0] * c["scale"] + c["center"]
                if c["missing_indicator"]:
                    v = np.where(block[:, 1] > 0.5 * scale, np.nan, v)
                out[c["name"]] = v
                continue
            levels = list(c["categories"]) + ([None] if c["missing_level"] else [])
            cand = block[:, :len(levels)]  # <unseen> is never generated
            top = cand >= cand.max(axis=1, keepdims=True)
            pick = np.argmax(top * rng.random(cand.shape), axis=1)  # ties: one of the highest at random
            out[c["name"]] = np.asarray([_as_read(levels[k], c) for k in pick], dtype=object)
        return pd.DataFrame(out)

    def onehot_mask(self) -> np.ndarray:
        """A bool per encoded column: True for the one-hot cells of categorical and boolean columns
        (a generator gives them back as scores, unsnapped, for :meth:`decode`)."""
        return np.asarray([c["kind"] != "numeric" for c, (_, enc) in zip(self.columns_, self.groups()) for _ in enc])

    def group_indices(self) -> list[list[int]]:
        """The encoded column indices of each table column, in order."""
        out, j = [], 0
        for _, enc in self.groups():
            out.append(list(range(j, j + len(enc))))
            j += len(enc)
        return out

    # --- state --------------------------------------------------------------------------------
    def state(self) -> dict:
        """Plain JSON: the parameters and every column's kind, categories and centre/scale."""
        self._check_fitted()
        return {"format": "adgdm-table-encoder", "version": 1, "category_scale": float(self.category_scale),
                "blanks": getattr(self, "blanks", "fill"),
                "categorical": [str(c) for c in (self.categorical or ())],
                "numeric": [str(c) for c in (self.numeric or ())],
                "columns": [dict(c) for c in self.columns_]}

    @classmethod
    def from_state(cls, state: dict) -> "TableEncoder":
        if not isinstance(state, dict) or state.get("format") != "adgdm-table-encoder":
            raise ValueError("not a saved TableEncoder state (format 'adgdm-table-encoder')")
        enc = cls(tuple(state.get("categorical", ())), tuple(state.get("numeric", ())),
                  float(state.get("category_scale", 1.0)), str(state.get("blanks", "fill")))
        cols = []
        for c in state["columns"]:
            if c.get("kind") not in KINDS or "name" not in c:
                raise ValueError(f"saved TableEncoder column {c!r} is corrupted")
            need = ("center", "scale", "missing_indicator") if c["kind"] == "numeric" else ("categories", "missing_level")
            missing = [k for k in need if k not in c]
            if missing:
                raise ValueError(f"saved TableEncoder column {c['name']!r} lacks {missing}")
            cols.append(dict(c))
        enc.columns_ = cols
        return enc
