"""``make demo``: scikit-learn's bundled breast-cancer table (malignant = anomaly), semi protocol."""
from __future__ import annotations

import time



def run(seed: int = 0, detectors=("diffusion", "dte-np", "ddpm", "pyod-knn", "pyod-iforest")) -> dict:
    from sklearn.datasets import load_breast_cancer

    from .data import semi_supervised_split, standardize
    from .detectors import make_detector
    from .metrics import auprc, auroc

    X, y = load_breast_cancer(return_X_y=True)
    y = (y == 0).astype(int)  # malignant = anomaly
    tr, te = semi_supervised_split(y, seed)
    X_train, X_test = standardize(X[tr], X[te])
    print(f"breast cancer: train {len(tr)} benign rows; test {len(te)} rows, {int(y[te].sum())} malignant")
    print(f"{'detector':<16}{'AUROC':>8}{'AUPRC':>8}{'seconds':>9}")
    results = {}
    for spec in detectors:
        try:
            det = make_detector(spec, random_state=seed)
        except ImportError as e:
            print(f"{spec:<16} skipped: {e}")
            continue
        t0 = time.perf_counter()
        scores = det.fit(X_train).decision_function(X_test)
        secs = time.perf_counter() - t0
        results[spec] = auroc(y[te], scores)
        print(f"{spec:<16}{100 * results[spec]:8.2f}{100 * auprc(y[te], scores):8.2f}{secs:9.1f}")
    return results
