"""Time-series data: NAB, SKAB, TSB-AD files and generic CSV files, as :class:`SeriesRecord`.

Every loader returns values as float64 ``(T, C)``, per-step 0/1 labels and ``train_end``: rows
``[0, train_end)`` are the training (or probationary) part of the series under the benchmark's
own protocol. pandas (the ``bench`` extra) is needed to read files.

Example
-------
>>> rec = SeriesRecord("toy", np.zeros((5, 1)), labels=np.array([0, 0, 1, 0, 0]), train_end=2)
>>> rec.n_steps, rec.n_channels, rec.train_values.shape
(5, 1, (2, 1))
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["SeriesRecord", "load_nab", "load_skab", "load_skab_anomaly_free", "load_series_csv", "load_tsb_ad",
           "nab_probation_period"]

NAB_PROBATION_PERCENT = 0.15
SKAB_TRAIN_ROWS = 400


@dataclass
class SeriesRecord:
    """One labelled series.

    ``values`` float64 ``(T, C)``; ``labels`` int ``(T,)`` 0/1 or None; ``timestamps`` ``(T,)`` or
    None; ``train_end``: rows ``[0, train_end)`` are the training part; ``channels`` one name per
    column; ``windows``: labelled anomaly windows as inclusive ``(start_idx, end_idx)`` row pairs
    (NAB only, else empty).
    """

    name: str
    values: np.ndarray
    labels: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    train_end: int = 0
    channels: list[str] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self):
        v = np.asarray(self.values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        if v.ndim != 2:
            raise ValueError(f"{self.name}: values must be (T,) or (T, C), got shape {v.shape}")
        self.values = v
        T, C = v.shape
        if self.labels is not None:
            lab = np.asarray(self.labels).ravel()
            if lab.shape != (T,):
                raise ValueError(f"{self.name}: {lab.size} labels for {T} steps")
            self.labels = lab.astype(np.int64)
        if self.timestamps is not None and len(self.timestamps) != T:
            raise ValueError(f"{self.name}: {len(self.timestamps)} timestamps for {T} steps")
        if not self.channels:
            self.channels = [f"x{i}" for i in range(C)]
        if len(self.channels) != C:
            raise ValueError(f"{self.name}: {len(self.channels)} channel names for {C} columns")
        self.train_end = int(self.train_end)
        if not 0 <= self.train_end <= T:
            raise ValueError(f"{self.name}: train_end={self.train_end} is outside [0, {T}]")

    @property
    def n_steps(self) -> int:
        return self.values.shape[0]

    @property
    def n_channels(self) -> int:
        return self.values.shape[1]

    @property
    def train_values(self) -> np.ndarray:
        """``values[:train_end]``."""
        return self.values[: self.train_end]


# --- helpers ----------------------------------------------------------------------------------------
def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("reading time-series files needs pandas: pip install 'adgdm[bench]'") from None
    return pd


def _guess_sep(path: Path) -> str:
    """The one of ``, ; tab |`` found most often in the header line (``,`` if none)."""
    with open(path, encoding="utf-8") as f:
        head = f.readline()
    counts = {c: head.count(c) for c in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_csv(path: Path, **kw):
    import csv

    pd = _pandas()
    if not path.is_file():
        raise ValueError(f"{str(path)!r} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")
    try:
        if kw.get("sep", ",") is None:
            kw = dict(kw, sep=_guess_sep(path))
        df = pd.read_csv(path, **kw)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error, ValueError) as e:
        raise ValueError(f"cannot read {path}: {type(e).__name__}: {e}") from None
    if len(df) == 0:
        raise ValueError(f"{path} has a header but no rows")
    return df


def _parse_timestamps(col, where: str, strict: bool = True) -> np.ndarray:
    """Datetime64 (or numeric, kept as is) timestamps; ValueError on unparseable values and, when
    ``strict``, on repeated or decreasing ones, naming the first offending row (0-based, header
    not counted)."""
    pd = _pandas()
    from pandas.api.types import is_numeric_dtype

    if is_numeric_dtype(col.dtype):
        ts = col.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(ts))
    else:
        parsed = pd.to_datetime(col, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        ts = parsed.to_numpy()
    if bad.size:
        raise ValueError(f"{where}: timestamp {col.iloc[bad[0]]!r} in row {bad[0]} cannot be parsed")
    if strict and len(ts) > 1:
        step = ts[1:] > ts[:-1]
        if not step.all():
            i = int(np.flatnonzero(~step)[0]) + 1
            kind = "duplicates" if ts[i] == ts[i - 1] else "is earlier than"
            raise ValueError(f"{where}: timestamps must strictly increase, but row {i} ({col.iloc[i]}) {kind} "
                             f"row {i - 1} ({col.iloc[i - 1]}); sort the file or drop repeated rows")
    return ts


def _labels(col, where: str) -> np.ndarray:
    try:
        lab = col.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: label column is not numeric 0/1 (e.g. {col.iloc[0]!r})") from None
    nan = np.flatnonzero(np.isnan(lab))
    if nan.size:
        raise ValueError(f"{where}: label column has {nan.size} missing values; first in row {nan[0]}")
    bad = np.flatnonzero(~np.isin(lab, (0.0, 1.0)))
    if bad.size:
        raise ValueError(f"{where}: labels must be 0 (normal) or 1 (anomaly); row {bad[0]} has {lab[bad[0]]}")
    return lab.astype(np.int64)


def _select(names: list[str], datasets, what: str) -> list[str]:
    """Names kept by ``datasets``: an entry keeps a name equal to it or whose stem (the part after
    the last ``/``) contains it."""
    if datasets is None:
        return names
    wanted = [datasets] if isinstance(datasets, str) else list(datasets)
    keep, unmatched = set(), []
    for w in wanted:
        hit = [n for n in names if n == w or str(w) in n.rsplit("/", 1)[-1]]
        if not hit:
            unmatched.append(w)
        keep.update(hit)
    if unmatched:
        raise ValueError(f"no {what} series matches {unmatched}; available: {names}")
    return [n for n in names if n in keep]


def _data_root(root, what: str) -> Path:
    d = Path(root) / "data"
    if not d.is_dir():
        raise ValueError(f"{what} root {str(root)!r} has no 'data' folder")
    return d


# --- NAB ----------------------------------------------------------------------------------------------
def nab_probation_period(n_steps: int, probation_percent: float = NAB_PROBATION_PERCENT) -> int:
    """NAB's probationary period (``getProbationPeriod`` in NAB's ``nab/util.py``):
    ``min(floor(0.15 * T), 0.15 * 5000)``, i.e. 15 % of the file and at most 750 rows.

    >>> nab_probation_period(4032), nab_probation_period(10320)
    (604, 750)
    """
    return int(min(math.floor(probation_percent * n_steps), probation_percent * 5000))


def load_nab(root, datasets=None) -> list[SeriesRecord]:
    """Load the Numenta Anomaly Benchmark from ``root`` (``data/<category>/*.csv`` with columns
    ``timestamp,value`` and ``labels/combined_windows.json``).

    Names are ``"category/file"`` (no ``.csv``), sorted. ``datasets`` (a name or a list) keeps the
    series whose name equals an entry or whose file stem contains it (``"nyc_taxi"``,
    ``"realKnownCause/nyc_taxi"``, ``"cpu"``); an entry matching nothing raises ValueError.
    Labels are 1 on every row inside a label window (both ends included, NAB's rule) and
    ``windows`` holds them as row ranges; ``train_end`` is NAB's probationary period
    (:func:`nab_probation_period`). Rows stay in file order, as NAB reads them (a few NAB files
    repeat a timestamp, e.g. at a daylight-saving change). Files on disk without an entry in the json raise ValueError;
    json entries without a file are ignored.

    Example
    -------
    >>> recs = load_nab("/path/to/nab", datasets="nyc_taxi")  # doctest: +SKIP
    >>> recs[0].name, recs[0].values.shape, recs[0].train_end  # doctest: +SKIP
    ('realKnownCause/nyc_taxi', (10320, 1), 750)
    """
    pd = _pandas()
    data = _data_root(root, "NAB")
    wfile = Path(root) / "labels" / "combined_windows.json"
    try:
        windows_json = json.loads(wfile.read_text())
    except OSError as e:
        raise ValueError(f"cannot read NAB label windows {wfile}: {e}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{wfile} is not valid JSON: {e}") from None
    if not isinstance(windows_json, dict):
        raise ValueError(f"{wfile} must map 'category/file.csv' to a list of windows")
    files = {f"{p.parent.name}/{p.stem}": p for p in sorted(data.glob("*/*.csv"))}
    if not files:
        raise ValueError(f"no NAB csv files under {data}/<category>/")
    records = []
    for name in _select(sorted(files), datasets, "NAB"):
        path = files[name]
        key = f"{name}.csv"
        if key not in windows_json:
            raise ValueError(f"NAB file {key} has no entry in {wfile}")
        df = _read_csv(path)
        if not {"timestamp", "value"} <= set(df.columns):
            raise ValueError(f"{path} must have columns 'timestamp' and 'value', has {list(df.columns)}")
        ts = _parse_timestamps(df["timestamp"], str(path), strict=False)
        if not np.issubdtype(ts.dtype, np.datetime64):
            raise ValueError(f"{path}: the 'timestamp' column holds numbers, not dates")
        labels = np.zeros(len(df), dtype=np.int64)
        wins = []
        for w in windows_json[key]:
            try:
                start, end = pd.to_datetime(w[0]).to_datetime64(), pd.to_datetime(w[1]).to_datetime64()
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"{wfile}: window {w!r} of {key} is not a [start, end] pair of timestamps") from None
            idx = np.flatnonzero((ts >= start) & (ts <= end))
            if idx.size:
                labels[idx] = 1
                wins.append((int(idx[0]), int(idx[-1])))
        try:
            values = df["value"].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: the 'value' column is not numeric") from None
        records.append(SeriesRecord(name, values[:, None], labels, ts, nab_probation_period(len(df)),
                                    ["value"], wins))
    return records


