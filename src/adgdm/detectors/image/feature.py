"""Image detectors in the feature space of a frozen, ImageNet-pretrained EfficientNet-Lite0
(:class:`adgdm.nets.FeatureExtractor`: stride-8 and stride-16 stage outputs, 152 channels, 3 x 3
averaged, ``size / 8`` locations a side). Three detectors share the features and the map pipeline
(per-location scores -> bilinear upsampling to ``size`` -> Gaussian smoothing -> the input's size):

* ``image-feat`` (learned): a diffusion model of the standardised feature maps (``MapDenoiser``:
  a per-location residual MLP conditioned on the timestep and, through fixed Fourier features, on
  the location) trained with the core's ``train`` and ``noise_loss``; a location scores by its
  noise-prediction error at a few fixed noise levels with fixed noise (``scoring="noise"``) or by its
  reconstruction error after a DDIM pass from partial noise (``scoring="recon"``);
* ``image-patchcore`` (non-parametric baseline): PatchCore, a greedy coreset of the training
  locations and the distance to the nearest coreset vector;
* ``image-feat-ideal`` (non-parametric): the ideal denoiser (``EmpiricalDenoiser``) of the
  standardised coreset vectors; a location scores by its posterior-mean residual.

The backbone is not stored in a saved model: the file names it and its weights' SHA-256, and
loading refuses a model whose checksum is not the installed backbone's.
"""
from __future__ import annotations

import functools
import time

import numpy as np
import torch
from torch.nn import functional as F

from ..._params import RENAMED, store_params
from ..._torch import seeded
from ...data.images import to_float_images
from ...diffusion import NoiseSchedule, TrainConfig, net_state, noise_loss, restore_net, train
from ...nets.efficientnet import BACKBONE, FeatureExtractor, backbone_meta, check_backbone_meta, load_efficientnet_lite0
from ...nets.mapnet import MapDenoiser
from ...scores import EmpiricalDenoiser, noise_error_residual, reconstruction_residual
from .base import ImageBase
from .patch import top_k_mean

__all__ = ["FeatureDiffusion", "PatchCore", "FeatureIdeal", "greedy_coreset", "BACKBONE"]


@functools.lru_cache(maxsize=1)
def _backbone():
    """The frozen backbone, loaded (and checksum-verified) once per process."""
    return load_efficientnet_lite0()


def greedy_coreset(rows: torch.Tensor, m: int, proj_dim: int | None = 64, seed: int = 0) -> np.ndarray:
    """Indices of ``m`` rows chosen by greedy k-center selection (PatchCore's coreset): start from a
    random row, then repeatedly add the row farthest from those chosen. Distances are taken after a
    Gaussian random projection to ``proj_dim`` dimensions (None or >= d: none), for speed.

    Example
    -------
    >>> x = torch.cat([torch.zeros(50, 2), torch.ones(3, 2) * 10])
    >>> sorted(greedy_coreset(x, 2, seed=0).tolist())[-1] >= 50
    True
    """
    n, d = rows.shape
    m = int(min(max(1, m), n))
    gen = torch.Generator().manual_seed(int(seed))
    z = rows.float()
    if proj_dim is not None and int(proj_dim) < d:
        z = z @ (torch.randn(d, int(proj_dim), generator=gen) / float(np.sqrt(int(proj_dim))))
    sq = (z * z).sum(1)
    i = int(torch.randint(n, (1,), generator=gen))
    chosen = [i]
    mind = torch.full((n,), float("inf"))
    for _ in range(m - 1):
        torch.minimum(mind, (sq + sq[i] - 2.0 * (z @ z[i])).clamp_(min=0.0), out=mind)
        i = int(torch.argmax(mind))
        chosen.append(i)
    return np.asarray(chosen, dtype=np.int64)


