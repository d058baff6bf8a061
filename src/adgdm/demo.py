"""``make demo``: scikit-learn's bundled breast-cancer table (malignant = anomaly), semi protocol."""
from __future__ import annotations

import time

DETECTORS = ("diffusion", "dte-np", "ddpm", "pyod-knn", "pyod-iforest")


def evaluate(seed: int = 0, detectors=DETECTORS, on_result=None) -> dict:
    """The demo's numbers without printing: the split's sizes and, per detector, AUROC, AUPRC and
    seconds (or ``skipped`` with the reason when its extra is missing). ``on_result(spec, row)`` is
    called as each detector finishes."""
    from sklearn.datasets import load_breast_cancer

    from .data import semi_supervised_split, standardize
    from .detectors import make_detector
    from .metrics import auprc, auroc

    X, y = load_breast_cancer(return_X_y=True)
    y = (y == 0).astype(int)  # malignant = anomaly
    tr, te = semi_supervised_split(y, seed)
    X_train, X_test = standardize(X[tr], X[te])
    out = {"dataset": "breast_cancer", "seed": seed, "n_train": int(len(tr)), "n_test": int(len(te)),
           "n_anomalies_test": int(y[te].sum()), "detectors": {}}
    for spec in detectors:
        try:
            det = make_detector(spec, random_state=seed)
        except ImportError as e:
            row = {"skipped": str(e)}
        else:
            t0 = time.perf_counter()
            scores = det.fit(X_train).decision_function(X_test)
            row = {"auroc": float(auroc(y[te], scores)), "auprc": float(auprc(y[te], scores)),
                   "seconds": round(time.perf_counter() - t0, 3)}
        out["detectors"][spec] = row
        if on_result is not None:
            on_result(spec, row)
    return out


def run(seed: int = 0, detectors=DETECTORS) -> dict:
    """Print the demo's table as each detector finishes; returns ``{detector: AUROC}``."""
    from sklearn.datasets import load_breast_cancer

    from .data import semi_supervised_split

    y = (load_breast_cancer(return_X_y=True)[1] == 0).astype(int)
    tr, te = semi_supervised_split(y, seed)
    print(f"breast cancer: train {len(tr)} benign rows; test {len(te)} rows, {int(y[te].sum())} malignant")
    print(f"{'detector':<16}{'AUROC':>8}{'AUPRC':>8}{'seconds':>9}")

    def show(spec, row):
        if "skipped" in row:
            print(f"{spec:<16} skipped: {row['skipped']}")
        else:
            print(f"{spec:<16}{100 * row['auroc']:8.2f}{100 * row['auprc']:8.2f}{row['seconds']:9.1f}")

    res = evaluate(seed, detectors, on_result=show)
    return {spec: row["auroc"] for spec, row in res["detectors"].items() if "auroc" in row}
