"""``MapDenoiser`` with a condition: per-location channels (e.g. the previous frames' features)
concatenated to the noisy input at every location."""
from __future__ import annotations

import torch
from torch import nn

from .embeddings import SinusoidalTimeEmbedding
from .mapnet import _Block, position_features

__all__ = ["CondMapDenoiser"]


class CondMapDenoiser(nn.Module):
    """``f(x_t, t, cond) -> (B, C, H, W)`` noise estimate; ``cond`` is ``(B, cond_channels, H, W)``.

    Example
    -------
    >>> net = CondMapDenoiser(channels=6, cond_channels=4, width=16, depth=1)
    >>> net(torch.randn(2, 6, 5, 7), torch.tensor([3, 40]), torch.randn(2, 4, 5, 7)).shape
    torch.Size([2, 6, 5, 7])
    """

    def __init__(self, channels: int, cond_channels: int, width: int = 64, depth: int = 2, kernel: int = 1,
                 pos_freqs: int = 4):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be an odd integer >= 1, got {kernel}")
        self.config = dict(channels=channels, cond_channels=cond_channels, width=width, depth=depth, kernel=kernel,
                           pos_freqs=pos_freqs)
        self.inp = nn.Linear(channels + cond_channels + 4 * pos_freqs, width)
        self.time = SinusoidalTimeEmbedding(width)
        self.blocks = nn.ModuleList(_Block(width, kernel) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, channels))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        B, _, H, W = x.shape
        pos = position_features(H, W, self.config["pos_freqs"], x.device).to(x.dtype)
        parts = [x] + ([cond.to(x.dtype)] if self.config["cond_channels"] else []) + [pos[None].expand(B, -1, -1, -1)]
        h = self.inp(torch.cat(parts, dim=1).permute(0, 2, 3, 1))
        emb = self.time(torch.as_tensor(t, device=x.device).reshape(-1).expand(B))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h).permute(0, 3, 1, 2)