class _FeatureBase(ImageBase):
    """What the three feature-space detectors share: preprocessing, the frozen extractor, the
    calibration hold-out, the map pipeline and the backbone reference in saved models. Subclasses
    implement ``_fit_features(feats, rng)`` (training locations ``(N, D, g, g)``),
    ``_location_scores(feats) -> (B, g, g)`` and ``_feature_state`` / ``_set_feature_state``."""

    # --- checks ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 32:
            raise ValueError(f"size must be an integer >= 32 (the backbone's input side), got {self.size!r}")
        if self.top_k is not None and not 0.0 < float(self.top_k) <= 1.0:
            raise ValueError(f"top_k must be None (the map's maximum) or a fraction in (0, 1], got {self.top_k}")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if not 0.0 < float(self.calibration_fraction) < 1.0:
            raise ValueError(f"calibration_fraction must lie in (0, 1), got {self.calibration_fraction}")
        if not float(self.smooth_sigma) >= 0:
            raise ValueError(f"smooth_sigma must be >= 0, got {self.smooth_sigma}")
        for name in ("batch_size", "max_calibration_images"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self._check_own_params()

    def _log(self, text: str) -> None:
        if self.verbose:
            print(f"[{self.name}] {text}", flush=True)

    # --- images and features --------------------------------------------------------------------
    def _extractor(self) -> FeatureExtractor:
        fx = getattr(self, "_fx", None)
        if fx is None:
            fx = self._fx = FeatureExtractor(layers=self.layers, pool=int(self.pool), size=int(self.size),
                                             batch_size=int(self.batch_size), net=_backbone())
        return fx

    def _prep(self, X) -> np.ndarray:
        return to_float_images(X)

    def _folder_options(self) -> dict:
        return {"size": int(self.size)}  # resized for the backbone as the files are read

    def _prep_input(self, X, fitting: bool):
        imgs = self._prep(X)
        return imgs, imgs.shape[1:3]

    def _check_images(self, imgs: np.ndarray) -> None:
        if imgs.shape[3] != int(self.image_shape_[2]):
            raise ValueError(f"images have {imgs.shape[3]} channel(s), the detector was fitted on "
                             f"{int(self.image_shape_[2])}")

    def _features(self, imgs: np.ndarray) -> torch.Tensor:
        """``(N, D, g, g)`` feature maps of ``(N, H, W, C)`` images."""
        return self._extractor()(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))

    # --- fit ------------------------------------------------------------------------------------
    def _calibration_split(self, data):
        """A random ``calibration_fraction`` of the training images (at most
        ``max_calibration_images``, at least 1) held out: they set ``threshold_``."""
        return self._random_held_out(data)

    def _fit(self, train, held_out):
        """Fit on the training images (any size: resized to ``size`` for the backbone); the
        held-out images' scores calibrate."""
        rng = self.__dict__.pop("_fit_rng")
        t0 = time.perf_counter()
        feats = torch.cat([self._features(train[i:i + 256]) for i in range(0, len(train), 256)])
        self._log(f"features of {len(train)} images: {tuple(feats.shape)} in {time.perf_counter() - t0:.1f} s")
        self._train_pixels = train  # for subclasses that make training pairs in pixel space
        try:
            scores = self._fit_features_scores(feats, self._features(held_out), rng)
        finally:
            del self._train_pixels
        self.fit_seconds_ = time.perf_counter() - t0
        self._log(f"fitted in {self.fit_seconds_:.1f} s")
        return scores

    def _fit_from_features(self, feats: torch.Tensor, cal_feats: torch.Tensor, rng: np.random.Generator) -> None:
        """Fit from precomputed feature maps (the selection benchmarks reuse one extraction): as
        ``fit`` on the images they come from."""
        self._finish_fit(self._fit_features_scores(feats, cal_feats, rng))

    def _fit_features_scores(self, feats: torch.Tensor, cal_feats: torch.Tensor, rng: np.random.Generator):
        """Fit on training feature maps; returns the held-out images' scores (they set ``threshold_``)."""
        self.grid_ = tuple(int(v) for v in feats.shape[2:])
        self._fit_features(feats, rng)
        self._calibrate_locations(cal_feats)
        return self._image_scores(self._maps_from_features(cal_feats))

    def _calibrate_locations(self, cal_feats: torch.Tensor) -> None:
        """Hook: per-location statistics from held-out normal images (none by default)."""

    def _check_own_params(self) -> None:
        pass

    # --- maps -----------------------------------------------------------------------------------
    def _maps(self, imgs: np.ndarray) -> np.ndarray:
        """Maps ``(N, size, size)``: per-location scores upsampled (bilinear) and smoothed."""
        step = int(self.batch_size)
        parts = []
        for i in range(0, len(imgs), step):
            parts.append(self._maps_from_features(self._features(imgs[i:i + step])))
            if self.verbose and (i // step) % 10 == 9:
                self._log(f"scored {i + len(parts[-1])}/{len(imgs)} images")
        return np.concatenate(parts)

    def _maps_from_features(self, feats: torch.Tensor) -> np.ndarray:
        """``(B, size, size)`` maps of feature maps ``(B, D, g, g)``."""
        from scipy.ndimage import gaussian_filter

        S = int(self.size)
        out = np.empty((len(feats), S, S), dtype=np.float32)
        for i in range(0, len(feats), int(self.batch_size)):
            with torch.inference_mode():
                loc = self._location_scores(feats[i:i + int(self.batch_size)]).float()
                out[i:i + len(loc)] = F.interpolate(loc[:, None], size=(S, S), mode="bilinear",
                                                    align_corners=False)[:, 0].numpy()
        if float(self.smooth_sigma) > 0:
            out = gaussian_filter(out, sigma=(0, float(self.smooth_sigma), float(self.smooth_sigma)))
        return out

    def _to_input(self, maps: np.ndarray, raw_shape) -> np.ndarray:
        if raw_shape is not None and tuple(raw_shape) != maps.shape[1:]:
            maps = F.interpolate(torch.from_numpy(np.ascontiguousarray(maps))[:, None], size=tuple(raw_shape),
                                 mode="bilinear", align_corners=False)[:, 0].numpy()
        return maps.astype(np.float64)

    def _image_scores(self, maps: np.ndarray) -> np.ndarray:
        if self.top_k is None:
            return maps.reshape(len(maps), -1).max(axis=1).astype(np.float64)
        return top_k_mean(maps, float(self.top_k)).astype(np.float64)

    # --- shared helpers -------------------------------------------------------------------------
    def _standardise_fit(self, feats: torch.Tensor) -> None:
        flat = feats.transpose(0, 1).reshape(feats.shape[1], -1)
        self.mean_ = flat.mean(dim=1).numpy().astype(np.float32)
        std = flat.std(dim=1).numpy().astype(np.float32)
        self.std_ = np.where(std > 1e-6, std, 1.0).astype(np.float32)

    def _standardise(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats - torch.from_numpy(self.mean_)[:, None, None]) / torch.from_numpy(self.std_)[:, None, None]

    @staticmethod
    def _rows(feats: torch.Tensor) -> torch.Tensor:
        """``(N, D, g, g)`` -> ``(N * g * g, D)`` location vectors."""
        return feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1])

    def _coreset(self, rows: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """PatchCore's memory bank: ``coreset_fraction`` of (at most ``max_locations`` randomly
        drawn) training location vectors, chosen greedily (k-center) after a random projection."""
        if len(rows) > int(self.max_locations):
            rows = rows[torch.from_numpy(np.sort(rng.choice(len(rows), int(self.max_locations), replace=False)))]
        m = max(2, int(round(float(self.coreset_fraction) * len(rows))))
        t0 = time.perf_counter()
        idx = greedy_coreset(rows, m, self.proj_dim, seed=int(rng.integers(2**31 - 1)))
        self._log(f"coreset of {len(idx)} / {len(rows)} locations in {time.perf_counter() - t0:.1f} s")
        return rows[torch.from_numpy(idx)].contiguous()

    def _check_coreset_params(self) -> None:
        if not 0.0 < float(self.coreset_fraction) <= 1.0:
            raise ValueError(f"coreset_fraction must lie in (0, 1], got {self.coreset_fraction}")
        if int(self.max_locations) < 2:
            raise ValueError(f"max_locations must be >= 2, got {self.max_locations}")
        if self.proj_dim is not None and int(self.proj_dim) < 1:
            raise ValueError(f"proj_dim must be None or >= 1, got {self.proj_dim}")

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self):
        meta = {**backbone_meta(), "seed_": int(self.seed_), "grid_": [int(g) for g in self.grid_]}
        own_meta, arrays = self._feature_state()
        meta.update(own_meta)
        return meta, arrays

    def _set_state(self, meta, arrays):
        check_backbone_meta(meta, self.name)
        self.seed_ = int(meta["seed_"])
        self.grid_ = tuple(int(g) for g in meta["grid_"])
        self._extractor()  # loads the installed weights and verifies their checksum now
        self._set_feature_state(meta, arrays)


