"""``video-ideal``: the ideal denoiser of the training frames' location vectors (non-parametric)."""
from __future__ import annotations

import numpy as np
import torch

from ..._params import store_params
from ...scores import EmpiricalDenoiser
from .features import FeatureVideoBase

__all__ = ["VideoIdeal"]


class VideoIdeal(FeatureVideoBase):
    """``video-ideal``: each location of frame ``t`` is the vector (appearance of frame ``t``,
    motion over the last ``history`` frames; :mod:`.features`). The reference is
    ``max_locations`` training location vectors drawn at random; an ``EmpiricalDenoiser`` reads a
    test vector as a noisy sample at ``noise_levels`` and the location's raw score is its squared
    posterior-mean residual over the ``n_neighbors`` nearest reference vectors, per stream
    (appearance, motion; z-scored per location with ``location_norm``) and summed. No training.
    ``location_norm=False`` and ``smooth_frames=5`` were chosen without test labels
    (``benchmarks/results/video_select.md``: 0.851 mean AUROC against 0.821 with the norm).

    Example
    -------
    >>> det = VideoIdeal(size=32).fit(train_clips)             # doctest: +SKIP
    >>> det.decision_function(test_clip).shape                 # doctest: +SKIP
    """

    name = "video-ideal"

    def __init__(self, size: int | None = 120, history: int = 2, n_components: int = 32, motion_weight: float = 1.0,
                 max_locations: int = 20_000, noise_levels=(0.05, 0.1, 0.2), n_neighbors: int = 10,
                 location_norm: bool = False, top_k: float = 0.01, smooth_frames: int = 5, smooth_sigma: float = 2.0,
                 calibration_fraction: float = 0.2, contamination: float = 0.1, verbose: bool = False,
                 random_state=None):
        store_params(self, locals())

    def _check_own_params(self):
        self._check_feature_params()
        if int(self.max_locations) < 2 or int(self.n_neighbors) < 1:
            raise ValueError("max_locations must be >= 2 and n_neighbors >= 1")

    def _fit_rows(self, x, cond, rng):
        rows = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
        if len(rows) > int(self.max_locations):
            rows = rows[torch.from_numpy(np.sort(rng.choice(len(rows), int(self.max_locations), replace=False)))]
        n = len(rows)
        levels = tuple(float(v) for v in np.atleast_1d(self.noise_levels))
        self.den_ = EmpiricalDenoiser(noise_levels=levels, n_neighbors=min(int(self.n_neighbors), n - 1),
                                      coarse_neighbors=min(50, n - 1), knn_backend="torch").fit(rows.double().numpy())

    def _raw_locations(self, x, cond):
        n, D, g1, g2 = x.shape
        q = x.permute(0, 2, 3, 1).reshape(-1, D).double().numpy()
        err = torch.from_numpy(self.den_.residual(q)).reshape(n, g1, g2, D).permute(0, 3, 1, 2)
        return self._split(err)

    def _model_state(self):
        meta, arrays = self.den_.state()
        return {"den": meta}, {f"den.{k}": v for k, v in arrays.items()}

    def _set_model_state(self, meta, arrays):
        self.den_ = EmpiricalDenoiser.from_state(meta["den"], {k[4:]: v for k, v in arrays.items()
                                                               if k.startswith("den.")})
