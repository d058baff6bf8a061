"""Tabular data: ADBench-style ``.npz`` files and the benchmark splits."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def list_npz(directory) -> dict[str, Path]:
    """``{stem: path}`` of the ``.npz`` files in ``directory``, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise ValueError(f"data directory {str(d)!r} does not exist or is not a directory")
    files = {p.stem: p for p in sorted(d.glob("*.npz"))}
    if not files:
        raise ValueError(f"no .npz files in {str(d)!r}")
    return files


def load_npz(path) -> tuple[np.ndarray, np.ndarray]:
    """Load ``X`` (n, d) and ``y`` (n,) 0/1 from an ADBench-style ``.npz``; no pickle is allowed."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.keys())
            if "X" not in keys or "y" not in keys:
                raise KeyError(keys)
            X, y = f["X"], f["y"]
    except KeyError as e:
        raise ValueError(f"{path} must hold arrays 'X' and 'y', has {e.args[0]}") from None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).ravel()
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"{path}: X has shape {X.shape} and y {y.shape}; expected (n, d) and (n,)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{path}: y must be 0 (normal) or 1 (anomaly)")
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: X contains NaN or inf")
    return X, y.astype(int)


def semi_supervised_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """ADBench's semi-supervised split: a random half of the normal rows train; the other half and
    every anomaly test. Returns index arrays; no row is in both."""
    rng = np.random.default_rng(seed)
    normal, anomalous = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    normal = rng.permutation(normal)
    half = len(normal) // 2
    return np.sort(normal[:half]), np.sort(np.concatenate([normal[half:], anomalous]))


def standardize(train: np.ndarray, *others: np.ndarray):
    """Scale every array with the mean and standard deviation of ``train`` (constant columns kept)."""
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return tuple((a - mu) / sd for a in (train, *others))


def list_tables(directory) -> dict[str, Path]:
    """``{stem: path}`` of the ``.npz`` and ``.csv`` tables in ``directory``, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise ValueError(f"data directory {str(d)!r} does not exist or is not a directory")
    files = {p.stem: p for p in sorted(list(d.glob("*.npz")) + list(d.glob("*.csv")))}
    if not files:
        raise ValueError(f"no .npz or .csv files in {str(d)!r}")
    return files


def load_table_csv(path, label: str = "label"):
    """``(features DataFrame, y)`` of a CSV table with a 0/1 ``label`` column (1 = anomaly; true/false
    accepted); the separator is sniffed. Features may mix numbers, text, true/false and blanks (the
    table encoder reads them)."""
    import pandas as pd

    df = pd.read_csv(path, sep=None, engine="python")
    if label not in df.columns:
        raise ValueError(f"{Path(path).name}: no label column {label!r}; columns: {', '.join(map(str, df.columns))} "
                         "(choose one with --label)")
    lab = df.pop(label)
    if lab.isna().any():
        raise ValueError(f"{Path(path).name}: label column {label!r} has {int(lab.isna().sum())} blank cells")
    text = lab.astype(str).str.strip().str.lower()
    mapping = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
    bad = sorted(set(text) - set(mapping))
    if bad:
        raise ValueError(f"{Path(path).name}: label column {label!r} must hold 0/1 (or true/false), found {bad[:5]}")
    y = text.map(mapping).to_numpy(dtype=np.int64)
    if df.shape[1] == 0:
        raise ValueError(f"{Path(path).name}: no feature columns besides {label!r}")
    return df, y