# --- SKAB ---------------------------------------------------------------------------------------------
def _read_skab(path: Path, name: str, need_labels: bool) -> SeriesRecord:
    df = _read_csv(path, sep=";")
    if "datetime" not in df.columns:
        raise ValueError(f"{path} has no 'datetime' column; SKAB files are ';'-separated with columns "
                         f"datetime, 8 sensors, anomaly, changepoint (found {list(df.columns)[:5]})")
    if need_labels and "anomaly" not in df.columns:
        raise ValueError(f"{path} has no 'anomaly' column")
    sensors = [c for c in df.columns if c not in ("datetime", "anomaly", "changepoint")]
    try:
        values = df[sensors].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: sensor columns {sensors} are not all numeric") from None
    labels = _labels(df["anomaly"], str(path)) if "anomaly" in df.columns else np.zeros(len(df), np.int64)
    ts = _pandas().to_datetime(df["datetime"], errors="coerce").to_numpy()
    return SeriesRecord(name, values, labels, ts, 0, [str(c) for c in sensors])


def _skab_key(name: str):
    folder, stem = name.split("/")
    return (folder, int(stem) if stem.isdigit() else 10**9, stem)


def load_skab(root, datasets=None) -> list[SeriesRecord]:
    """Load the Skoltech Anomaly Benchmark experiments under ``root/data`` (every folder except
    ``anomaly-free``: ``valve1``, ``other`` and, where present, ``valve2``).

    One record per file, named ``"folder/stem"`` (``"valve1/0"``, ``"other/13"``), sorted by
    folder then file number; channels are the 8 sensors, labels the ``anomaly`` column, rows in
    file order, and ``train_end = 400`` (SKAB's protocol: the first 400 rows of each experiment
    are anomaly-free training data; a shorter file is all training). ``datasets`` filters
    names as in :func:`load_nab`.

    Example
    -------
    >>> recs = load_skab("/path/to/skab", datasets="valve1/0")  # doctest: +SKIP
    >>> recs[0].values.shape[1], recs[0].train_end  # doctest: +SKIP
    (8, 400)
    """
    data = _data_root(root, "SKAB")
    files = {f"{p.parent.name}/{p.stem}": p for p in data.glob("*/*.csv") if p.parent.name != "anomaly-free"}
    if not files:
        raise ValueError(f"no SKAB experiment csv files under {data}/<folder>/ (besides anomaly-free)")
    records = []
    for name in _select(sorted(files, key=_skab_key), datasets, "SKAB"):
        rec = _read_skab(files[name], name, need_labels=True)
        rec.train_end = min(SKAB_TRAIN_ROWS, rec.n_steps)
        records.append(rec)
    return records


