"""Accuracy on real tables: scikit-learn's bundled breast-cancer data, and one ADBench file when the
shared data folder is present."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

import adgdm
from adgdm.bench import run_tabular
from adgdm.data import semi_supervised_split, standardize
from adgdm.metrics import auprc, auroc

DATA = Path(os.environ.get("ADGDM_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
WBC = DATA / "adbench" / "Classical" / "42_WBC.npz"


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    y_anom = (y == 0).astype(int)  # malignant = anomaly
    tr, te = semi_supervised_split(y_anom, seed=0)
    X_train, X_test = standardize(X[tr], X[te])
    return X_train, X_test, y_anom[te]


def test_default_detector_on_breast_cancer(breast_cancer):
    X_train, X_test, y_test = breast_cancer
    assert y_test.sum() == 212 and len(X_train) == 357 // 2
    det = adgdm.make_detector("diffusion", random_state=0)
    assert det.get_params() == type(det)().get_params()  # the shipped defaults, nothing tuned here
    scores = det.fit(X_train).decision_function(X_test)
    assert auroc(y_test, scores) >= 0.90
    assert auprc(y_test, scores) >= 0.85
    # flagged test rows are mostly malignant
    flagged = det.predict(X_test) == 1
    assert y_test[flagged].mean() >= 0.8


@pytest.mark.skipif(not WBC.exists(), reason=f"ADBench data not found at {WBC} (set ADGDM_DATA)")
def test_dte_np_on_adbench_wbc(tmp_path):
    out = run_tabular(WBC.parent, datasets=["42_WBC"], detectors=["dte-np"], seeds=1, setting="semi",
                      out=tmp_path / "wbc.csv", progress=False)
    df = pd.read_csv(out)
    assert len(df) == 1
    row = df.iloc[0]
    assert row.dataset == "42_WBC" and row.detector == "dte-np"
    with np.load(WBC) as f:
        n, d = f["X"].shape
    assert row.n_train + row.n_test == n and row.d == d
    assert row.auroc > 80
