"""Which columns of a user's table are features: numeric columns, minus the ones that would make a
score confidently wrong (an index, a label under another name, a constant), each drop said in
words. Columns named in ``--columns`` are always kept, and must be numeric to the last cell."""
from __future__ import annotations

import re

import numpy as np

# names that usually hold a label or an annotation, not a measurement
LABEL_LIKE = re.compile(r"^(y|labels?|targets?|class|anomaly|anomalies|anomalous|outliers?|changepoints?|"
                        r"fraud|fraudulent|attacks?|attack_(cat|type|class)|malicious|intrusion|ground[_ ]?truth|"
                        r"is_.+|.+_labels?|labels?_.+|anomal(y|ies|ous)_.+|.+_anomal(y|ies|ous)|outliers?_.+|.+_outliers?)$",
                        re.IGNORECASE)
INDEX_LIKE = re.compile(r"^(unnamed: ?\d+|index|idx|id|row|row_id|rowid)$", re.IGNORECASE)
# names of identifiers: record_id, customer-no, uuid, id_customer; customerId (camel case, case-sensitive)
ID_NAME = re.compile(r"^((.+[_ .-])?(id|ids|uuid|guid|key|identifier|no|nr)|id[_ .-].+)$", re.IGNORECASE)
ID_CAMEL = re.compile(r"^[a-z].*[a-z](Id|ID|Uuid|UUID|Key)$")
MIN_ID_ROWS = 20  # fewer rows than this: distinct values say little (a genuine feature can be distinct by chance)
MOSTLY_TEXT = 0.5  # a column whose cells are numbers less often than this is a text column


def numeric_column(values, name: str, where: str):
    """``values`` as float64 (empty cells NaN); a cell that is not a number raises an error naming
    the column, the row and the value. Returns None for a text column (most cells not numbers)."""
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    text = s.astype("string").str.strip()
    num = pd.to_numeric(text, errors="coerce")
    filled = text.notna() & (text != "")
    bad = filled & num.isna()
    if not bad.any():
        return num.to_numpy(dtype=np.float64, na_value=np.nan)
    if filled.sum() and (filled & ~bad).sum() / filled.sum() < MOSTLY_TEXT:
        return None
    from ..data.encoder import DECIMAL_COMMA

    i = int(np.flatnonzero(bad.to_numpy())[0])
    fix = ("the file writes numbers with a decimal comma: read it with --decimal ," if DECIMAL_COMMA.match(str(text.iloc[i]))
           else "fix or blank them, or leave the column out with --columns")
    raise ValueError(f"{where}: column {name!r} is numeric but row {i} holds {str(text.iloc[i])!r} "
                     f"({int(bad.sum())} such cells); {fix}")


def _comma_hint(values) -> str:
    """A hint when text cells are numbers written with a decimal comma."""
    from ..data.encoder import DECIMAL_COMMA

    text = values.dropna().astype(str)
    return "; they are numbers with a decimal comma: read them with --decimal ," \
        if len(text) and text.str.match(DECIMAL_COMMA).mean() > 0.9 else ""


def select_features(df, where: str, columns=None, exclude=(), modality: str = "tabular"):
    """``(names, X, dropped)``: the feature columns of ``df`` as a float array, and ``{column:
    reason}`` for each column left out. With ``columns`` given, exactly those (numeric) columns."""
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{where}: columns {missing} not found; columns are {list(df.columns)[:20]}")
        X = []
        for c in columns:
            v = numeric_column(df[c], c, where)
            if v is None:
                raise ValueError(f"{where}: column {c!r} (in --columns) holds text, not numbers" + _comma_hint(df[c]))
            X.append(v)
        return list(columns), np.column_stack(X), {}
    names, X, dropped = [], [], {}
    for c in df.columns:
        if c in exclude:
            continue
        v = numeric_column(df[c], c, where)
        reason = drop_reason(c, v, modality, raw=df[c])
        if reason:
            dropped[c] = reason
        else:
            names.append(c)
            X.append(v)
    if not names:
        raise ValueError(f"{where}: no usable numeric columns ({_said(dropped)}); name them with --columns")
    return names, np.column_stack(X), dropped


def drop_reason(name: str, v, modality: str, raw=None) -> str | None:
    """Why the column ``name`` (``v``: its numbers, None for text; ``raw``: its cells, to name a text
    identifier) is not a feature, or None when it is one."""
    if v is None:
        return (raw is not None and identifier_reason(name, raw)) or "text"
    if LABEL_LIKE.match(name):
        return "named like a label (give it as --label, or keep it with --columns)"
    if INDEX_LIKE.match(name):
        return "an index column"
    finite = v[np.isfinite(v)]
    if len(finite) > 2 and np.all(finite == np.round(finite)) and len(finite) == len(v):
        if np.all(np.diff(finite) > 0):
            return "an index column (integers that only go up)"
    reason = identifier_reason(name, v)
    if reason:
        return reason
    if len(finite) and np.nanmin(finite) == np.nanmax(finite):
        return "constant"
    return None


