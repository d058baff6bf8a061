"""Reconstruction from partial noise: noise ``x`` to level ``t``, denoise back, measure the distance."""
from __future__ import annotations

from typing import Sequence

import torch

from ..diffusion import NoiseSchedule, denoise, make_sampler
from .noise import shared_noise

__all__ = ["reconstruction_score", "reconstruction_residual"]


def _reconstructions(model, schedule, x, t_starts, steps, sampler, n_repeats, generator, cond):
    """Yield ``x_hat`` for every start level and repeat, in the order the scores consume noise."""
    eps_model = lambda xt, t: model(xt, t, cond)  # noqa: E731
    for t0 in t_starts:
        s = make_sampler(sampler, schedule)
        s.set_timesteps(steps, start=int(t0))
        for _ in range(n_repeats):
            eps = shared_noise(x, generator)
            xt = schedule.add_noise(x, eps, torch.full((x.shape[0],), int(t0), device=x.device))
            yield denoise(eps_model, s, xt, generator, noise_fn=shared_noise)


def reconstruction_score(model, schedule: NoiseSchedule, x: torch.Tensor, t_starts: Sequence[int], *args,
                         **kwargs) -> torch.Tensor:
    """Mean squared reconstruction error per sample, averaged over ``t_starts`` and ``n_repeats``:
    the mean of :func:`reconstruction_residual` (same arguments: ``steps``, ``sampler``,
    ``n_repeats``, ``generator``, ``cond``) over all but the first axis.

    ``model(x_t, t, cond)`` predicts noise. Each start level is denoised with ``steps`` reverse
    steps of ``sampler`` ("ddim" deterministic, "ddpm" ancestral). Works for any tensor rank.
    The starting noise is shared by all rows (see :func:`shared_noise`).
    """
    return reconstruction_residual(model, schedule, x, t_starts, *args, **kwargs).flatten(1).mean(1)


@torch.no_grad()
def reconstruction_residual(
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
    """Squared reconstruction error per element (same shape as ``x``, float64), averaged over
    ``t_starts`` and ``n_repeats``; its mean over all but the first axis is
    :func:`reconstruction_score` (same arguments, same noise for the same ``generator`` seed).

    Example
    -------
    >>> from adgdm.diffusion import NoiseSchedule
    >>> zero = lambda xt, t, cond=None: torch.zeros_like(xt)
    >>> reconstruction_residual(zero, NoiseSchedule("linear", 100), torch.ones(2, 3), [30], steps=3).shape
    torch.Size([2, 3])
    """
    total = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
    for x_hat in _reconstructions(model, schedule, x, t_starts, steps, sampler, n_repeats, generator, cond):
        total += ((x_hat - x) ** 2).double()
    return total / (len(t_starts) * n_repeats)
