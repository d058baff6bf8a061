"""What every image detector shares beyond the base contract: a score and an anomaly map per
image, from one pass over the images (the maps cost most of the time)."""
from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError

from ..base import BaseDetector


class ImageBase(BaseDetector):
    """Base of the image detectors. Subclasses implement ``_checked(X) -> (images, input size)``,
    ``_maps(images)`` (maps at the working size), ``_scores_from(images, maps)`` and
    ``_to_input(maps, input size)``; ``fit`` ends with ``_finish_fit(calibration scores)``."""

    modality = "image"

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(images) first")

    def anomaly_map(self, X) -> np.ndarray:
        """``(N, H, W)`` per-pixel anomaly maps at the input's resolution (higher = more anomalous)."""
        self._check_fitted()
        imgs, raw = self._checked(X)
        return self._to_input(self._maps(imgs), raw)

    def decision_function(self, X) -> np.ndarray:
        """One anomaly score per image, higher = more anomalous."""
        self._check_fitted()
        imgs, _ = self._checked(X)
        return np.asarray(self._scores_from(imgs, self._maps(imgs)), dtype=np.float64)

    def score_maps(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), anomaly_map(X))`` in one pass."""
        self._check_fitted()
        imgs, raw = self._checked(X)
        maps = self._maps(imgs)
        return np.asarray(self._scores_from(imgs, maps), dtype=np.float64), self._to_input(maps, raw)

    def _score_with_extras(self, X):
        self._check_fitted()
        imgs, raw = self._checked(X)
        maps = self._maps(imgs)
        parts = self._parts(imgs, maps)
        return np.asarray(self._scores_from(imgs, maps), dtype=np.float64), {"anomaly_map": self._to_input(maps, raw),
                                                                              "parts": parts}

    def _parts(self, imgs: np.ndarray, maps: np.ndarray) -> dict:
        """Per-branch z-scores whose fusion is the image score (none for one-branch detectors)."""
        return {}

    def explain(self, X, baseline=None, method: str = "auto", max_rows: int = 65536) -> np.ndarray:
        """An image score is explained by where it comes from: the anomaly maps ``(N, H, W)``.
        ``baseline`` and occlusion do not apply to images."""
        if method == "occlusion" or baseline is not None:
            raise ValueError(f"{type(self).__name__} explains images by their anomaly maps; occlusion and "
                             "baseline= apply to tables and series")
        return self.anomaly_map(X)

    def _scores_from(self, imgs: np.ndarray, maps: np.ndarray) -> np.ndarray:
        return self._image_scores(maps)