class FeatureDiffusion(_FeatureBase):
    """``image-feat``: a learned diffusion model of pretrained patch features.

    Fit extracts the feature maps of the normal images, standardises each channel and trains a
    ``MapDenoiser`` (a per-location residual MLP, FiLM-conditioned on the timestep, with 2-D Fourier
    position features; ``kernel=3`` adds 3 x 3 context) on noise prediction (``noise_loss`` over
    timesteps up to ``max_level`` of the chain) with the core's ``train``. A location's score is
    its squared noise-prediction error summed over channels, averaged over ``noise_levels`` and
    ``n_repeats`` fixed noise draws (``scoring="noise"``), or its squared reconstruction error after
    ``recon_steps`` DDIM steps from each level (``scoring="recon"``); with ``location_norm`` each
    location's score is then taken relative to the same location's scores on the held-out normal
    images (mean and a spread shrunk halfway towards the median spread). The noise is drawn from a
    generator seeded by ``random_state`` and is the same for every image, so scores do not depend
    on the batch. Maps: upsampled (bilinear) to ``size``, smoothed by ``smooth_sigma`` pixels,
    returned at the input's size; the image score is the map's maximum (``top_k=None``) or the
    mean of its top ``top_k`` fraction.

    Parameters
    ----------
    size : backbone input side (images are resized to it); the maps' working size.
    layers, pool : the extractor's layers and local averaging.
    width, depth, kernel, pos_freqs : the ``MapDenoiser``.
    max_steps, train_batch, lr : training (Adam, cosine decay; ``train_batch`` feature maps a step).
    max_level : timesteps drawn in training, as a fraction of the chain (>= every scoring level).
    scoring, noise_levels, n_repeats, recon_steps : scoring (see above); levels are fractions of the
        ``schedule`` chain of ``n_steps``.
    calibration_fraction, max_calibration_images : training images held out; their scores set
        ``threshold_``.
    batch_size : images per extraction and scoring batch.

    Example
    -------
    >>> rng = np.random.default_rng(0)                                              # doctest: +SKIP
    >>> det = FeatureDiffusion(size=64, max_steps=50, random_state=0).fit(rng.random((8, 64, 64)))  # doctest: +SKIP
    >>> det.anomaly_map(rng.random((2, 64, 64))).shape                               # doctest: +SKIP
    (2, 64, 64)
    """

    name = "image-feat"
    _renamed_params = RENAMED  # ``score`` -> ``scoring`` (the old name hid ``score()`` from scikit-learn)

    def __init__(self, size: int = 224, layers=("stride8", "stride16"), pool: int = 3, width: int = 64,
                 depth: int = 2, kernel: int = 1, pos_freqs: int = 4, max_steps: int = 400, train_batch: int = 8,
                 lr: float = 1e-3, max_level: float = 0.5, scoring: str = "noise", noise_levels=(0.2, 0.3, 0.4),
                 n_repeats: int = 1, recon_steps: int = 5, location_norm: bool = True, schedule: str = "linear",
                 n_steps: int = 1000, smooth_sigma: float = 4.0, top_k=0.01, calibration_fraction: float = 0.1,
                 max_calibration_images: int = 100, contamination: float = 0.1, batch_size: int = 32,
                 verbose: bool = False, random_state=None):
        store_params(self, locals())

    def _levels(self) -> tuple:
        levels = (self.noise_levels,) if np.ndim(self.noise_levels) == 0 else tuple(self.noise_levels)
        return tuple(float(v) for v in levels)

    def _check_own_params(self) -> None:
        if self.scoring not in ("noise", "recon"):
            raise ValueError(f"scoring must be 'noise' or 'recon', got {self.scoring!r}")
        levels = self._levels()
        if not levels or any(not 0.0 < v <= 1.0 for v in levels):
            raise ValueError(f"noise_levels must be fractions in (0, 1], got {self.noise_levels}")
        if not 0.0 < float(self.max_level) <= 1.0 or max(levels) > float(self.max_level):
            raise ValueError(f"max_level must lie in (0, 1] and be >= every noise level, got {self.max_level}")
        for name in ("width", "depth", "max_steps", "train_batch", "n_repeats", "recon_steps", "n_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def _fit_features(self, feats: torch.Tensor, rng: np.random.Generator) -> None:
        self._standardise_fit(feats)
        x = self._standardise(feats)
        self.schedule_ = NoiseSchedule(self.schedule, int(self.n_steps))
        t_max = self.schedule_.t_from_fraction(float(self.max_level))
        with seeded(self.seed_):
            net = MapDenoiser(x.shape[1], int(self.width), int(self.depth), int(self.kernel), int(self.pos_freqs))
        sched = self.schedule_

        def loss(model, batch, gen):
            return noise_loss(model, sched, batch[0], gen, t_max=t_max)

        config = TrainConfig(epochs=10**6, max_steps=int(self.max_steps), batch_size=int(self.train_batch),
                             lr=float(self.lr), lr_schedule="cosine", eval_every=100)
        t0 = time.perf_counter()
        self.net_, result = train(net, [x], loss, config, seed=self.seed_ + 1, progress=bool(self.verbose),
                                  desc=self.name, lines=True)
        self.train_losses_ = list(result.train_losses)
        self._log(f"trained {result.steps} steps in {time.perf_counter() - t0:.1f} s, "
                  f"final loss {self.train_losses_[-1]:.4f}")

    def _calibrate_locations(self, cal_feats: torch.Tensor) -> None:
        # each location's own scale: the error a location of the held-out normal images gets
        # (border locations, seen with less context, err more everywhere)
        with torch.inference_mode():
            raw = torch.cat([self._raw_scores(cal_feats[i:i + int(self.batch_size)])
                             for i in range(0, len(cal_feats), int(self.batch_size))]).double()
        self.loc_mean_ = raw.mean(dim=0).numpy()
        sd = raw.std(dim=0).numpy() if len(raw) > 1 else np.zeros_like(self.loc_mean_)
        # few held-out images: a location's spread is shrunk towards the median spread
        self.loc_std_ = np.sqrt(0.5 * sd ** 2 + 0.5 * np.median(sd) ** 2) + 1e-6

    def _location_scores(self, feats: torch.Tensor) -> torch.Tensor:
        raw = self._raw_scores(feats)
        if not self.location_norm or not hasattr(self, "loc_mean_"):
            return raw
        return (raw.double() - torch.from_numpy(self.loc_mean_)) / torch.from_numpy(self.loc_std_)

    def _raw_scores(self, feats: torch.Tensor) -> torch.Tensor:
        x = self._standardise(feats)
        ts = [self.schedule_.t_from_fraction(v) for v in self._levels()]
        gen = torch.Generator().manual_seed(self.seed_ + 2)  # the same noise for every batch
        if self.scoring == "noise":
            r = noise_error_residual(self.net_, self.schedule_, x, ts, int(self.n_repeats), gen)
        else:
            r = reconstruction_residual(self.net_, self.schedule_, x, ts, steps=int(self.recon_steps),
                                        sampler="ddim", n_repeats=int(self.n_repeats), generator=gen)
        return r.sum(dim=1)

    def _feature_state(self):
        meta, arrays = net_state(self.net_, self.schedule_)
        meta["train_losses_"] = [float(v) for v in self.train_losses_]
        arrays.update(mean_=self.mean_, std_=self.std_, loc_mean_=self.loc_mean_, loc_std_=self.loc_std_)
        return meta, arrays

    def _set_feature_state(self, meta, arrays):
        self.net_, self.schedule_ = restore_net(meta, arrays, expect="MapDenoiser")
        self.train_losses_ = [float(v) for v in meta.get("train_losses_", [])]
        self.mean_ = np.asarray(arrays["mean_"], dtype=np.float32)
        self.std_ = np.asarray(arrays["std_"], dtype=np.float32)
        if self.mean_.shape != (self.net_.config["channels"],) or self.std_.shape != self.mean_.shape:
            raise ValueError("stored feature statistics do not match the network's channels")
        self.loc_mean_ = np.asarray(arrays["loc_mean_"], dtype=np.float64)
        self.loc_std_ = np.asarray(arrays["loc_std_"], dtype=np.float64)
        if self.loc_mean_.shape != self.grid_ or self.loc_std_.shape != self.grid_:
            raise ValueError(f"stored location statistics have shape {self.loc_mean_.shape}, the grid is {self.grid_}")


class PatchCore(_FeatureBase):
    """``image-patchcore``: PatchCore (Roth et al., 2022) on the same features, non-parametric.

    The memory bank is a greedy coreset (k-center, distances after a random projection to
    ``proj_dim``) of ``coreset_fraction`` of the training location vectors (at most
    ``max_locations`` of them, drawn at random first: the greedy selection's cost grows with both).
    A location scores by its Euclidean distance to the nearest bank vector (the mean over
    ``n_neighbors`` nearest when > 1); the map is upsampled, smoothed and its maximum is the image
    score (``top_k`` as ``image-feat``)."""

    name = "image-patchcore"

    def __init__(self, size: int = 224, layers=("stride8", "stride16"), pool: int = 3, coreset_fraction: float = 0.1,
                 max_locations: int = 100_000, proj_dim: int | None = 64, n_neighbors: int = 1,
                 smooth_sigma: float = 4.0, top_k=0.01, calibration_fraction: float = 0.1,
                 max_calibration_images: int = 100, contamination: float = 0.1, batch_size: int = 32,
                 verbose: bool = False, random_state=None):
        store_params(self, locals())

    def _check_own_params(self) -> None:
        self._check_coreset_params()
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {self.n_neighbors}")

    def _fit_features(self, feats: torch.Tensor, rng: np.random.Generator) -> None:
        self.bank_ = self._coreset(self._rows(feats), rng)
        self._bank_sq = (self.bank_ ** 2).sum(1)

    def _location_scores(self, feats: torch.Tensor) -> torch.Tensor:
        B, D, g1, g2 = feats.shape
        q = self._rows(feats)
        k = min(int(self.n_neighbors), len(self.bank_))
        out = torch.empty(len(q))
        for i in range(0, len(q), 8192):
            qi = q[i:i + 8192]
            d2 = torch.addmm((qi * qi).sum(1, keepdim=True) + self._bank_sq[None, :], qi, self.bank_.T, alpha=-2.0)
            d = torch.topk(d2, k, dim=1, largest=False).values.clamp_(min=0.0).sqrt_()
            out[i:i + len(qi)] = d.mean(dim=1)
        return out.reshape(B, g1, g2)

    def _feature_state(self):
        return {}, {"bank_": self.bank_.numpy()}

    def _set_feature_state(self, meta, arrays):
        bank = np.asarray(arrays["bank_"], dtype=np.float32)
        if bank.ndim != 2 or bank.shape[1] != self._extractor().dim:
            raise ValueError(f"stored memory bank has shape {bank.shape}, expected (n, {self._extractor().dim})")
        self.bank_ = torch.from_numpy(bank.copy())
        self._bank_sq = (self.bank_ ** 2).sum(1)


class FeatureIdeal(_FeatureBase):
    """``image-feat-ideal``: the ideal denoiser of the training features, non-parametric.

    The reference is the coreset (as ``image-patchcore``, chosen in the standardised feature
    space) of the standardised training location vectors; an ``EmpiricalDenoiser`` over it reads a
    test location as a noisy sample at ``noise_levels`` (fractions of a linear 1000-step chain)
    and the location's score is the squared posterior-mean residual ``||x - E[x_0 | x]||^2`` over
    its ``n_neighbors`` nearest reference vectors, averaged over the levels (``scoring="residual"``),
    or the denoiser's fused robust z-score of its evidence (``scoring="evidence"``). No training."""

    name = "image-feat-ideal"
    _renamed_params = RENAMED  # ``score`` -> ``scoring`` (the old name hid ``score()`` from scikit-learn)

    def __init__(self, size: int = 224, layers=("stride8", "stride16"), pool: int = 3, coreset_fraction: float = 0.1,
                 max_locations: int = 50_000, proj_dim: int | None = 64, noise_levels=(0.05, 0.1, 0.2),
                 n_neighbors: int = 10, scoring: str = "residual", smooth_sigma: float = 4.0, top_k=0.01,
                 calibration_fraction: float = 0.1, max_calibration_images: int = 100, contamination: float = 0.1,
                 batch_size: int = 32, verbose: bool = False, random_state=None):
        store_params(self, locals())

    def _check_own_params(self) -> None:
        self._check_coreset_params()
        if self.scoring not in ("residual", "evidence"):
            raise ValueError(f"scoring must be 'residual' or 'evidence', got {self.scoring!r}")
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {self.n_neighbors}")
        levels = np.atleast_1d(np.asarray(self.noise_levels, dtype=float))
        if not len(levels) or ((levels <= 0) | (levels > 1)).any():
            raise ValueError(f"noise_levels must be fractions in (0, 1], got {self.noise_levels}")

    def _denoiser(self, n_rows: int) -> EmpiricalDenoiser:
        levels = tuple(float(v) for v in np.atleast_1d(self.noise_levels))
        return EmpiricalDenoiser(noise_levels=levels, n_neighbors=min(int(self.n_neighbors), n_rows - 1),
                                 coarse_neighbors=min(50, n_rows - 1), knn_backend="torch")

    def _fit_features(self, feats: torch.Tensor, rng: np.random.Generator) -> None:
        self._standardise_fit(feats)
        bank = self._coreset(self._rows(self._standardise(feats)), rng)
        self.den_ = self._denoiser(len(bank)).fit(bank.double().numpy())

    def _location_scores(self, feats: torch.Tensor) -> torch.Tensor:
        B, D, g1, g2 = feats.shape
        q = self._rows(self._standardise(feats)).double().numpy()
        s = self.den_.residual(q).sum(axis=1) if self.scoring == "residual" else self.den_.score(q)
        return torch.from_numpy(np.asarray(s, dtype=np.float32)).reshape(B, g1, g2)

    def _feature_state(self):
        meta, arrays = self.den_.state()
        return {"den": meta}, dict({f"den.{k}": v for k, v in arrays.items()}, mean_=self.mean_, std_=self.std_)

    def _set_feature_state(self, meta, arrays):
        den_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("den.")}
        self.den_ = EmpiricalDenoiser.from_state(meta["den"], den_arrays)
        self.mean_ = np.asarray(arrays["mean_"], dtype=np.float32)
        self.std_ = np.asarray(arrays["std_"], dtype=np.float32)
        if self.den_.rows_.shape[1] != self.mean_.shape[0]:
            raise ValueError("stored reference vectors do not match the feature statistics")
