"""Time and condition embeddings shared by every denoiser."""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SinusoidalTimeEmbedding", "ConditionEmbedding"]


class SinusoidalTimeEmbedding(nn.Module):
    """Transformer-style sinusoidal embedding of integer (or real) timesteps, then a small MLP."""

    def __init__(self, dim: int, max_period: float = 10000.0):
        super().__init__()
        self.dim = dim
        self.max_period = max_period
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(self.max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = t.float()[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.dim % 2:
            emb = torch.nn.functional.pad(emb, (0, 1))
        return self.mlp(emb)


class ConditionEmbedding(nn.Module):
    """Embedding of a class label (``n_classes`` > 0) or a real condition vector (``cond_dim`` > 0).

    Label index ``n_classes`` is reserved as the "no condition" token used by classifier-free
    guidance, so a model trained with label dropout can also be run unconditionally.
    """

    def __init__(self, dim: int, n_classes: int = 0, cond_dim: int = 0):
        super().__init__()
        if n_classes and cond_dim:
            raise ValueError("give either n_classes or cond_dim, not both")
        self.n_classes = n_classes
        self.cond_dim = cond_dim
        if n_classes:
            self.table = nn.Embedding(n_classes + 1, dim)
        elif cond_dim:
            self.proj = nn.Sequential(nn.Linear(cond_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    @property
    def null_label(self) -> int:
        return self.n_classes

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        if self.n_classes:
            return self.table(cond.long())
        return self.proj(cond.float())


def join_condition(x: torch.Tensor, cond: torch.Tensor | None, cond_channels: int) -> torch.Tensor:
    """``x`` with the condition channels appended (dim 1); a network built with condition
    channels refuses to run without them."""
    if cond is not None:
        return torch.cat([x, cond], dim=1)
    if cond_channels:
        raise ValueError("this network was built with condition channels; pass cond")
    return x
