"""Noise-prediction error and the variational (likelihood) bound as anomaly scores."""
from __future__ import annotations

from typing import Sequence

import torch

from ..diffusion import NoiseSchedule

__all__ = ["noise_error_score", "noise_error_residual", "elbo_score", "shared_noise"]


def shared_noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One noise draw broadcast to every row: a row's score then depends on that row alone, not on
    its batch neighbours or position (common random numbers also steady the ranking)."""
    return torch.randn((1, *x.shape[1:]), generator=generator).to(x.device).expand_as(x)


@torch.no_grad()
def noise_error_score(
    model,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    timesteps: Sequence[int],
    n_repeats: int = 1,
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """``mean_t w_t ||eps - eps_theta(x_t, t)||^2`` per sample, over ``timesteps`` and ``n_repeats`` noises."""
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for k, err in _squared_errors(model, schedule, x, timesteps, n_repeats, generator, cond):
        w = 1.0 if weights is None else float(weights[k])
        total += w * err.flatten(1).sum(1).double()
    return total / (len(timesteps) * n_repeats)


def _squared_errors(model, schedule, x, timesteps, n_repeats, generator, cond):
    """``(k, (eps - eps_theta(x_t, t_k))^2)`` for each level ``k`` and repeat, in one draw order."""
    for k, t in enumerate(timesteps):
        tt = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
        for _ in range(n_repeats):
            eps = shared_noise(x, generator)
            yield k, (model(schedule.add_noise(x, eps, tt), tt, cond) - eps) ** 2


@torch.no_grad()
def noise_error_residual(
    model,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    timesteps: Sequence[int],
    n_repeats: int = 1,
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """Squared noise-prediction error per element, ``(eps - eps_theta(x_t, t))^2`` (same shape as
    ``x``, float64), averaged over ``timesteps`` and ``n_repeats``: where in a sample (which
    location of a feature map, which feature) the model could not tell the noise apart. Noise as
    in :func:`noise_error_score` (one draw shared by every row per level and repeat).

    Example
    -------
    >>> zero = lambda xt, t, cond=None: torch.zeros_like(xt)
    >>> noise_error_residual(zero, NoiseSchedule("linear", 100), torch.ones(2, 3, 4), [10, 30]).shape
    torch.Size([2, 3, 4])
    """
    total = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
    for _, err in _squared_errors(model, schedule, x, timesteps, n_repeats, generator, cond):
        total += err.double()
    return total / (len(timesteps) * n_repeats)


def elbo_score(model, schedule: NoiseSchedule, x, timesteps: Sequence[int], n_repeats: int = 1,
               generator=None, cond=None) -> torch.Tensor:
    """Monte-Carlo estimate of the DDPM variational bound (up to constants) over ``timesteps``:
    the noise error weighted by the bound's per-step weights. Higher = less likely."""
    w = schedule.elbo_weights()[torch.as_tensor(list(timesteps)).long()]
    return noise_error_score(model, schedule, x, timesteps, n_repeats, generator, cond, weights=w)
