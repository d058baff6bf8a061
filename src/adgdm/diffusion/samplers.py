"""DDPM and DDIM reverse steps.

A sampler is given the schedule and a list of timesteps (``set_timesteps``) and takes one reverse
step at a time from an ``eps`` prediction; ``step`` returns the next ``x`` and the clean estimate
``x0`` it was built from. Both start from any timestep, which is what partial-noise reconstruction
needs, and both work on tensors of any rank. The loop over the steps is :func:`adgdm.diffusion.reverse`.
"""
from __future__ import annotations

from typing import Callable

import torch

from .schedules import NoiseSchedule

__all__ = ["DDPMSampler", "DDIMSampler", "make_sampler"]


class DDIMSampler:
    """DDIM (Song et al. 2021) with stochasticity ``eta`` (0 = deterministic, 1 = DDPM-like).

    Example
    -------
    >>> s = NoiseSchedule(n_steps=100)
    >>> sampler = DDIMSampler(s)
    >>> sampler.set_timesteps(10, start=49)
    >>> sampler.timesteps[:3].tolist()
    [49, 44, 39]
    """

    def __init__(self, schedule: NoiseSchedule, eta: float = 0.0, clip: float | None = None):
        self.schedule = schedule
        self.eta = float(eta)
        self.clip = clip
        self.timesteps = torch.arange(schedule.n_steps - 1, -1, -1)

    def set_timesteps(self, n_inference: int, start: int | None = None) -> None:
        """Choose ``n_inference`` evenly spaced timesteps from ``start`` (default: the last) down to 0."""
        start = self.schedule.n_steps - 1 if start is None else int(start)
        if not 0 <= start < self.schedule.n_steps:
            raise ValueError(f"start must be in [0, {self.schedule.n_steps - 1}], got {start}")
        n = max(1, min(int(n_inference), start + 1))
        # exactly n distinct, evenly spaced steps from start down towards 0
        self.timesteps = start - (torch.arange(n) * (start + 1)) // n

    def prev_timestep(self, i: int) -> int:
        return int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1

    def _start(self, eps: torch.Tensor, i: int, xt: torch.Tensor):
        """``(t_prev, abar_t, abar_prev, x0_hat)`` for reverse step ``i``; ``x0_hat`` clipped if asked."""
        s = self.schedule
        t_prev = self.prev_timestep(i)
        ab_t = s.alpha_bars[int(self.timesteps[i])].item()
        ab_prev = s.alpha_bars[t_prev].item() if t_prev >= 0 else 1.0
        x0 = (xt - (1 - ab_t) ** 0.5 * eps) / ab_t**0.5
        if self.clip is not None:
            x0 = x0.clamp(-self.clip, self.clip)
        return t_prev, ab_t, ab_prev, x0

    def step(self, eps: torch.Tensor, i: int, xt: torch.Tensor, generator: torch.Generator | None = None,
             noise_fn: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse step from ``timesteps[i]`` to the next timestep (or to ``x_0``); returns
        ``(x_prev, x0_pred)``, the clean estimate (clipped if asked) the step moved towards. At the
        last step ``x_prev`` is ``x0_pred``.

        ``noise_fn(x, generator)`` draws the step's fresh noise (default: independent per sample).

        Example
        -------
        >>> s = NoiseSchedule(n_steps=10)
        >>> smp = DDIMSampler(s); smp.set_timesteps(2)
        >>> x_prev, x0 = smp.step(torch.zeros(1, 3), 0, torch.ones(1, 3))
        >>> x0.shape
        torch.Size([1, 3])
        """
        t_prev, ab_t, ab_prev, x0 = self._start(eps, i, xt)
        if self.clip is not None:
            eps = (xt - ab_t**0.5 * x0) / (1 - ab_t) ** 0.5
        if t_prev < 0:
            return x0, x0
        sigma = self.eta * ((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)) ** 0.5
        dir_xt = max(1 - ab_prev - sigma**2, 0.0) ** 0.5 * eps
        out = ab_prev**0.5 * x0 + dir_xt
        if sigma > 0:
            out = out + sigma * (noise_fn or _randn_like)(xt, generator)
        return out, x0


class DDPMSampler(DDIMSampler):
    """Ancestral DDPM sampling (Ho et al. 2020) from the Gaussian posterior ``q(x_prev | x_t, x_0)``.

    Timesteps may be spaced (``set_timesteps``): the posterior is then taken between the two kept
    steps, as in improved DDPM's respacing.
    """

    def __init__(self, schedule: NoiseSchedule, clip: float | None = None):
        super().__init__(schedule, eta=1.0, clip=clip)

    def step(self, eps: torch.Tensor, i: int, xt: torch.Tensor, generator: torch.Generator | None = None,
             noise_fn: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        t_prev, ab_t, ab_prev, x0 = self._start(eps, i, xt)
        if t_prev < 0:
            return x0, x0
        beta = 1 - ab_t / ab_prev
        mean = (ab_prev**0.5 * beta / (1 - ab_t)) * x0 + ((1 - beta) ** 0.5 * (1 - ab_prev) / (1 - ab_t)) * xt
        var = beta * (1 - ab_prev) / (1 - ab_t)
        return mean + var**0.5 * (noise_fn or _randn_like)(xt, generator), x0


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)


def make_sampler(name: str, schedule: NoiseSchedule, eta: float = 0.0, clip: float | None = None) -> DDIMSampler:
    """``"ddim"`` (with ``eta``) or ``"ddpm"``; ``clip`` bounds each step's clean estimate."""
    if name == "ddim":
        return DDIMSampler(schedule, eta=eta, clip=clip)
    if name == "ddpm":
        return DDPMSampler(schedule, clip=clip)
    raise ValueError(f"unknown sampler {name!r}; choose 'ddpm' or 'ddim'")
