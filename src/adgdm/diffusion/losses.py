"""The noise-prediction objective every denoiser trains on, ``E ||eps - eps_theta(x_t, t)||^2``."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .schedules import NoiseSchedule

__all__ = ["noise_loss", "denoising_loss"]

LossFn = Callable[[nn.Module, Sequence[torch.Tensor], torch.Generator], torch.Tensor]
Masker = Callable[[torch.Generator], torch.Tensor]


def noise_loss(model: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor, generator: torch.Generator, *,
               t_max: int | None = None, noise: Callable | None = None, mask: torch.Tensor | Masker | None = None,
               cond: torch.Tensor | Callable | None = None, cond_drop: float = 0.0,
               null_label: int | None = None) -> torch.Tensor:
    """Noise-prediction loss of ``model(x_t, t, cond)`` on one batch ``x0``.

    Draws, in this order from ``generator`` (the order fixes the results for a seed): timesteps
    uniform in ``[0, t_max]`` (default: the whole chain), the noise (``noise(shape, generator)``,
    default Gaussian), the ``mask`` when it is a callable ``mask(generator)``, the label dropout.

    mask : 1 where the network must predict (the loss is averaged there only); the network sees
        ``x_t`` zeroed elsewhere, the rest reaches it through ``cond`` (CSDI-style).
    cond : a tensor, or ``cond(mask)`` built from the drawn mask.
    cond_drop : share of labels replaced by ``null_label`` (classifier-free guidance).

    Example
    -------
    >>> s = NoiseSchedule(n_steps=10)
    >>> zero = lambda x, t, cond=None: torch.zeros_like(x)
    >>> m = torch.tensor([[1.0, 0.0]])          # the second column does not count
    >>> g = torch.Generator().manual_seed(0)
    >>> float(noise_loss(zero, s, torch.zeros(4096, 2), g, mask=m)) > 0.9
    True
    """
    n = x0.shape[0]
    t_max = schedule.n_steps - 1 if t_max is None else int(t_max)
    t = torch.randint(0, t_max + 1, (n,), generator=generator).to(x0.device)
    eps = (torch.randn(x0.shape, generator=generator) if noise is None else noise(x0.shape, generator)).to(x0)
    if callable(mask):
        mask = mask(generator)
    if callable(cond):
        cond = cond(mask)
    if cond is not None and cond_drop > 0:
        drop = (torch.rand(cond.shape[0], generator=generator) < cond_drop).to(cond.device)
        cond = torch.where(drop, torch.full_like(cond, null_label), cond)
    xt = schedule.add_noise(x0, eps, t)
    if mask is None:
        return ((model(xt, t, cond) - eps) ** 2).mean()
    mask = mask.to(x0).expand_as(x0)  # a broadcast mask counts once per row
    return (((model(xt * mask, t, cond) - eps) ** 2) * mask).sum() / mask.sum().clamp(min=1.0)


def denoising_loss(schedule: NoiseSchedule, cond_drop: float = 0.0, null_label: int | None = None) -> LossFn:
    """:func:`noise_loss` as a ``train`` loss for batches ``(x0,)`` or ``(x0, cond)``.

    With ``cond_drop`` > 0 a fraction of labels is replaced by ``null_label`` (classifier-free guidance).
    """

    def loss(model: nn.Module, batch: Sequence[torch.Tensor], gen: torch.Generator) -> torch.Tensor:
        cond = batch[1] if len(batch) > 1 else None
        return noise_loss(model, schedule, batch[0], gen, cond=cond, cond_drop=cond_drop, null_label=null_label)

    return loss
