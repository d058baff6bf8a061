"""A small U-Net denoiser for images, sized for CPU training at 32 to 128 px.

Tensors are channels-first ``(batch, channels, H, W)`` with ``H`` and ``W`` divisible by
``2 ** (len(mults) - 1)``. Residual blocks take the time embedding through FiLM; ``cond`` (an image
of ``cond_channels``, e.g. a mask and the masked input for inpainting) is concatenated to the input.
"""
from __future__ import annotations

import torch
from torch import nn

from .embeddings import SinusoidalTimeEmbedding, join_condition

__all__ = ["UNet"]


class _Res(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(min(8, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(nn.functional.silu(h))


class UNet(nn.Module):
    """``eps_theta(x_t, t[, cond])`` for images ``(B, channels, H, W)``.

    Example
    -------
    >>> net = UNet(channels=1, width=16, mults=(1, 2))
    >>> net(torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)).shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(self, channels: int = 1, cond_channels: int = 0, width: int = 32, mults: tuple = (1, 2, 2),
                 emb_dim: int = 128):
        super().__init__()
        mults = tuple(int(m) for m in mults)
        self.config = dict(channels=channels, cond_channels=cond_channels, width=width, mults=list(mults),
                           emb_dim=emb_dim)
        self.time = SinusoidalTimeEmbedding(emb_dim)
        self.inp = nn.Conv2d(channels + cond_channels, width, 3, padding=1)
        widths = [width * m for m in mults]
        self.down = nn.ModuleList()
        c = width
        for i, w in enumerate(widths):
            self.down.append(_Res(c, w, emb_dim))
            c = w
        self.pool = nn.AvgPool2d(2)
        self.mid = _Res(c, c, emb_dim)
        self.up = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            self.up.append(_Res(c + w, w, emb_dim))
            c = w
        self.out = nn.Sequential(nn.GroupNorm(min(8, c), c), nn.SiLU(), nn.Conv2d(c, channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    @property
    def factor(self) -> int:
        """Image sides must be multiples of this."""
        return 2 ** (len(self.config["mults"]) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image sides must be multiples of {self.factor}, got {tuple(x.shape[-2:])}")
        x = join_condition(x, cond, self.config["cond_channels"])
        emb = self.time(t)
        h = self.inp(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.down) - 1:
                h = self.pool(h)
        h = self.mid(h, emb)
        for i, block in enumerate(self.up):
            skip = skips.pop()
            if h.shape[-2:] != skip.shape[-2:]:
                h = nn.functional.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.out(h)
