"""Reconstruction from partial noise: noise ``x`` to level ``t``, denoise back, measure the distance."""
from __future__ import annotations

from typing import Sequence

import torch

from ..diffusion import NoiseSchedule, denoise, make_sampler
from .noise import shared_noise

__all__ = ["reconstruction_score"]


@torch.no_grad()
def reconstruction_score(
    model,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    t_starts: Sequence[int],
    steps: int = 10,
    sampler: str = "ddim",
    n_repeats: int = 1,
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared reconstruction error per sample, averaged over ``t_starts`` and ``n_repeats``.

    ``model(x_t, t, cond)`` predicts noise. Each start level is denoised with ``steps`` reverse
    steps of ``sampler`` ("ddim" deterministic, "ddpm" ancestral). Works for any tensor rank.
    The starting noise is shared by all rows (see :func:`shared_noise`).
    """
    eps_model = lambda xt, t: model(xt, t, cond)  # noqa: E731
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for t0 in t_starts:
        s = make_sampler(sampler, schedule)
        s.set_timesteps(steps, start=int(t0))
        for _ in range(n_repeats):
            eps = shared_noise(x, generator)
            xt = schedule.add_noise(x, eps, torch.full((x.shape[0],), int(t0), device=x.device))
            x_hat = denoise(eps_model, s, xt, generator, noise_fn=shared_noise)
            total += ((x_hat - x) ** 2).flatten(1).mean(1).double()
    return total / (len(t_starts) * n_repeats)
