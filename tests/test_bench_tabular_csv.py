"""`adgdm bench tabular` on CSV tables with a label column (issue 19): mixed types and blanks go
through the table encoder; a bad label column is named."""
from __future__ import annotations

import csv

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from adgdm.bench.tabular import run_tabular  # noqa: E402
from adgdm.data import load_table_csv  # noqa: E402


def _table(path, n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[-30:] = 1
    amount = rng.normal(100, 10, n)
    amount[-30:] += 80                                   # anomalies: large amounts ...
    kind = rng.choice(["card", "cash", "transfer"], n)
    kind[-30:] = "crypto"                                # ... of a kind normal rows never have
    flag = rng.choice(["true", "false"], n)
    amount_txt = [f"{a:.2f}" for a in amount]
    for i in rng.choice(n - 30, 20, replace=False):      # blank cells
        amount_txt[i] = ""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["amount", "kind", "flag", "label"])
        w.writerows(zip(amount_txt, kind, flag, y))


def test_csv_tables_with_mixed_types_and_blanks_are_benchmarked(tmp_path):
    _table(tmp_path / "shop.csv")
    np.savez(tmp_path / "num.npz", X=np.random.default_rng(0).normal(size=(200, 3)),
             y=np.r_[np.zeros(190), np.ones(10)].astype(int))
    out = run_tabular(tmp_path, detectors=["diffusion", "pyod-knn"], seeds=1, out=tmp_path / "r.csv", progress=False)
    rows = {(r["dataset"], r["detector"]): r for r in csv.DictReader(open(out))}
    assert set(rows) == {(d, s) for d in ("shop", "num") for s in ("diffusion", "pyod-knn")}
    assert float(rows["shop", "diffusion"]["auroc"]) > 95.0
    assert int(rows["shop", "diffusion"]["d"]) > 3         # one-hot columns and the blank indicator


def test_bad_label_columns_are_named(tmp_path):
    _table(tmp_path / "t.csv")
    with pytest.raises(ValueError, match="no label column 'y'"):
        load_table_csv(tmp_path / "t.csv", label="y")
    (tmp_path / "u.csv").write_text("a,label\n1,normal\n2,attack\n")
    with pytest.raises(ValueError, match="must hold 0/1"):
        load_table_csv(tmp_path / "u.csv")
