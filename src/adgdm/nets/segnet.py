"""A small segmentation U-Net (no time embedding) and its loss: the per-pixel defect head of
``image-cycle``."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["SegNet", "FeatureSegHead", "seg_loss"]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    g = max(d for d in range(1, 9) if c_out % d == 0)  # GroupNorm groups must divide the channels
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(g, c_out), nn.SiLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(g, c_out), nn.SiLU())


class SegNet(nn.Module):
    """A small U-Net without time embedding: ``(B, in_channels, H, W)`` -> per-pixel logits
    ``(B, 1, H, W)``. Any ``H, W`` works: inputs are reflect-padded to a multiple of ``factor``
    and the output cropped back.

    Example
    -------
    >>> net = SegNet(in_channels=2, width=8, mults=(1, 2))
    >>> net(torch.zeros(3, 2, 30, 27)).shape
    torch.Size([3, 1, 30, 27])
    """

    def __init__(self, in_channels: int = 2, width: int = 16, mults: tuple = (1, 2, 4, 4)):
        super().__init__()
        mults = tuple(int(m) for m in mults)
        if not mults or int(width) < 1 or min(mults) < 1:
            raise ValueError(f"need width >= 1 and at least one positive multiplier, got {width}, {mults}")
        self.config = dict(in_channels=int(in_channels), width=int(width), mults=list(mults))
        widths = [int(width) * m for m in mults]
        self.down = nn.ModuleList()
        c = int(in_channels)
        for w in widths:
            self.down.append(_block(c, w))
            c = w
        self.up = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(_block(c + w, w))
            c = w
        self.out = nn.Conv2d(c, 1, 1)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.config["mults"]) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        f = self.factor
        ph, pw = (-H) % f, (-W) % f
        if ph or pw:
            mode = "reflect" if ph < H and pw < W else "replicate"
            x = nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for block in self.up:
            skip = skips.pop()
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.out(x)[..., :H, :W]


class FeatureSegHead(nn.Module):
    """Segmentation head over feature maps: a 1 x 1 projection of ``in_channels`` to ``proj``
    channels (a wide feature stack made compact before any 3 x 3 convolution) and a small
    ``SegNet`` on the result; ``(B, in_channels, g, g)`` -> logits ``(B, 1, g, g)``.

    Example
    -------
    >>> FeatureSegHead(in_channels=12, proj=8, width=8, mults=(1, 2))(torch.zeros(2, 12, 7, 7)).shape
    torch.Size([2, 1, 7, 7])
    """

    def __init__(self, in_channels: int, proj: int = 32, width: int = 32, mults: tuple = (1, 2)):
        super().__init__()
        self.config = dict(in_channels=int(in_channels), proj=int(proj), width=int(width), mults=[int(m) for m in mults])
        g = max(d for d in range(1, 9) if int(proj) % d == 0)
        self.proj = nn.Sequential(nn.Conv2d(int(in_channels), int(proj), 1), nn.GroupNorm(g, int(proj)), nn.SiLU())
        self.seg = SegNet(int(proj), int(width), tuple(mults))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seg(self.proj(x))


def seg_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (``gamma``) plus soft Dice over the batch."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    pt = p * target + (1 - p) * (1 - target)
    focal = ((1 - pt) ** gamma * bce).mean()
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return focal + dice
