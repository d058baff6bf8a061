"""The typed result of scoring: what ``detector.predict_result(X)`` returns for every modality."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Prediction"]


@dataclass
class Prediction:
    """Scores and what goes with them, one entry per unit (row, step, image, frame, record).

    ``score`` (higher = more anomalous), ``label`` (0/1, ``score > threshold``), ``probability``
    (calibrated: 0.5 at the threshold), ``threshold``, ``unit``; where they apply:
    ``anomaly_map`` ``(N, H, W)`` per image or frame, ``parts`` per branch, mode or modality
    (z-scores that the score fuses), ``contributions`` ``(n, d)`` per feature or channel.

    Example
    -------
    >>> r = det.predict_result(X_test)          # doctest: +SKIP
    >>> r.score[:3], r.label[:3], r.unit        # doctest: +SKIP
    """

    score: np.ndarray
    label: np.ndarray
    probability: np.ndarray
    threshold: float
    unit: str
    anomaly_map: np.ndarray | None = None
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    contributions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.score)
