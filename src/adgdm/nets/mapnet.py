"""Denoiser for feature maps ``(B, C, H, W)``: a residual MLP applied at every location (matrix
products over channels-last maps), optionally with a depthwise ``kernel x kernel`` convolution for context, conditioned
on the timestep (FiLM, computed once per map) and on the location (fixed 2-D Fourier features of
the normalised coordinates, concatenated to the input)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .embeddings import SinusoidalTimeEmbedding

__all__ = ["MapDenoiser", "position_features"]


def position_features(h: int, w: int, n_freqs: int, device=None) -> torch.Tensor:
    """``(4 * n_freqs, h, w)``: ``sin``/``cos`` of ``pi * 2^k * u`` and of ``pi * 2^k * v`` with
    ``u, v`` the location's row and column in ``[0, 1]`` (cell centres)."""
    u = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
    v = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
    uu, vv = torch.meshgrid(u, v, indexing="ij")
    out = []
    for k in range(int(n_freqs)):
        f = math.pi * 2**k
        out += [torch.sin(f * uu), torch.cos(f * uu), torch.sin(f * vv), torch.cos(f * vv)]
    return torch.stack(out) if out else torch.zeros((0, h, w), device=device)


class _Block(nn.Module):
    """FiLM-conditioned residual MLP block on channels-last maps ``(B, H, W, width)``."""

    def __init__(self, width: int, kernel: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.emb = nn.Linear(width, 2 * width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.ctx = nn.Conv2d(2 * width, 2 * width, kernel, padding=kernel // 2, groups=2 * width) if kernel > 1 else None
        self.fc2 = nn.Linear(2 * width, width)

    def forward(self, h, emb):
        scale, shift = self.emb(emb)[:, None, None].chunk(2, dim=-1)
        z = self.fc1(self.norm(h) * (1 + scale) + shift)
        if self.ctx is not None:
            z = z + self.ctx(z.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return h + self.fc2(nn.functional.silu(z))


class MapDenoiser(nn.Module):
    """``f(x_t, t) -> (B, C, H, W)`` noise estimate for feature maps.

    ``kernel=1`` makes it a per-location residual MLP (each location's vector denoised alone, knowing
    only where it is); ``kernel=3`` lets each block see its 3 x 3 neighbourhood.

    Example
    -------
    >>> net = MapDenoiser(channels=6, width=16, depth=2)
    >>> net(torch.randn(2, 6, 5, 7), torch.tensor([3, 40])).shape
    torch.Size([2, 6, 5, 7])
    """

    def __init__(self, channels: int, width: int = 128, depth: int = 3, kernel: int = 1, pos_freqs: int = 4):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be an odd integer >= 1, got {kernel}")
        self.config = dict(channels=channels, width=width, depth=depth, kernel=kernel, pos_freqs=pos_freqs)
        self.inp = nn.Linear(channels + 4 * pos_freqs, width)
        self.time = SinusoidalTimeEmbedding(width)
        self.blocks = nn.ModuleList(_Block(width, kernel) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, channels))
        self._pos = {}

    def _position(self, h: int, w: int, device) -> torch.Tensor:
        key = (h, w, str(device))
        if key not in self._pos:
            self._pos[key] = position_features(h, w, self.config["pos_freqs"], device)
        return self._pos[key]

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        B, _, H, W = x.shape
        pos = self._position(H, W, x.device)
        # channels last: every layer but the context convolution is a matrix product over locations
        h = torch.cat([x.permute(0, 2, 3, 1), pos.permute(1, 2, 0)[None].expand(B, -1, -1, -1).to(x.dtype)], dim=-1)
        h = self.inp(h)
        emb = self.time(torch.as_tensor(t, device=x.device).reshape(-1).expand(B))  # once per map
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h).permute(0, 3, 1, 2)
