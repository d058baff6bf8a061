"""Metrics. Detection metrics defer to scikit-learn."""
from .classification import auprc, auroc
from .series import (
    NAB_PROFILES,
    NabCorpusScore,
    NabFileScore,
    best_f1,
    label_windows,
    nab_best_threshold_score,
    nab_normalized_score,
    nab_probationary_length,
    nab_score,
    point_adjusted_f1,
    skab_outlier_metrics,
    skab_outlier_metrics_pooled,
    vus,
    vus_pr,
    vus_roc,
)

__all__ = [
    "auroc",
    "auprc",
    "vus_pr",
    "vus_roc",
    "vus",
    "best_f1",
    "point_adjusted_f1",
    "label_windows",
    "NAB_PROFILES",
    "nab_probationary_length",
    "nab_score",
    "nab_normalized_score",
    "nab_best_threshold_score",
    "NabFileScore",
    "NabCorpusScore",
    "skab_outlier_metrics",
    "skab_outlier_metrics_pooled",
]
