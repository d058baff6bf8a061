"""Scores for windows of a series, ``(batch, channels, length)``: reconstruction, imputation and
forecasting with one masked denoiser.

The denoiser takes ``net(x_t * hidden, t, cond=[x_0 * observed, observed])``: it sees the observed
steps as a condition and denoises the hidden ones (CSDI-style). A mask is ``(channels, length)``
with 1 = observed, 0 = hidden, shared by every window of a batch.

All functions return the squared error per position ``(batch, channels, length)``, zero where
the position was observed (it was not predicted).
"""
from __future__ import annotations

import torch

from ..diffusion import NoiseSchedule, reverse

__all__ = ["masked_denoise", "reconstruction_errors", "imputation_errors", "forecast_errors", "grating_masks",
           "observed_stats", "normalised_errors",
           "forecast_mask"]


def grating_masks(channels: int, length: int, n_masks: int, block: int) -> torch.Tensor:
    """``(n_masks, channels, length)`` complementary masks: steps in contiguous blocks of ``block``,
    block ``j`` hidden in mask ``j % n_masks``. Every step is hidden in exactly one mask (the
    grating masks of ImDiffusion)."""
    group = (torch.arange(length) // max(1, int(block))) % n_masks
    masks = torch.stack([(group != j).float() for j in range(n_masks)])
    return masks[:, None, :].expand(n_masks, channels, length).contiguous()


def forecast_mask(channels: int, length: int, horizon: int) -> torch.Tensor:
    """``(channels, length)``: the history observed, the last ``horizon`` steps hidden."""
    m = torch.ones(channels, length)
    m[:, length - int(horizon):] = 0.0
    return m


@torch.no_grad()
def masked_denoise(net, schedule: NoiseSchedule, x0: torch.Tensor, mask: torch.Tensor, t_start: int, n_steps: int,
                   noise: torch.Tensor, clip: float | None = None) -> torch.Tensor:
    """Noise the hidden positions of ``x0`` to step ``t_start`` with ``noise`` (``(channels, length)``,
    shared by every window, so a window's score does not depend on its batch), then run ``n_steps``
    deterministic DDIM steps conditioned on the observed positions (``clip`` bounds each step's
    clean estimate: from the end of a cosine chain, ``1 / sqrt(abar)`` amplifies any noise-prediction
    error). Returns ``x0_hat``."""
    mask = mask.to(x0)
    hidden = 1.0 - mask
    cond = torch.cat([x0 * mask, mask.expand_as(x0)], dim=1)
    t = torch.full((x0.shape[0],), int(t_start), dtype=torch.long, device=x0.device)
    x = schedule.add_noise(x0, noise.to(x0).expand_as(x0), t) * hidden
    # the network sees the hidden positions only; DDIM steps act per position, so what the loop
    # carries at the observed ones never reaches the hidden ones and is dropped at the end
    x = reverse(lambda x, tt: net(x * hidden, tt, cond), schedule, x, int(t_start), n_steps, clip=clip)
    return x * hidden + x0 * mask


def _errors(net, schedule, x0, mask, t_start, n_steps, noise):
    x_hat = masked_denoise(net, schedule, x0, mask, t_start, n_steps, noise)
    return (x_hat - x0) ** 2 * (1.0 - mask.to(x0))


def reconstruction_errors(net, schedule: NoiseSchedule, x0: torch.Tensor, t_start: int, n_steps: int,
                          noise: torch.Tensor) -> torch.Tensor:
    """Noise the whole window to ``t_start``, denoise, squared error per position."""
    mask = torch.zeros(x0.shape[1:], device=x0.device)
    return _errors(net, schedule, x0, mask, t_start, n_steps, noise)


def imputation_errors(net, schedule: NoiseSchedule, x0: torch.Tensor, masks: torch.Tensor, t_start: int,
                      n_steps: int, noise: torch.Tensor) -> torch.Tensor:
    """For each complementary mask, impute its hidden steps from the rest; the errors add up to one
    error per position (each position is hidden once)."""
    out = torch.zeros_like(x0)
    for m in masks:
        out += _errors(net, schedule, x0, m, t_start, n_steps, noise)
    return out


def forecast_errors(net, schedule: NoiseSchedule, x0: torch.Tensor, horizon: int, n_steps: int,
                    noise: torch.Tensor) -> torch.Tensor:
    """Forecast the last ``horizon`` steps from the rest, from pure noise; error there, 0 elsewhere."""
    mask = forecast_mask(x0.shape[1], x0.shape[2], horizon).to(x0)
    return _errors(net, schedule, x0, mask, schedule.n_steps - 1, n_steps, noise)


def observed_stats(x: torch.Tensor, mask: torch.Tensor, floor: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each window ``(batch, channels, length)`` over its observed
    positions (``mask`` 1), per channel; the deviation is at least ``floor`` (a flat history would
    otherwise blow up every error). The hidden positions never enter, so an anomaly there cannot
    hide itself by inflating the scale it is measured in."""
    m = mask.to(x).expand_as(x)
    n = m.sum(dim=-1, keepdim=True).clamp(min=1.0)
    mean = (x * m).sum(dim=-1, keepdim=True) / n
    var = (((x - mean) * m) ** 2).sum(dim=-1, keepdim=True) / n
    return mean, var.sqrt().clamp(min=float(floor))


def normalised_errors(net, schedule: NoiseSchedule, x0: torch.Tensor, mask: torch.Tensor, t_start: int, n_steps: int,
                      noises: torch.Tensor, floor: float = 1e-2, clip: float = 20.0) -> torch.Tensor:
    """Squared error of the hidden positions predicted from the observed ones, each window first
    normalised by its observed part (:func:`observed_stats`), as a network pretrained across
    series expects. The hidden positions start at ``t_start`` from noise around 0 (the prior mean
    of a normalised window; their true values never enter) and ``n_steps`` DDIM steps generate
    them, once per noise in ``noises`` (``(k, channels, length)``); the *mean* prediction is
    compared with the truth (an estimate of the posterior mean: the forecast, not one sample of
    it). Starting below the end of the chain keeps ``1 / sqrt(abar)``, which multiplies every
    noise-prediction error in the first clean estimate, small. Errors are in units of the window's
    observed deviation; 0 at observed positions. ``clip`` bounds the clean estimates."""
    mean, std = observed_stats(x0, mask, floor)
    z = (x0 - mean) / std
    known = z * mask.to(z)
    pred = torch.zeros_like(z)
    for noise in noises:
        pred += masked_denoise(net, schedule, known, mask, int(t_start), n_steps, noise, clip)
    pred /= len(noises)
    return (pred - z) ** 2 * (1.0 - mask.to(x0))
