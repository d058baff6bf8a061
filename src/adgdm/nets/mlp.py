"""Residual MLP denoiser for vectors (tables, embeddings)."""
from __future__ import annotations

import torch
from torch import nn

from .embeddings import ConditionEmbedding, SinusoidalTimeEmbedding

__all__ = ["ResidualMLP"]


class _Block(nn.Module):
    def __init__(self, width: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.emb = nn.Linear(emb_dim, 2 * width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.emb(emb).chunk(2, dim=-1)
        z = self.norm(h) * (1 + scale) + shift  # FiLM conditioning on time (and label)
        z = self.fc2(self.drop(nn.functional.silu(self.fc1(z))))
        return h + z


class ResidualMLP(nn.Module):
    """``f(x, t[, cond]) -> (batch, out_dim)``: residual MLP with a sinusoidal time embedding.

    The network knows nothing of the noise schedule: it receives integer timesteps and returns
    ``out_dim`` numbers (``in_dim`` for a noise prediction, a number of time bins for a classifier).

    Example
    -------
    >>> net = ResidualMLP(in_dim=5, width=32, depth=2)
    >>> net(torch.randn(8, 5), torch.randint(0, 1000, (8,))).shape
    torch.Size([8, 5])
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int | None = None,
        width: int = 256,
        depth: int = 3,
        dropout: float = 0.0,
        n_classes: int = 0,
        cond_dim: int = 0,
        time_embedding: bool = True,
    ):
        super().__init__()
        self.config = dict(in_dim=in_dim, out_dim=out_dim, width=width, depth=depth, dropout=dropout,
                           n_classes=n_classes, cond_dim=cond_dim, time_embedding=time_embedding)
        out_dim = in_dim if out_dim is None else out_dim
        self.inp = nn.Linear(in_dim, width)
        self.time = SinusoidalTimeEmbedding(width) if time_embedding else None
        self.cond = ConditionEmbedding(width, n_classes, cond_dim) if (n_classes or cond_dim) else None
        self.blocks = nn.ModuleList(_Block(width, width, dropout) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, out_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(x)
        emb = torch.zeros_like(h)
        if self.time is not None:
            if t is None:
                raise ValueError("this network needs timesteps t")
            emb = emb + self.time(t)
        if self.cond is not None and cond is not None:
            emb = emb + self.cond(cond)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)
