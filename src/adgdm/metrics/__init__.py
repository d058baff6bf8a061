"""Metrics. Detection metrics defer to scikit-learn."""
from .classification import auprc, auroc

__all__ = ["auroc", "auprc"]
