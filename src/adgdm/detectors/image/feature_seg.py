"""``image-feat-seg``: the detection-generation cycle in the feature space (DiffusionAD / DRAEM
style). ``image-feat``'s diffusion model of the standardised feature maps is fitted as usual;
then synthetic defects (``synthesize_defect``) are pasted into training images in pixel space,
their feature maps are reconstructed by the diffusion model from partial noise (a DDIM pass from
``head_level`` of the chain, one step = the x0 estimate) and a small segmentation head learns,
from ``[features, reconstruction, |features - reconstruction|]``, where the pasted defect is (the
mask averaged onto the feature grid is the target). The anomaly map is the head's defect
probability, or with ``fusion`` > 0 a weighted sum of the head's and the diffusion score's
z-scores (both standardised on the held-out normal images).

Defaults (``head_level=0.1``, ``fusion=0.5``) were chosen without test labels by
``benchmarks/image_feat_seg_select.py``: synthetic defects of kinds the head never trained on, in
held-out MT_Free training images (224 px). There the head alone scored below ``image-feat`` alone
(objective 71.1 vs 73.9) and the equal-weight fusion above both (77.3). The shipped head trains on
every kind in ``SYNTH_DEFECTS`` (``line`` included; the selection held it out).
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch.nn import functional as F

from ..._params import store_params
from ..._torch import seeded
from ...diffusion import TrainConfig, load_net_arrays, net_arrays, reverse, train
from ...nets.segnet import FeatureSegHead, seg_loss
from .feature import FeatureDiffusion
from .seg import SYNTH_DEFECTS, synthesize_defect

__all__ = ["FeatureSegDiffusion"]


class FeatureSegDiffusion(FeatureDiffusion):
    """``image-feat-seg``: a segmentation head over features and their diffusion reconstruction,
    trained on synthetic defects; a second detector beside ``image-feat``'s noise error.

    Parameters (besides ``image-feat``'s, which fit the diffusion model)
    ----------
    head_images : synthetic training pairs (each a training image, ``defect_fraction`` of them
        with one defect of a kind drawn uniformly from ``defects``).
    head_level : the reconstruction's starting noise level (fraction of the chain, <= ``max_level``);
        ``head_recon_steps`` DDIM steps from there (1 = the one-step x0 estimate).
    head_proj, head_width : the head (1 x 1 projection to ``head_proj`` channels, then a two-level
        ``SegNet`` of ``head_width``).
    head_steps, head_batch, head_lr : head training (Adam, cosine decay, focal + Dice loss).
    fusion : weight of the diffusion z-score in the map (0 = the head's probability alone, 1 = the
        noise error alone, ranked as ``image-feat``'s).

    Example
    -------
    >>> rng = np.random.default_rng(0)                                                 # doctest: +SKIP
    >>> det = FeatureSegDiffusion(size=64, max_steps=50, head_images=32, head_steps=50,
    ...                           random_state=0).fit(rng.random((8, 64, 64)))          # doctest: +SKIP
    >>> det.anomaly_map(rng.random((2, 64, 64))).shape                                  # doctest: +SKIP
    (2, 64, 64)
    """

    name = "image-feat-seg"

    def __init__(self, size: int = 224, layers=("stride8", "stride16"), pool: int = 3, width: int = 64,
                 depth: int = 2, kernel: int = 1, pos_freqs: int = 4, max_steps: int = 400, train_batch: int = 8,
                 lr: float = 1e-3, max_level: float = 0.5, scoring: str = "noise", noise_levels=(0.2, 0.3, 0.4),
                 n_repeats: int = 1, recon_steps: int = 5, location_norm: bool = True, schedule: str = "linear",
                 n_steps: int = 1000, head_images: int = 320, defects=SYNTH_DEFECTS, defect_fraction: float = 0.75,
                 head_level: float = 0.1, head_recon_steps: int = 1, head_proj: int = 32, head_width: int = 32,
                 head_steps: int = 600, head_batch: int = 16, head_lr: float = 2e-3, fusion: float = 0.5,
                 smooth_sigma: float = 4.0, top_k=0.01, calibration_fraction: float = 0.1,
                 max_calibration_images: int = 100, contamination: float = 0.1, batch_size: int = 32,
                 verbose: bool = False, random_state=None):
        store_params(self, locals())

    # --- checks ---------------------------------------------------------------------------------
    def _kinds(self) -> tuple:
        return (self.defects,) if isinstance(self.defects, str) else tuple(self.defects)

    def _check_own_params(self) -> None:
        super()._check_own_params()
        kinds = self._kinds()
        if not kinds or any(k not in SYNTH_DEFECTS for k in kinds):
            raise ValueError(f"defects must be a non-empty subset of {SYNTH_DEFECTS}, got {self.defects!r}")
        if not 0.0 < float(self.defect_fraction) <= 1.0:
            raise ValueError(f"defect_fraction must lie in (0, 1], got {self.defect_fraction}")
        if not 0.0 < float(self.head_level) <= float(self.max_level):
            raise ValueError(f"head_level must lie in (0, max_level={self.max_level}], got {self.head_level}")
        if not 0.0 <= float(self.fusion) <= 1.0:
            raise ValueError(f"fusion must lie in [0, 1], got {self.fusion}")
        if not float(self.head_lr) > 0:
            raise ValueError(f"head_lr must be > 0, got {self.head_lr}")
        for name in ("head_images", "head_recon_steps", "head_proj", "head_width", "head_steps", "head_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    # --- the head's input -----------------------------------------------------------------------
    def _reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Diffusion reconstruction of standardised maps from ``head_level``; one fixed noise draw
        shared by every image, so a map's input to the head does not depend on its batch."""
        t = self.schedule_.t_from_fraction(float(self.head_level))
        gen = torch.Generator().manual_seed(self.seed_ + 3)
        noise = torch.randn((1,) + tuple(x.shape[1:]), generator=gen).expand_as(x)
        x_t = self.schedule_.add_noise(x, noise, torch.full((len(x),), t, dtype=torch.long))
        with torch.no_grad():  # not inference_mode: the result is the head's training data
            return reverse(self.net_, self.schedule_, x_t, t, int(self.head_recon_steps))

    @staticmethod
    def _head_input(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, r, (x - r).abs()], dim=1)

    def _head_logits(self, feats: torch.Tensor) -> torch.Tensor:
        x = self._standardise(feats)
        with torch.inference_mode():
            return self.head_(self._head_input(x, self._reconstruct(x)))[:, 0]

    # --- fit ------------------------------------------------------------------------------------
    def _fit_features(self, feats: torch.Tensor, rng: np.random.Generator) -> None:
        super()._fit_features(feats, rng)
        pixels = getattr(self, "_train_pixels", None)
        if pixels is None:
            raise RuntimeError(f"{self.name} makes its training pairs from the training images: fit it with fit()")
        self._fit_head(pixels, rng)

    def synthetic_pairs(self, imgs: np.ndarray, rng: np.random.Generator):
        """``head_images`` training pairs from normal images ``(N, H, W, C)``: images with a
        synthetic defect (``defect_fraction`` of them) and their masks ``(n, H, W)``."""
        kinds = self._kinds()
        n = int(self.head_images)
        out = np.empty((n,) + imgs.shape[1:], np.float32)
        masks = np.zeros((n,) + imgs.shape[1:3], np.uint8)
        for i in range(n):
            x = imgs[int(rng.integers(len(imgs)))]
            if rng.random() < 0.5:
                x = x[:, ::-1]
            x = np.ascontiguousarray(x, dtype=np.float32)
            if rng.random() < float(self.defect_fraction):
                kind = kinds[int(rng.integers(len(kinds)))]
                others = imgs[rng.integers(len(imgs), size=1)] if kind == "paste" else None
                for _ in range(5):  # a defect can vanish (an empty Perlin mask): draw again
                    y, m = synthesize_defect(x, kind, rng, others)
                    if m.any():
                        x, masks[i] = y, m
                        break
            out[i] = x
        return out, masks

    def _fit_head(self, imgs: np.ndarray, rng: np.random.Generator) -> None:
        t0 = time.perf_counter()
        pair_imgs, masks = self.synthetic_pairs(imgs, rng)
        x = torch.cat([self._standardise(self._features(pair_imgs[i:i + 64])) for i in range(0, len(pair_imgs), 64)])
        r = torch.cat([self._reconstruct(x[i:i + 64]) for i in range(0, len(x), 64)])
        # the mask's share of each feature cell: a soft target on the feature grid
        target = F.interpolate(torch.from_numpy(masks.astype(np.float32))[:, None], size=tuple(x.shape[2:]),
                               mode="area")
        self._log(f"{len(x)} synthetic pairs ({int((masks.reshape(len(masks), -1).max(1) > 0).sum())} with a defect) "
                  f"in {time.perf_counter() - t0:.1f} s")
        with seeded(self.seed_ + 4):
            head = FeatureSegHead(3 * x.shape[1], int(self.head_proj), int(self.head_width), (1, 2))

        def loss(net, batch, gen):
            xb, rb, tb = batch
            return seg_loss(net(self._head_input(xb, rb)), tb)

        config = TrainConfig(epochs=10**6, max_steps=int(self.head_steps), batch_size=int(self.head_batch),
                             lr=float(self.head_lr), lr_schedule="cosine", eval_every=50, grad_clip=1.0)
        t0 = time.perf_counter()
        self.head_, result = train(head, [x, r, target], loss, config, seed=self.seed_ + 5,
                                   progress=bool(self.verbose), desc=f"{self.name} head", lines=True)
        self.head_.eval()
        self.head_losses_ = list(result.train_losses)
        self._log(f"head trained {result.steps} steps in {time.perf_counter() - t0:.1f} s, "
                  f"final loss {self.head_losses_[-1]:.4f}")

    def _calibrate_locations(self, cal_feats: torch.Tensor) -> None:
        super()._calibrate_locations(cal_feats)
        # scalar z-scales for the fused map, from the held-out normal images
        step = int(self.batch_size)
        h = torch.cat([self._head_logits(cal_feats[i:i + step]) for i in range(0, len(cal_feats), step)]).double()
        d = torch.cat([super(FeatureSegDiffusion, self)._location_scores(cal_feats[i:i + step])
                       for i in range(0, len(cal_feats), step)]).double()
        self.head_stats_ = [float(h.mean()), float(h.std()) + 1e-6]
        self.diff_stats_ = [float(d.mean()), float(d.std()) + 1e-6]

    # --- scores ---------------------------------------------------------------------------------
    def _location_scores(self, feats: torch.Tensor) -> torch.Tensor:
        logits = self._head_logits(feats).double()
        w = float(self.fusion)
        if w == 0.0 or not hasattr(self, "head_stats_"):
            return torch.sigmoid(logits)
        z_head = (logits - self.head_stats_[0]) / self.head_stats_[1]
        z_diff = (super()._location_scores(feats).double() - self.diff_stats_[0]) / self.diff_stats_[1]
        return (1.0 - w) * z_head + w * z_diff

    # --- persistence ----------------------------------------------------------------------------
    def _feature_state(self):
        meta, arrays = super()._feature_state()
        meta.update(head=self.head_.config, head_losses_=[float(v) for v in self.head_losses_],
                    head_stats_=self.head_stats_, diff_stats_=self.diff_stats_)
        arrays.update(net_arrays(self.head_, prefix="head."))
        return meta, arrays

    def _set_feature_state(self, meta, arrays):
        super()._set_feature_state(meta, arrays)
        if meta["head"]["in_channels"] != 3 * self.net_.config["channels"]:
            raise ValueError("the stored head's input channels do not match the feature channels")
        self.head_ = load_net_arrays(FeatureSegHead(**meta["head"]), arrays, prefix="head.")
        self.head_losses_ = [float(v) for v in meta.get("head_losses_", [])]
        self.head_stats_ = [float(v) for v in meta["head_stats_"]]
        self.diff_stats_ = [float(v) for v in meta["diff_stats_"]]