def load_skab_anomaly_free(root) -> SeriesRecord:
    """SKAB's ``anomaly-free/anomaly-free.csv``: normal operation only; labels are all 0 and
    ``train_end`` is the whole series."""
    rec = _read_skab(_data_root(root, "SKAB") / "anomaly-free" / "anomaly-free.csv", "anomaly-free/anomaly-free",
                     need_labels=False)
    rec.train_end = rec.n_steps
    return rec


# --- generic CSV, TSB-AD --------------------------------------------------------------------------------
def load_series_csv(path, timestamp=None, label=None, columns=None, sep=None, train_end: int = 0,
                    name: str | None = None) -> SeriesRecord:
    """Read one series from a CSV file.

    ``timestamp``: name of a column of times (parsed by pandas; numeric columns are kept as
    numbers); they must strictly increase, else ValueError naming the first offending row. None
    means no timestamp column. ``label``: name of a 0/1 column (missing values raise). ``columns``:
    value columns; by default every numeric column other than the timestamp and label columns
    (non-numeric ones are skipped). ``sep``: the separator; None takes whichever of ``, ; tab |``
    is most frequent in the header line.
    ``train_end``: rows ``[0, train_end)`` are the training part. ``name`` defaults to the file stem.

    Example
    -------
    >>> rec = load_series_csv("machine.csv", timestamp="time", label="is_anomaly")  # doctest: +SKIP
    """
    _pandas()
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    path = Path(path)
    df = _read_csv(path, sep=sep)
    for what, col in (("timestamp", timestamp), ("label", label)):
        if col is not None and col not in df.columns:
            raise ValueError(f"{path}: {what} column {col!r} not found; columns are {list(df.columns)}")
    if columns is None:
        columns = [c for c in df.columns if c not in (timestamp, label)
                   and (is_numeric_dtype(df[c].dtype) or is_bool_dtype(df[c].dtype))]
        if not columns:
            raise ValueError(f"{path}: no numeric value column (columns: {list(df.columns)}); pass columns=[...]"
                             + (" or the right sep" if len(df.columns) == 1 else ""))
    else:
        columns = [columns] if isinstance(columns, str) else list(columns)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{path}: value columns {missing} not found; columns are {list(df.columns)}")
        bad = [c for c in columns if not (is_numeric_dtype(df[c].dtype) or is_bool_dtype(df[c].dtype))]
        if bad:
            raise ValueError(f"{path}: value columns {bad} are not numeric")
        if not columns:
            raise ValueError(f"{path}: columns=[] selects no value column")
    values = df[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    ts = _parse_timestamps(df[timestamp], str(path)) if timestamp is not None else None
    labels = _labels(df[label], str(path)) if label is not None else None
    return SeriesRecord(name or path.stem, values, labels, ts, train_end, [str(c) for c in columns])


_TSB_NAME = re.compile(r"_tr_(\d+)_1st_(\d+)$")


def load_tsb_ad(path) -> SeriesRecord:
    """Read one TSB-AD benchmark file (``Data...,Label`` columns; the name ends in
    ``_tr_<train end>_1st_<first anomaly>``, which gives ``train_end``), e.g.
    ``001_NAB_id_1_Facility_tr_1007_1st_2014.csv``. Like TSB-AD, rows with a missing value are
    dropped; every column but ``Label`` is a channel.
    """
    path = Path(path)
    m = _TSB_NAME.search(path.stem)
    if m is None:
        raise ValueError(f"{path.name} is not a TSB-AD file name (expected '..._tr_<n>_1st_<n>.csv')")
    df = _read_csv(path).dropna()
    if "Label" not in df.columns:
        raise ValueError(f"{path}: no 'Label' column; columns are {list(df.columns)}")
    cols = [c for c in df.columns if c != "Label"]
    try:
        values = df[cols].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: value columns {cols[:10]} are not all numeric") from None
    return SeriesRecord(path.stem, values, _labels(df["Label"], str(path)), None,
                        min(int(m.group(1)), len(df)), [str(c) for c in cols])
