"""``video-pred``: a conditional diffusion model of the next frame's location features given the
previous frames (the learned video detector)."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..._params import store_params
from ..._torch import seeded
from ...diffusion import NoiseSchedule, TrainConfig, net_state, noise_loss, restore_net, train
from ...nets.condmap import CondMapDenoiser
from ...scores import noise_error_residual
from .features import FeatureVideoBase

__all__ = ["VideoPred"]


class VideoPred(FeatureVideoBase):
    """``video-pred``: a diffusion model of frame ``t``'s location vectors (appearance + motion,
    :mod:`.features`) conditioned on the appearance of frames ``t - 1 .. t - history`` at the same
    location and on the location itself (a ``CondMapDenoiser``: per-location residual MLP,
    ``kernel=3`` adds 3 x 3 context), trained with the core's ``train`` and ``noise_loss``. A
    location's error per stream (appearance, motion) is its squared noise-prediction error summed
    over the stream's channels, averaged over ``noise_levels`` (fractions of the ``schedule``
    chain) and ``n_repeats`` fixed noise draws (the same for every frame, so a frame's score does
    not depend on its batch); the location score is the sum of the streams' errors, each z-scored
    per location against the held-out training frames (``location_norm``).

    Parameters
    ----------
    size : working frame height (the width keeps the aspect ratio); the grid is ``size / 8``.
    history : previous frames the model is conditioned on (and motion lags).
    n_components, motion_weight : the location vector (:mod:`.features`).
    width, depth, kernel : the network. max_steps, train_batch (frames a step), lr : training.
    max_level, noise_levels, n_repeats, schedule, n_steps : noise in training and scoring.
    top_k, smooth_sigma, smooth_frames : frame score and map (:class:`.base.VideoBase`).

    ``kernel=3`` and ``smooth_frames=9`` were chosen without test labels, on walkers pasted into
    held-out Ped2 training clips (``benchmarks/results/video_select.md``: mean AUROC 0.800 against
    0.788 for ``kernel=1`` and 0.785 without smoothing).

    Example
    -------
    >>> det = VideoPred(size=32, max_steps=50, random_state=0).fit(train_clips)   # doctest: +SKIP
    >>> r = det.predict_result(test_clip); r.score.shape, r.anomaly_map.shape     # doctest: +SKIP
    """

    name = "video-pred"

    def __init__(self, size: int | None = 120, history: int = 2, n_components: int = 32, motion_weight: float = 1.0,
                 width: int = 64, depth: int = 2, kernel: int = 3, max_steps: int = 1500, train_batch: int = 16,
                 lr: float = 1e-3, max_level: float = 0.5, noise_levels=(0.2, 0.3, 0.4), n_repeats: int = 2,
                 schedule: str = "linear", n_steps: int = 1000, location_norm: bool = True, top_k: float = 0.01,
                 smooth_frames: int = 9, smooth_sigma: float = 2.0, calibration_fraction: float = 0.2, contamination: float = 0.1,
                 verbose: bool = False, random_state=None):
        store_params(self, locals())

    def _levels(self) -> tuple:
        return tuple(float(v) for v in np.atleast_1d(self.noise_levels))

    def _check_own_params(self):
        self._check_feature_params()
        levels = self._levels()
        if not levels or any(not 0.0 < v <= 1.0 for v in levels):
            raise ValueError(f"noise_levels must be fractions in (0, 1], got {self.noise_levels}")
        if not 0.0 < float(self.max_level) <= 1.0 or max(levels) > float(self.max_level):
            raise ValueError(f"max_level must lie in (0, 1] and be >= every noise level, got {self.max_level}")
        for name in ("width", "depth", "max_steps", "train_batch", "n_repeats", "n_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def _fit_rows(self, x, cond, rng):
        self.schedule_ = NoiseSchedule(self.schedule, int(self.n_steps))
        sched, t_max = self.schedule_, self.schedule_.t_from_fraction(float(self.max_level))
        with seeded(self.seed_):
            net = CondMapDenoiser(x.shape[1], cond.shape[1], int(self.width), int(self.depth), int(self.kernel))

        def loss(model, batch, gen):
            return noise_loss(model, sched, batch[0], gen, t_max=t_max, cond=batch[1])

        config = TrainConfig(epochs=10**6, max_steps=int(self.max_steps), batch_size=int(self.train_batch),
                             lr=float(self.lr), lr_schedule="cosine", eval_every=100)
        t0 = time.perf_counter()
        self.net_, result = train(net, [x.clone(), cond.clone()], loss, config, seed=self.seed_ + 1,
                                  progress=bool(self.verbose), desc=self.name, lines=True)
        self.train_losses_ = list(result.train_losses)
        self._log(f"trained {result.steps} steps in {time.perf_counter() - t0:.1f} s, "
                  f"final loss {self.train_losses_[-1]:.4f}")

    def _raw_locations(self, x, cond):
        ts = [self.schedule_.t_from_fraction(v) for v in self._levels()]
        gen = torch.Generator().manual_seed(self.seed_ + 2)
        return self._split(noise_error_residual(self.net_, self.schedule_, x, ts, int(self.n_repeats), gen, cond=cond))

    def _model_state(self):
        meta, arrays = net_state(self.net_, self.schedule_)
        meta["train_losses_"] = [float(v) for v in self.train_losses_]
        return meta, arrays

    def _set_model_state(self, meta, arrays):
        self.net_, self.schedule_ = restore_net(meta, arrays, expect="CondMapDenoiser")
        self.train_losses_ = [float(v) for v in meta.get("train_losses_", [])]


class VideoDefault(VideoPred):
    """``video``: the recommended video detector, today ``video-pred`` with its defaults (the learned
    conditional diffusion model; chosen over ``video-ideal``, which ranks higher on the label-free
    synthetic anomalies of ``benchmarks/results/video_select.md`` but scores about 8 frames/s, far
    below the 25 frames/s a live camera needs). A separate name so the recommendation can change
    without changing what ``video-pred`` means.

    >>> det = VideoDefault(random_state=0)                                   # doctest: +SKIP
    """

    name = "video"
