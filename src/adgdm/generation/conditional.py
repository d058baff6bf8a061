"""A label-conditioned diffusion model for few-shot anomaly generation (classifier-free guidance)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._torch import resolve_device, seed_of, seeded
from .._validation import check_tabular
from ..data.featuremap import FeatureMap
from .._params import store_params
from ..diffusion import NoiseSchedule, TrainConfig, denoising_loss, train
from ..nets import ResidualMLP

__all__ = ["ConditionalDiffusion"]


class ConditionalDiffusion(BaseEstimator):
    """DDPM over rows with a class label (0 = normal, 1 = anomaly) and label dropout, so one network
    gives both the conditional and the unconditional noise prediction (classifier-free guidance).

    A few real anomalies teach the network what class 1 looks like; the many normals teach it the
    data. Anomalies are drawn ``anomaly_weight`` times as often as their count would give, so the
    class-1 condition is trained on every batch.

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from adgdm.generation import sample
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> y = 1 - y                                   # malignant = anomaly
    >>> idx = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:10]]
    >>> model = ConditionalDiffusion(max_steps=200, random_state=0).fit(X[idx], y[idx])
    >>> sample(model, 4, steps=10, label=1, guidance_scale=2.0, random_state=0).shape
    (4, 30)
    """

    def __init__(self, width: int = 256, depth: int = 3, n_steps: int = 1000, schedule: str = "linear",
                 max_steps: int = 3000, batch_size: int = 256, lr: float = 1e-3, cond_drop: float = 0.15,
                 anomaly_weight: float = 0.25, preprocess: str = "standard", device: str = "cpu",
                 random_state=None, verbose: bool = False):
        store_params(self, locals())

    def _transform(self, arr: np.ndarray) -> np.ndarray:
        return self.featuremap_.transform(arr)

    def fit(self, X, y):
        """Fit on rows ``X`` with labels ``y`` (0 normal, 1 anomaly; at least one of each)."""
        arr, _ = check_tabular(X)
        y = np.asarray(y).astype(int).ravel()
        if y.shape != (arr.shape[0],):
            raise ValueError(f"y has {y.shape[0]} labels for {arr.shape[0]} rows")
        if not set(np.unique(y)) <= {0, 1}:
            raise ValueError("y must hold 0 (normal) and 1 (anomaly) only")
        n_anom = int((y == 1).sum())
        if n_anom == 0 or n_anom == len(y):
            raise ValueError(f"ConditionalDiffusion needs normal rows and at least one anomaly (k >= 1), "
                             f"got {n_anom} anomalies among {len(y)} rows")
        if not 0.0 < float(self.anomaly_weight) < 1.0:
            raise ValueError(f"anomaly_weight must lie in (0, 1), got {self.anomaly_weight}")
        self.n_features_in_ = arr.shape[1]
        # scaled by the normal rows; discrete columns remembered so samples land on their levels
        self.featuremap_ = FeatureMap(continuous=self.preprocess).fit(arr[y == 0])
        Z = self._transform(arr)
        self.seed_ = seed_of(self.random_state)
        rng = np.random.default_rng(self.seed_)
        # repeat the anomalies so they make up ``anomaly_weight`` of the training rows
        n_norm = len(Z) - n_anom
        reps = max(1, int(round(self.anomaly_weight / (1 - self.anomaly_weight) * n_norm / n_anom)))
        idx = np.r_[np.flatnonzero(y == 0), np.repeat(np.flatnonzero(y == 1), reps)]
        idx = rng.permutation(idx)
        self.schedule_ = NoiseSchedule(self.schedule, self.n_steps)
        self.null_label_ = 2
        self.device_ = resolve_device(self.device)
        with seeded(self.seed_):
            net = ResidualMLP(Z.shape[1], width=self.width, depth=self.depth, n_classes=2)
        data = [torch.as_tensor(Z[idx], dtype=torch.float32), torch.as_tensor(y[idx], dtype=torch.long)]
        cfg = TrainConfig(epochs=10_000, max_steps=int(self.max_steps), batch_size=int(self.batch_size),
                          lr=float(self.lr))
        loss = denoising_loss(self.schedule_, cond_drop=float(self.cond_drop), null_label=self.null_label_)
        self.net_, self.train_result_ = train(net, data, loss, cfg, seed=self.seed_, device=self.device_,
                                              progress=self.verbose, desc="conditional diffusion")
        return self