def identifier_reason(name: str, values) -> str | None:
    """Why ``values`` (one column, numbers or text) look like an identifier, found by content in any
    order: a different value in every row (no blanks, at least ``MIN_ID_ROWS`` rows), and either
    integers that fill their range (a shuffled 1..n) or are named like an id (``record_id``,
    ``customerId``), or text of one pattern with digits (``A-0012``, a UUID) or named like an id.
    Continuous numbers (not all whole) are never identifiers. None: not an identifier.

    Example
    -------
    >>> identifier_reason("record_id", np.random.default_rng(0).permutation(100) + 1000)
    'an identifier (a different whole number in every row, 1000..1099; keep it with --columns)'
    >>> identifier_reason("amount", np.random.default_rng(0).normal(size=100)) is None
    True
    """
    import pandas as pd

    s = pd.Series(values)
    named = bool(ID_NAME.match(str(name)) or ID_CAMEL.match(str(name)))
    if len(s) < MIN_ID_ROWS or s.isna().any() or pd.api.types.is_bool_dtype(s.dtype):
        return None
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64)
        if not np.isfinite(v).all() or not np.all(v == np.round(v)) or len(np.unique(v)) < len(v):
            return None
        lo, hi = int(v.min()), int(v.max())
        if hi - lo + 1 <= 2 * len(v) or named:
            return f"an identifier (a different whole number in every row, {lo}..{hi}; keep it with --columns)"
        return None
    text = s.astype(str).str.strip()
    if (text == "").any() or text.nunique() < len(text):
        return None
    shapes = text.str.replace(r"[0-9]+", "0", regex=True).str.replace(r"[A-Za-z]+", "a", regex=True)
    uuid = text.str.fullmatch(r"[0-9A-Fa-f]{8}(-?[0-9A-Fa-f]{4}){3}-?[0-9A-Fa-f]{12}").all()
    if named or uuid or (shapes.nunique() == 1 and "0" in shapes.iloc[0]):
        return f"an identifier (text with a different value in every row, e.g. {text.iloc[0]!r}; keep it with --columns)"
    return None


def _said(dropped: dict) -> str:
    return "; ".join(f"{c}: {r}" for c, r in dropped.items()) or "none found"


def describe(names, dropped: dict) -> list[str]:
    """The notes ``fit`` prints: the columns used, and each column left out with its reason."""
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    notes = [f"features ({len(names)}): {shown}"]
    for c, r in dropped.items():
        notes.append(f"left out column {c!r}: {r}")
    return notes


# --- mixed tables (text, true/false and blank cells): the columns the table encoder reads ---------
ID_LIKE_TEXT = 0.9  # a text column with a different value in more than this share of its rows is an id


def needs_encoder(frame) -> bool:
    """True when the feature columns ``frame`` are not all complete numbers: a text column or a
    blank cell (then they go through :class:`adgdm.data.encoder.TableEncoder`, not
    :func:`select_features`). A mostly-numeric column with stray text stays an error."""
    import pandas as pd

    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            continue  # true/false with no blanks: read as 0/1 numbers, as before
        if not pd.api.types.is_numeric_dtype(s.dtype):
            v = numeric_column(s, str(c), "")  # a mostly-numeric column with stray text stays an error
            if v is None or np.isnan(v).all():
                return True
            s = pd.Series(v)
        if s.isna().any():
            return True
    return False


def select_mixed(df, where: str, columns=None, exclude=(), named=()):
    """``(names, frame, dropped)`` for the table encoder: the feature columns of any kind, less
    label-like, index-like, constant, date and id-like text columns (each drop said in words);
    with ``columns`` given, exactly those. Columns in ``named`` (``--categorical``/``--numeric``)
    are always kept."""
    import pandas as pd

    from ..data.encoder import DECIMAL_COMMA, looks_like_dates

    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{where}: columns {missing} not found; columns are {list(df.columns)[:20]}")
        return list(columns), df[list(columns)], {}
    names, dropped = [], {}
    for c in df.columns:
        if c in exclude:
            continue
        s = df[c]
        reason = None
        if c in named:
            pass
        elif LABEL_LIKE.match(c):
            reason = "named like a label (give it as --label, or keep it with --columns)"
        elif INDEX_LIKE.match(c):
            reason = "an index column"
        elif looks_like_dates(s):
            reason = "dates (give it as --time to keep it as the row id; the model does not read dates)"
        elif _sorted_integers(s):
            reason = "an index column (integers that only go up)"
        elif reason := identifier_reason(str(c), _as_numbers(s, c, where)):
            pass
        else:
            filled = s.dropna()
            if not pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
                text = s.astype("string").str.strip()
                filled = text[text.notna() & (text != "")]
                if numeric_column(s, c, where) is None and len(filled) > 50 \
                        and filled.nunique() > ID_LIKE_TEXT * len(filled):
                    reason = ("numbers written with a decimal comma (1,5): read them with --decimal ,"
                              if filled.str.match(DECIMAL_COMMA).mean() > 0.9 else
                              "text with a different value in almost every row (an id or free text)")
            if reason is None and len(filled) and filled.nunique() == 1 and not s.isna().any():
                reason = "constant"
        if reason:
            dropped[c] = reason
        else:
            names.append(c)
    if not names:
        raise ValueError(f"{where}: no usable columns ({_said(dropped)}); name them with --columns")
    return names, df[names], dropped


def _sorted_integers(s) -> bool:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return False
    v = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return len(v) > 2 and np.isfinite(v).all() and np.all(v == np.round(v)) and np.all(np.diff(v) > 0)


def _as_numbers(s, name, where):
    """A column's cells as numbers when they all are (ids read as text: "0012"), else as they are."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return s
    try:
        v = numeric_column(s, str(name), where)
    except ValueError:
        return s
    return s if v is None or np.isnan(v).any() else pd.Series(v)
