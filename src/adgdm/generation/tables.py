"""Generation in a table's own columns.

A model fitted on a table with text, true/false or blank cells reads the table through a
:class:`adgdm.data.encoder.TableEncoder` (numbers standardised, categories one-hot, a blank numeric
cell a NaN or a ``name:missing`` indicator). :func:`generate_table` samples or makes anomalies in
that encoded space and decodes the rows back to the table's columns: categories as categories
(only levels seen at fit), numbers in their units, blanks where the model puts them. Rows to
start from are encoded as scoring encodes them; their blank numeric cells are completed by the
model when it fills blanks itself at scoring (``impute``), and are otherwise an error naming the
first one, as at scoring.
"""
from __future__ import annotations

import numpy as np

from .anomalies import MODEL_KINDS, TABULAR_KINDS, generate_anomalies
from .sampling import sample

__all__ = ["generate_table", "start_rows", "NETWORK_KINDS"]

NETWORK_KINDS = ("normal",) + MODEL_KINDS  # kinds that run the model's trained network


def start_rows(model, rows, encoder=None, names=None, where: str = "the data") -> np.ndarray:
    """Normal rows as the model reads them (``rows``: the table's columns, a DataFrame, when
    ``encoder``; else numbers): encoded like scoring, blank numeric cells completed by
    ``model.impute`` when the model takes blanks (its scoring rule), else refused by name."""
    X = encoder.transform(rows, where) if encoder is not None else np.asarray(rows, dtype=np.float64)
    if np.isinf(X).any():
        r, c = np.argwhere(np.isinf(X))[0]
        raise ValueError(f"{where}: {int(np.isinf(X).sum())} infinite values (first at row {int(r)}, column "
                         f"{_name(names, encoder, c)!r})")
    blank = np.isnan(X)
    if not blank.any():
        return X
    if getattr(model, "_takes_nan", lambda: False)() and hasattr(model, "impute"):
        return np.asarray(model.impute(_framed(model, X)), dtype=np.float64)
    r, c = np.argwhere(blank)[0]
    raise ValueError(f"{where}: {int(blank.sum())} blank cells (first at row {int(r)}, column "
                     f"{_name(names, encoder, c)!r}) and this model does not fill blanks; fill them first, or give "
                     "rows without them")


def _name(names, encoder, j: int) -> str:
    cols = encoder.feature_names_ if encoder is not None else names
    return str(cols[j]) if cols is not None and j < len(cols) else f"x{j}"


def _framed(model, X: np.ndarray):
    """``X`` under the model's feature names, when it recorded them (no name warning)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None or len(names) != X.shape[1]:
        return X
    import pandas as pd

    return pd.DataFrame(X, columns=[str(c) for c in names])


def generate_table(model, kind: str, n: int, rows=None, encoder=None, severity: float = 1.0, random_state=None,
                   names=None, where: str = "the data"):
    """``n`` rows of ``kind`` as a DataFrame in the table's columns.

    ``kind``: ``normal`` (samples of ``model``, which needs a trained network) or a kind of
    :func:`adgdm.generation.generate_anomalies` (``local`` and ``masked`` need the network too;
    ``global``, ``dependency``, ``clustered`` only the normal ``rows``). ``encoder``: the fitted
    TableEncoder of a mixed table (``rows`` are then a DataFrame of its columns, and the result is
    decoded: one-hot groups read by their highest cell, unsnapped); None: numeric rows, columns
    ``names``.

    Example
    -------
    >>> import pandas as pd
    >>> from adgdm.data.encoder import TableEncoder
    >>> df = pd.DataFrame({"x": np.arange(40.0), "c": ["a", "b"] * 20})
    >>> enc = TableEncoder().fit(df)
    >>> out = generate_table(None, "dependency", 5, df, enc, random_state=0)
    >>> list(out.columns), set(out["c"]) <= {"a", "b"}
    (['x', 'c'], True)
    """
    import pandas as pd

    if kind not in NETWORK_KINDS + TABULAR_KINDS:
        raise ValueError(f"unknown kind {kind!r}; tables take normal, {', '.join(TABULAR_KINDS)}")
    raw = encoder.onehot_mask() if encoder is not None else None
    groups = encoder.group_indices() if encoder is not None else None
    if kind == "normal":
        Z = sample(model, n, random_state=random_state, raw_columns=raw)
    else:
        if rows is None:
            raise ValueError(f"kind {kind!r} starts from normal rows: give them")
        X = start_rows(model, rows, encoder, names, where)
        Z = generate_anomalies(model if kind in MODEL_KINDS else None, _framed(model, X), n, kind=kind,
                               severity=severity, random_state=random_state, groups=groups, raw_columns=raw)
    Z = np.asarray(Z, dtype=np.float64)
    if encoder is not None:
        return encoder.decode(Z, random_state)
    return pd.DataFrame(Z, columns=list(names) if names is not None else [f"x{j}" for j in range(Z.shape[1])])
