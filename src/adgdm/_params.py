"""Small helpers for estimator parameters (scikit-learn's rules)."""
from __future__ import annotations


def store_params(est, params: dict) -> None:
    """``__init__`` helper: store every constructor argument unchanged (scikit-learn's rule)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)
