"""The reverse (denoising) loop every sampler, score and generator runs, with three optional hooks.

``reverse`` runs DDIM/DDPM steps from any timestep down to ``x_0``. Per step, in this order:

1. ``eps = eps_fn(x_t, t)``, then ``eps_transform(eps)`` (e.g. a per-feature scaling: 0 = no pull
   towards the data, negative = pushed away);
2. guidance: ``eps -= scale * sqrt(1 - abar_t) * guide(x_t, eps, abar_t)``; moving the noise
   estimate against a direction moves the clean estimate along it. :func:`towards_input` pulls
   towards an input image (DDAD), :func:`score_gradient` climbs a differentiable score (or, with a
   negative scale, moves away from a detector);
3. the sampler's step;
4. known region (RePaint-style inpainting): entries where ``known_mask`` is True are replaced by
   ``known`` noised to the new level (exactly ``known`` after the last step).
"""
from __future__ import annotations

from typing import Callable

import torch

from .samplers import DDIMSampler, make_sampler
from .schedules import NoiseSchedule

__all__ = ["reverse", "denoise", "towards_input", "score_gradient"]

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Guide = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def towards_input(y: torch.Tensor) -> Guide:
    """Guidance towards the input ``y`` (DDAD, Mousakhan et al. 2023): the direction is
    ``y_t - x_t`` with ``y_t = sqrt(abar_t) y + sqrt(1 - abar_t) eps``, the input noised with the
    current noise estimate.

    Example
    -------
    >>> g = towards_input(torch.ones(1, 2))
    >>> g(torch.zeros(1, 2), torch.zeros(1, 2), 0.25).tolist()
    [[0.5, 0.5]]
    """

    def guide(x: torch.Tensor, eps: torch.Tensor, ab: float) -> torch.Tensor:
        y_t = ab ** 0.5 * y + (1 - ab) ** 0.5 * eps
        return y_t - x

    return guide


def score_gradient(score_fn: Callable[[torch.Tensor], torch.Tensor]) -> Guide:
    """Guidance up a differentiable per-row ``score_fn(x0)`` of the step's clean estimate: the
    direction is the gradient of its sum with respect to ``x_t`` (a negative guidance scale moves
    down, e.g. away from what a detector flags).

    Example
    -------
    >>> g = score_gradient(lambda x0: x0.sum(1))
    >>> g(torch.zeros(1, 2), torch.zeros(1, 2), 0.25).tolist()
    [[2.0, 2.0]]
    """

    def guide(x: torch.Tensor, eps: torch.Tensor, ab: float) -> torch.Tensor:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            x0 = (xg - (1 - ab) ** 0.5 * eps) / ab ** 0.5
            grad, = torch.autograd.grad(score_fn(x0).sum(), xg)
        return grad

    return guide


def denoise(eps_fn: EpsFn, smp: DDIMSampler, x_t: torch.Tensor, generator: torch.Generator | None = None,
            noise_fn: Callable | None = None, *, eps_transform: Callable | None = None, guide: Guide | None = None,
            guidance: float = 0.0, known: torch.Tensor | None = None,
            known_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The loop of :func:`reverse` over a sampler whose timesteps are already set
    (``smp.set_timesteps``); returns ``x_0`` (detached). ``noise_fn(x, generator)`` draws each
    stochastic step's fresh noise (default: independent per row). This is the only reverse loop.

    Example
    -------
    >>> s = NoiseSchedule(n_steps=50)
    >>> smp = make_sampler("ddim", s); smp.set_timesteps(5, start=20)
    >>> denoise(lambda x, t: torch.zeros_like(x), smp, torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """
    schedule = smp.schedule
    x = x_t
    for i, t in enumerate(smp.timesteps.tolist()):
        tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        with torch.no_grad():
            eps = eps_fn(x, tt)
            if eps_transform is not None:
                eps = eps_transform(eps)
        if guide is not None and guidance != 0.0:
            ab = float(schedule.alpha_bars[t])
            eps = eps - float(guidance) * (1 - ab) ** 0.5 * guide(x, eps, ab)
        with torch.no_grad():
            x, _ = smp.step(eps, i, x, generator, noise_fn)
            if known is not None:
                x = torch.where(known_mask, _known_at(schedule, known, smp.prev_timestep(i), generator), x)
    return x.detach()


def _known_at(schedule: NoiseSchedule, known: torch.Tensor, t: int, generator) -> torch.Tensor:
    """``known`` noised to step ``t`` with fresh noise (itself at ``t`` < 0, the end of the chain)."""
    if t < 0:
        return known
    noise = torch.randn(known.shape, generator=generator, dtype=known.dtype).to(known.device)
    return schedule.add_noise(known, noise, torch.full((known.shape[0],), t, dtype=torch.long, device=known.device))


def reverse(eps_fn: EpsFn, schedule: NoiseSchedule, x_t: torch.Tensor, t_start: int, steps: int,
            generator: torch.Generator | None = None, *, sampler: str = "ddim", eta: float = 0.0,
            clip: float | None = None, noise_fn: Callable | None = None, eps_transform: Callable | None = None,
            guide: Guide | None = None, guidance: float = 0.0, known: torch.Tensor | None = None,
            known_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Reverse chain from timestep ``t_start`` in ``steps`` steps of ``sampler`` (``"ddim"`` with
    ``eta``, or ``"ddpm"``); returns ``x_0``. ``eps_fn(x_t, t)`` predicts the noise; ``clip`` bounds
    each step's clean estimate. The hooks (see the module docstring): ``eps_transform(eps)``,
    ``guide(x_t, eps, abar_t)`` with weight ``guidance``, and ``known``/``known_mask``
    (True = keep) for inpainting.

    Example
    -------
    >>> s = NoiseSchedule(n_steps=50)
    >>> x0 = torch.zeros(2, 3)
    >>> oracle = lambda x, t: s.predict_eps(x, x0, t)   # knows the clean data
    >>> x_t = s.add_noise(x0, torch.randn(2, 3), torch.tensor(30))
    >>> bool(reverse(oracle, s, x_t, 30, 5).abs().max() < 1e-5)
    True
    """
    smp = make_sampler(sampler, schedule, eta=eta, clip=clip)
    smp.set_timesteps(steps, start=t_start)
    return denoise(eps_fn, smp, x_t, generator, noise_fn=noise_fn, eps_transform=eps_transform, guide=guide,
                   guidance=guidance, known=known, known_mask=known_mask)
