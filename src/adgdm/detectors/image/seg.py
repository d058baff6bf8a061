"""``image-cycle``: the generation -> detection cycle for images. Synthetic defects are made on
the fly on the normal training images (DRAEM-style pastes, CutPaste scars, dark or bright spots,
thin lines and shaded Perlin regions of random contrast) and a small fully convolutional
segmentation network learns to find them; its per-pixel defect probability is the anomaly map.

The network sees the image and a per-image normalised copy (the image minus its local mean,
divided by a robust per-image spread), so slow illumination changes matter little. It trains on
random crops (cheap; placed so that border pixels are covered as often as central ones) and runs
fully convolutionally on whole images.

Measured on the magnetic-tile set (``load_mtd(size=128, seed=0)``: 762 grey training images,
447 test images), defaults, ``random_state=0``, one CPU thread: fit 253 s of CPU time, image
AUROC 0.808, pixel AUROC 0.856, AUPRO 0.852 (Blowhole / Break / Crack pixel AUROC 0.992 /
0.855 / 0.966). Hairline cracks along the tile's own stripe texture and tiny corner chips are
what it misses at 128 px.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from ..._torch import resolve_device, seeded
from ...diffusion import TrainConfig, load_net_arrays, net_arrays, train
from ...generation.image_synth import cutpaste, perlin_mask, perlin_noise, perlin_paste
from ...nets.segnet import SegNet, seg_loss as _seg_loss
from ..._params import store_params
from .patch import PatchDiffusion

__all__ = ["SegNet", "ImageSegCycle", "SYNTH_DEFECTS", "synthesize_defect"]

SYNTH_DEFECTS = ("paste", "texture", "scar", "spot", "line", "shade", "edge")


# --------------------------------------------------------------------------------------------
# synthetic defects (numpy, one image at a time)
# --------------------------------------------------------------------------------------------
def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    m = mask.astype(np.float32)
    return np.clip(gaussian_filter(m, sigma), 0, 1) if sigma > 0 else m


def _spot_mask(h: int, w: int, gen: np.random.Generator) -> np.ndarray:
    """1-3 overlapping small ellipses (semi-axes log-uniform in 0.8 %-6 % of the side, at least
    1 px): pores, blowholes, dents."""
    side = min(h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    r_lo, r_hi = max(1.0, 0.008 * side), max(1.5, 0.06 * side)
    cy, cx = gen.uniform(0, h), gen.uniform(0, w)
    mask = np.zeros((h, w), bool)
    for _ in range(int(gen.integers(1, 4))):
        a, b = np.exp(gen.uniform(math.log(r_lo), math.log(r_hi), size=2))
        th = gen.uniform(0, np.pi)
        oy, ox = gen.normal(0, 0.5 * min(a, b), size=2)
        c, s = math.cos(th), math.sin(th)
        u = (xx - cx - ox) * c + (yy - cy - oy) * s
        v = -(xx - cx - ox) * s + (yy - cy - oy) * c
        mask |= (u / a) ** 2 + (v / b) ** 2 <= 1
    mask[min(h - 1, int(cy)), min(w - 1, int(cx))] = True
    return mask


def _line_mask(h: int, w: int, gen: np.random.Generator) -> np.ndarray:
    """A thin wandering polyline (cracks, scratches): 10-60 % of the side long, 1-3 px wide (at
    128 px, scaled with the side)."""
    side = min(h, w)
    k = int(gen.integers(3, 9))
    length = gen.uniform(0.1, 0.6) * side
    width = max(0.8, gen.uniform(0.8, 3.0) * side / 128)
    heading = gen.uniform(0, 2 * np.pi)
    pts = [np.array([gen.uniform(0, h), gen.uniform(0, w)])]
    for _ in range(k):
        heading += gen.normal(0, 0.5)
        pts.append(pts[-1] + length / k * np.array([math.sin(heading), math.cos(heading)]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.full((h, w), np.inf, np.float32)
    for p, q in zip(pts[:-1], pts[1:]):
        v = q - p
        t = np.clip(((yy - p[0]) * v[0] + (xx - p[1]) * v[1]) / max(float(v @ v), 1e-9), 0, 1)
        d = np.minimum(d, np.hypot(yy - p[0] - t * v[0], xx - p[1] - t * v[1]))
    mask = d <= width / 2
    if not mask.any():
        y, x = np.clip(pts[0].astype(int), 0, [h - 1, w - 1])
        mask[y, x] = True
    return mask


def _spread(x: np.ndarray, sigma: float) -> float:
    """Robust spread (1.4826 MAD) of the image minus its Gaussian local mean: the scale of its
    normal texture."""
    g = x.mean(axis=2)
    hp = g - gaussian_filter(g, sigma, mode="reflect")
    return float(1.4826 * np.median(np.abs(hp - np.median(hp))) + 1e-3)


def _edge_mask(h: int, w: int, gen: np.random.Generator) -> np.ndarray:
    """An irregular region anchored on a random image border (chipped edges, broken corners):
    an ellipse centred on the border with semi-axes of 5-30 % of the side, its outline perturbed
    by Perlin noise."""
    side = min(h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    border = int(gen.integers(4))
    t = gen.uniform(0, 1)
    cy, cx = [(0.0, t * w), (h - 1.0, t * w), (t * h, 0.0), (t * h, w - 1.0)][border]
    a, b = gen.uniform(0.05, 0.3, size=2) * side
    th = gen.uniform(0, np.pi)
    c, s = math.cos(th), math.sin(th)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    wobble = 0.5 * perlin_noise((h, w), int(gen.integers(2, 9)), gen)
    mask = (u / a) ** 2 + (v / b) ** 2 <= 1 + wobble
    mask[min(h - 1, int(cy)), min(w - 1, int(cx))] = True
    return mask


def _shade(x: np.ndarray, mask: np.ndarray, gen: np.random.Generator, spread: float, dark: float = 0.75,
           z: tuple = (3.0, 12.0)) -> np.ndarray:
    """Darken (probability ``dark``) or brighten ``x`` inside a softened ``mask`` by ``z * spread``
    with ``z`` log-uniform in ``z``: a defect stands out from the image's own texture by 3 to 12
    times its robust spread (fainter changes would be labelled defects while looking like normal
    texture). A little grain inside keeps it from being perfectly flat."""
    h, w = mask.shape
    m = _soft(mask, gen.uniform(0.3, 1.0))[..., None]
    delta = np.float32(spread * math.exp(gen.uniform(math.log(z[0]), math.log(z[1]))))
    grain = 1 + np.float32(0.1) * gen.standard_normal((h, w, 1)).astype(np.float32)
    sign = -1 if gen.random() < dark else 1
    return np.clip(x + sign * delta * m * grain, 0, 1)


def synthesize_defect(x: np.ndarray, kind: str, gen: np.random.Generator, others: np.ndarray | None = None,
                      sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic defect of ``kind`` (one of ``SYNTH_DEFECTS``) on one image ``(H, W, C)`` in
    [0, 1]; returns ``(image float32, mask uint8 (H, W))``.

    * ``paste``: a Perlin-shaped region of another normal image from ``others`` (random flip and
      90-degree rotation) blended in with weight U(0.3, 1) (DRAEM with in-domain textures);
    * ``texture``: the same with a smooth Perlin noise texture;
    * ``scar``: a CutPaste scar (thin rotated strip of the same image, jittered);
    * ``spot``: small dark or bright ellipses; ``line``: a thin dark or bright polyline;
      ``shade``: a Perlin region darkened or brightened by 3-12 times the robust spread of the
      image's texture (the image minus its Gaussian local mean of ``sigma``, default side / 16);
      ``edge``: the same on an irregular region anchored on an image border (chips, breaks).

    Example
    -------
    >>> x = np.full((32, 32, 1), 0.5, np.float32)
    >>> y, m = synthesize_defect(x, "spot", np.random.default_rng(0))
    >>> bool((y[m == 0] == 0.5).mean() > 0.9), bool(m.any())
    (True, True)
    """
    h, w, c = x.shape
    if kind == "paste" and others is not None and len(others):
        src = others[gen.integers(len(others))]
        if gen.random() < 0.5:
            src = src[:, ::-1]
        if gen.random() < 0.5:
            src = src[::-1]
        if h == w:
            src = np.rot90(src, int(gen.integers(4)))
        src = np.roll(src, (int(gen.integers(h)), int(gen.integers(w))), axis=(0, 1))
        out, m = perlin_paste(x[None], gen, source=np.ascontiguousarray(src)[None], beta=(0.3, 1.0))
        return out[0], m[0]
    if kind in ("paste", "texture"):
        out, m = perlin_paste(x[None], gen, beta=(0.3, 1.0))
        return out[0], m[0]
    if kind == "scar":
        out, m = cutpaste(x[None], gen, scar=True, jitter=0.3)
        return out[0], m[0]
    if kind == "spot":
        mask = _spot_mask(h, w, gen)
    elif kind == "line":
        mask = _line_mask(h, w, gen)
    elif kind == "edge":
        mask = _edge_mask(h, w, gen)
    elif kind == "shade":
        mask = perlin_mask((h, w), gen, threshold=float(gen.uniform(0.3, 0.6)), min_area=0.002, max_area=0.15)
    else:
        raise ValueError(f"unknown synthetic defect {kind!r}; choose from {', '.join(SYNTH_DEFECTS)}")
    spread = _spread(x, max(1.0, min(h, w) / 16) if sigma is None else float(sigma))
    return _shade(x, mask, gen, spread).astype(np.float32), mask.astype(np.uint8)


