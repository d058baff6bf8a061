"""Shared machinery of the detectors that train a network: seeding, device, training, saving."""
from __future__ import annotations

import numpy as np
import torch

from .._torch import batched, resolve_device, seed_of, seeded
from ..diffusion import NoiseSchedule, TrainConfig, net_state, restore_net, train
from ..nets import ResidualMLP
from .base import BaseDetector



class NeuralDetector(BaseDetector):
    """Base of the diffusion detectors that own a ``ResidualMLP`` and a ``NoiseSchedule``.

    Subclasses set ``_out_dim(d)`` and ``_loss()``; training and scoring are seeded by ``random_state``.
    """

    _time_embedding = True  # DTE's time predictors take no timestep

    def _out_dim(self, d: int) -> int:
        return d

    def _loss(self):
        raise NotImplementedError

    def _schedule(self) -> NoiseSchedule:
        return NoiseSchedule(self.schedule, self.n_steps)

    def _train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, max_steps=self.max_steps, batch_size=self.batch_size, lr=self.lr,
                           val_fraction=self.val_fraction, patience=self.patience, ema_decay=self.ema_decay)

    # --- for the subclasses that score at fractions of the chain, ``noise_levels`` ---------------
    def _check_noise_levels(self) -> None:
        levels = np.atleast_1d(np.asarray(self.noise_levels, dtype=float))
        if levels.size == 0 or (levels <= 0).any() or (levels > 1).any():
            raise ValueError(f"noise_levels must be fractions in (0, 1], got {self.noise_levels}")

    def _timesteps(self) -> list[int]:
        return [self.schedule_.t_from_fraction(f) for f in np.atleast_1d(np.asarray(self.noise_levels, dtype=float))]

    def _fit(self, X: np.ndarray):
        self.seed_ = seed_of(self.random_state)
        self.schedule_ = self._schedule()
        self.device_ = resolve_device(self.device)
        rng = np.random.default_rng(self.seed_)
        if self.max_train_samples and X.shape[0] > self.max_train_samples:
            # Training subsamples to a cap (the step budget bounds the work anyway); scoring never does.
            X = X[rng.choice(X.shape[0], self.max_train_samples, replace=False)]
        with seeded(self.seed_):
            net = ResidualMLP(X.shape[1], self._out_dim(X.shape[1]), width=self.width, depth=self.depth,
                              dropout=self.dropout, time_embedding=self._time_embedding)
        data = [torch.as_tensor(X, dtype=torch.float32)]
        self.net_, self.train_result_ = train(net, data, self._loss(), self._train_config(), seed=self.seed_,
                                              device=self.device_, progress=self.verbose, desc=self.name)
        return None

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(X, dtype=torch.float32, device=self.device_)

    def _generator(self) -> torch.Generator:
        # A fresh generator per call: the same rows always get the same score.
        return torch.Generator().manual_seed(self.seed_ + 7919)

    def _batched(self, fn, X: np.ndarray) -> np.ndarray:
        """``fn(x, generator)`` over row batches, each with the same fresh generator."""
        with torch.no_grad():
            return batched(lambda x: fn(x, self._generator()), self._tensor(X), self.score_batch_size).double().cpu().numpy()

    def _get_state(self):
        meta, arrays = net_state(self.net_, self.schedule_)
        return {"seed_": self.seed_, **meta}, arrays

    def _set_state(self, meta, arrays):
        self.seed_ = int(meta["seed_"])
        self.device_ = resolve_device(self.device)
        # RuntimeError on missing or misshapen weights
        self.net_, self.schedule_ = restore_net(meta, arrays, self.device_)
