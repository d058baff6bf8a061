"""Point-wise detection metrics (scikit-learn underneath), with checks that name the problem."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _check(y, scores):
    y, scores = np.asarray(y).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != scores.shape:
        raise ValueError(f"labels ({y.size}) and scores ({scores.size}) differ in length")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    if len(np.unique(y)) != 2:
        raise ValueError("labels need both classes (0 = normal, 1 = anomaly)")
    return y, scores


def auroc(y, scores) -> float:
    """Area under the ROC curve; anomalies are label 1 and should score higher."""
    return float(roc_auc_score(*_check(y, scores)))


def auprc(y, scores) -> float:
    """Average precision (area under the precision-recall curve) of the anomaly class."""
    return float(average_precision_score(*_check(y, scores)))