# --------------------------------------------------------------------------------------------
# detector
# --------------------------------------------------------------------------------------------
def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    return k / k.sum()


class ImageSegCycle(PatchDiffusion):
    """Segmentation head trained on normal images with synthetic defects; the map is its
    per-pixel defect probability.

    Parameters
    ----------
    size, crop, channels : preprocessing (``to_float_images``) as in ``image-patch``. Maps
        come back at the input's resolution.
    width, mults : the ``SegNet`` (channels ``width * m`` per level).
    max_steps, batch_size, train_crop, lr : training: Adam with a cosine decay over ``max_steps``
        steps of ``batch_size`` random ``train_crop``-pixel crops.
    defect_fraction : share of training crops that carry a synthetic defect.
    defects : the synthetic defect kinds drawn (uniformly), a subset of ``SYNTH_DEFECTS``.
    norm_sigma : Gaussian sigma (pixels of the working size) of the local mean removed in the
        normalised input channel; ``"auto"`` = side / 16.
    top_k : the image score is the mean of this top fraction of its map.
    smooth_sigma : Gaussian smoothing of the map (pixels of the working size); ``"auto"`` = side
        / 64 (2 px at 128 px, the usual 4 px at 256 px).
    calibration_fraction, max_calibration_images : training images held out of training; their
        scores are ``decision_scores_`` and set ``threshold_`` (the ``1 - contamination``
        quantile).
    device : torch device (``"auto"``: CUDA if present).

    Attributes
    ----------
    net_ : the trained ``SegNet``; image_shape_ : ``(H, W, C)`` after preprocessing;
    decision_scores_, labels_, threshold_ : scores and labels of the held-out normal images and
    the threshold they set; train_losses_ : mean loss per 50 steps; fit_seconds_ : training time.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = np.clip(0.5 + 0.05 * rng.normal(size=(16, 32, 32)), 0, 1)
    >>> test = np.clip(0.5 + 0.05 * rng.normal(size=(2, 32, 32)), 0, 1); test[1, 10:14, 10:14] = 0.05
    >>> det = ImageSegCycle(max_steps=60, batch_size=8, train_crop=32, random_state=0).fit(train)
    >>> m = det.anomaly_map(test)
    >>> m.shape
    (2, 32, 32)
    """

    name = "image-cycle"
    modality = "image"
    _min_calibration = 1  # held-out images at least (when there are twice as many)

    def __init__(self, size=None, crop=None, channels=None, width: int = 16, mults: tuple = (1, 2, 4, 4),
                 max_steps: int = 1500, batch_size: int = 8, train_crop: int = 64, lr: float = 2e-3,
                 defect_fraction: float = 0.6, defects: tuple = SYNTH_DEFECTS, norm_sigma="auto",
                 top_k: float = 0.002, smooth_sigma="auto", contamination: float = 0.1,
                 calibration_fraction: float = 0.1, max_calibration_images: int = 100, score_batch_size: int = 32,
                 device: str = "cpu", verbose: bool = False, random_state=None):
        store_params(self, locals())

    # --- checks ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not 0.0 < float(self.top_k) <= 1.0:
            raise ValueError(f"top_k must be a fraction in (0, 1], got {self.top_k}")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if not 0.0 <= float(self.defect_fraction) <= 1.0:
            raise ValueError(f"defect_fraction must lie in [0, 1], got {self.defect_fraction}")
        if not 0.0 < float(self.calibration_fraction) < 1.0:
            raise ValueError(f"calibration_fraction must lie in (0, 1), got {self.calibration_fraction}")
        kinds = (self.defects,) if isinstance(self.defects, str) else tuple(self.defects)
        bad = [k for k in kinds if k not in SYNTH_DEFECTS]
        if not kinds or bad:
            raise ValueError(f"defects must be a non-empty subset of {SYNTH_DEFECTS}, got {self.defects!r}")
        for name in ("smooth_sigma", "norm_sigma"):
            v = getattr(self, name)
            if not (v == "auto" or (isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0)):
                raise ValueError(f"{name} must be 'auto' or a number >= 0, got {v!r}")
        if self.norm_sigma != "auto" and float(self.norm_sigma) == 0:
            raise ValueError("norm_sigma must be > 0")
        for name in ("max_steps", "batch_size", "train_crop", "width", "score_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def _prep(self, X) -> np.ndarray:
        if isinstance(X, (list, tuple)) and len(X) and all(hasattr(a, "shape") for a in X):
            shapes = {tuple(np.shape(a)) for a in X}
            if len(shapes) > 1:
                raise ValueError(f"images differ in size ({', '.join(map(str, sorted(shapes)[:3]))}, ...); resize "
                                 "them to one size first, or stack them after to_float_images(..., size=)")
        return super()._prep(X)

    # --- features -------------------------------------------------------------------------------
    def _sigma(self, side: int) -> float:
        return max(1.0, side / 16) if self.norm_sigma == "auto" else float(self.norm_sigma)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] -> ``(B, 2C, H, W)``: ``2x - 1`` and the local-mean-removed
        copy divided by its robust per-image spread."""
        k = self.kernel_.to(x.device)
        r = len(k) // 2
        C = x.shape[1]
        pad = lambda t, p: nn.functional.pad(t, p, mode="reflect" if min(t.shape[-2:]) > r else "replicate")
        blur = nn.functional.conv2d(pad(x, (r, r, 0, 0)), k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
        blur = nn.functional.conv2d(pad(blur, (0, 0, r, r)), k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)
        hp = x - blur
        flat = hp.flatten(2)
        if flat.shape[-1] > 16384:  # the spread from a fixed pixel subset: same value for any batch
            flat = flat[..., :: int(math.ceil(flat.shape[-1] / 16384))]
        med = flat.median(dim=-1, keepdim=True).values
        mad = (flat - med).abs().median(dim=-1).values[..., None, None]
        z = (hp / (1.4826 * mad + 1e-3)).clamp(-10, 10)
        return torch.cat([2 * x - 1, z / 3], dim=1)

    # --- fit ------------------------------------------------------------------------------------
    def _calibration_split(self, data):
        """A random ``calibration_fraction`` of the training images held out of training (at least
        ``min(_min_calibration, N // 2)``, at most ``max_calibration_images``)."""
        split = self._random_held_out(data, at_least=self._min_calibration, leave_one=False)
        self.device_ = resolve_device(self.device)
        return split

    def _fit(self, train, held_out):
        """Train the segmentation head on ``train``; the held-out images calibrate."""
        rng = self.__dict__.pop("_fit_rng")
        H, W, C = train.shape[1:]
        self.sigma_ = self._sigma(min(H, W))
        self.kernel_ = _gauss_kernel(self.sigma_)
        with seeded(self.seed_):
            self.net_ = SegNet(2 * C, int(self.width), tuple(self.mults)).to(self.device_)
        t0 = time.perf_counter()
        self.train_losses_ = self._train(train, rng)
        self.fit_seconds_ = time.perf_counter() - t0
        return self._calibrate(train, held_out)

    def _batch(self, imgs: np.ndarray, rng: np.random.Generator, kinds: tuple):
        """One training batch: ``(features (B, 2C, S, S), masks (B, 1, S, S))`` of random crops,
        ``defect_fraction`` of them with a synthetic defect made on the whole image."""
        N, H, W, C = imgs.shape
        B = int(self.batch_size)
        Sh, Sw = min(int(self.train_crop), H), min(int(self.train_crop), W)
        full, masks = np.empty((B, H, W, C), np.float32), np.zeros((B, H, W), np.uint8)
        for b in range(B):
            i = int(rng.integers(N))
            x = imgs[i]
            if rng.random() < 0.5:
                x = x[:, ::-1]
            if rng.random() < float(self.defect_fraction):
                kind = kinds[int(rng.integers(len(kinds)))]
                others = imgs[rng.integers(N, size=1)] if kind == "paste" else None
                x, masks[b] = synthesize_defect(np.ascontiguousarray(x), kind, rng, others, self.sigma_)
            full[b] = x
        feats = self._features(torch.from_numpy(full.transpose(0, 3, 1, 2)).to(self.device_))
        out_f = torch.empty((B, feats.shape[1], Sh, Sw), device=self.device_)
        out_m = torch.empty((B, 1, Sh, Sw))
        for b in range(B):
            ys, xs = np.nonzero(masks[b])
            if len(ys):  # the crop holds a random pixel of the defect
                j = int(rng.integers(len(ys)))
                top = int(rng.integers(max(0, ys[j] - Sh + 1), min(ys[j], H - Sh) + 1))
                left = int(rng.integers(max(0, xs[j] - Sw + 1), min(xs[j], W - Sw) + 1))
            else:  # uniform over every crop that meets the image, clamped: each pixel, borders
                # included, is covered equally often (plain uniform tops rarely cover the borders)
                top = min(max(int(rng.integers(-Sh + 1, H)), 0), H - Sh)
                left = min(max(int(rng.integers(-Sw + 1, W)), 0), W - Sw)
            out_f[b] = feats[b, :, top:top + Sh, left:left + Sw]
            out_m[b, 0] = torch.from_numpy(masks[b, top:top + Sh, left:left + Sw].astype(np.float32))
        return out_f, out_m.to(self.device_)

    def _train(self, imgs: np.ndarray, rng: np.random.Generator) -> list[float]:
        kinds = (self.defects,) if isinstance(self.defects, str) else tuple(self.defects)
        steps = int(self.max_steps)
        # the loss draws its own batch (numpy ``rng``: crops and synthetic defects); train() adds
        # Adam, cosine decay, clipping at 1 and the mean loss per 50 steps
        def loss(net, batch, gen):
            feats, target = self._batch(imgs, rng, kinds)
            return _seg_loss(net(feats), target)

        config = TrainConfig(max_steps=steps, lr=float(self.lr), eval_every=50, lr_schedule="cosine", grad_clip=1.0)
        with seeded(self.seed_ + 1):
            self.net_, result = train(self.net_, None, loss, config, seed=self.seed_ + 1, device=self.device_,
                                      progress=bool(self.verbose), desc=self.name, lines=True)
        return result.train_losses

    def _calibrate(self, train: np.ndarray, held_out: np.ndarray) -> np.ndarray:
        """Scores of the held-out normal images (they set ``threshold_``)."""
        return self._image_scores(self._maps(held_out))

    # --- scoring --------------------------------------------------------------------------------
    def _maps(self, imgs: np.ndarray, groups=None) -> np.ndarray:
        """Defect probability maps ``(N, H, W)`` at the working size, smoothed by ``smooth_sigma``."""
        out = np.empty(imgs.shape[:3])
        self.net_.eval()
        with torch.no_grad():
            for i in range(0, len(imgs), int(self.score_batch_size)):
                x = torch.from_numpy(np.ascontiguousarray(imgs[i:i + int(self.score_batch_size)].transpose(0, 3, 1, 2)))
                p = torch.sigmoid(self.net_(self._features(x.to(self.device_))))[:, 0]
                out[i:i + len(x)] = p.double().cpu().numpy()
        sigma = min(imgs.shape[1:3]) / 64 if self.smooth_sigma == "auto" else float(self.smooth_sigma)
        if sigma > 0:
            out = gaussian_filter(out, sigma=(0, sigma, sigma))
        return out

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        meta = {"seed_": self.seed_, "sigma_": self.sigma_, "net": self.net_.config,
                "train_losses_": [float(v) for v in self.train_losses_]}
        arrays = net_arrays(self.net_)
        return meta, arrays

    def _set_state(self, f: dict, arrays: dict) -> None:
        self.seed_ = int(f["seed_"])
        self.sigma_ = float(f["sigma_"])
        self.kernel_ = _gauss_kernel(self.sigma_)
        self.train_losses_ = [float(v) for v in f.get("train_losses_", [])]
        self.device_ = resolve_device(self.device)
        self.net_ = load_net_arrays(SegNet(**f["net"]), arrays, self.device_)
        if self.net_.config["in_channels"] != 2 * self.image_shape_[2]:
            raise ValueError("network input channels do not match the image channels")
