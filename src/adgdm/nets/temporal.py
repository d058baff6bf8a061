"""Denoiser for windows of a series: a stack of dilated 1-D convolutions with FiLM time conditioning.

Tensors are channels-first, ``(batch, channels, length)``. ``cond`` is a tensor of the same length
(observed values and their mask, for imputation and forecasting) concatenated to the input.
"""
from __future__ import annotations

import torch
from torch import nn

from .embeddings import SinusoidalTimeEmbedding, join_condition

__all__ = ["TemporalConvNet"]


class _Block(nn.Module):
    def __init__(self, width: int, emb_dim: int, dilation: int, kernel: int):
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.norm1 = nn.GroupNorm(min(8, width), width)
        self.conv1 = nn.Conv1d(width, width, kernel, padding=pad, dilation=dilation)
        self.film = nn.Linear(emb_dim, 2 * width)
        self.norm2 = nn.GroupNorm(min(8, width), width)
        self.conv2 = nn.Conv1d(width, width, 1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb)[:, :, None].chunk(2, dim=1)
        out = self.conv1(nn.functional.silu(self.norm1(h)))
        out = self.norm2(out) * (1 + scale) + shift
        return h + self.conv2(nn.functional.silu(out))


class TemporalConvNet(nn.Module):
    """``eps_theta(x_t, t, cond)`` for windows ``(B, channels, L)``.

    Dilations double per block (1, 2, 4, ...), so ``depth`` blocks see about ``2**depth * kernel``
    steps; the network knows nothing of the noise schedule.

    Example
    -------
    >>> net = TemporalConvNet(channels=2, cond_channels=4, width=16, depth=3)
    >>> net(torch.zeros(5, 2, 32), torch.zeros(5, dtype=torch.long), torch.zeros(5, 4, 32)).shape
    torch.Size([5, 2, 32])
    """

    def __init__(self, channels: int, cond_channels: int = 0, width: int = 32, depth: int = 4, kernel: int = 3,
                 emb_dim: int = 64):
        super().__init__()
        self.config = dict(channels=channels, cond_channels=cond_channels, width=width, depth=depth, kernel=kernel,
                           emb_dim=emb_dim)
        self.time = SinusoidalTimeEmbedding(emb_dim)
        self.inp = nn.Conv1d(channels + cond_channels, width, kernel, padding=(kernel - 1) // 2)
        self.blocks = nn.ModuleList(_Block(width, emb_dim, 2**i, kernel) for i in range(depth))
        self.out = nn.Conv1d(width, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = join_condition(x, cond, self.config["cond_channels"])
        emb = self.time(t)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)
