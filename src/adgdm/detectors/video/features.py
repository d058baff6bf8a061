"""Per-location appearance and motion features of video frames, shared by ``video-ideal`` and
``video-pred``.

Appearance: the frozen EfficientNet-Lite0 patch features (stride 8 and 16 stages, 152 channels,
3 x 3 averaged; :mod:`adgdm.nets.efficientnet`) of the gray frame at the working size (not
squared: the aspect ratio is kept), standardised per channel and projected on the first
``n_components`` principal axes of the training locations. Motion: for each lag ``j = 1 ..
history``, the absolute difference to frame ``t - j`` averaged over each location's cell and its
3 x 3-averaged maximum there, ``log1p(20 d)``, standardised, and scaled so the motion block
carries ``motion_weight`` times the appearance block's total variance (a fast object in a
walker's shape is anomalous through its motion alone).
"""
from __future__ import annotations

import functools
import time

import numpy as np
import torch
from torch.nn import functional as F

from ..._torch import seed_of
from ...nets.efficientnet import (_MEAN, _STD, BACKBONE, LAYERS, backbone_meta, check_backbone_meta,
                                  load_efficientnet_lite0)
from .base import VideoBase

__all__ = ["FeatureVideoBase", "BACKBONE"]


@functools.lru_cache(maxsize=1)
def _backbone():
    return load_efficientnet_lite0()


class FeatureVideoBase(VideoBase):
    """Appearance + motion location vectors (module docstring); subclasses implement
    ``_fit_rows(x, cond)`` and ``_raw_locations(x, cond) -> (n, 2, g1, g2)`` (the appearance and
    the motion stream's error) on ``x`` ``(n, P + 2H, g1, g2)`` (appearance of frame t, motion)
    and ``cond`` ``(n, H * P, g1, g2)`` (appearance of frames ``t - 1 .. t - H``). The location
    score is the sum of the two streams' errors; with ``location_norm`` each stream is first
    z-scored per location against the held-out training frames (spread shrunk halfway to the
    stream's median spread): motion then weighs as much as appearance, and a place where normal
    frames already err much (a border, a busy crossing) counts less."""

    layers = ("stride8", "stride16")
    _max_stat_frames = 300

    # --- features -------------------------------------------------------------------------------
    def _check_feature_params(self) -> None:
        if int(self.history) < 1:
            raise ValueError(f"history must be >= 1 (motion needs a previous frame), got {self.history}")
        if int(self.n_components) < 1:
            raise ValueError(f"n_components must be >= 1, got {self.n_components}")
        if not float(self.motion_weight) >= 0:
            raise ValueError(f"motion_weight must be >= 0, got {self.motion_weight}")

    def _backbone_features(self, work: np.ndarray) -> torch.Tensor:
        """``(T, 152, g1, g2)`` raw patch features of gray working frames ``(T, h, w)``."""
        net = _backbone()
        blocks = [LAYERS[n][0] for n in self.layers]
        out = []
        for i in range(0, len(work), 32):
            x = torch.from_numpy(work[i:i + 32])[:, None].expand(-1, 3, -1, -1)
            maps = net.features((x - _MEAN) / _STD, blocks)
            g = maps[0].shape[-2:]
            f = torch.cat([maps[0]] + [F.interpolate(m, size=g, mode="bilinear", align_corners=False)
                                       for m in maps[1:]], dim=1)
            f = F.avg_pool2d(f, 3, stride=1, padding=1, count_include_pad=False)
            out.append(f)
        return torch.cat(out)

    def _per_frame(self, work: np.ndarray) -> torch.Tensor:
        """Standardised, projected appearance ``(T, P, g1, g2)``."""
        with torch.inference_mode():
            f = self._backbone_features(work)
            z = (f - self._t("mean_")[:, None, None]) / self._t("std_")[:, None, None]
            return torch.einsum("tdij,pd->tpij", z, self._t("components_"))

    def _t(self, key: str) -> torch.Tensor:
        return torch.from_numpy(getattr(self, key))

    def _raw_motion(self, work: np.ndarray, start: int, grid) -> torch.Tensor:
        w = torch.from_numpy(work)
        chans = []
        for j in range(1, int(self.history) + 1):
            d = (w[start:] - w[start - j:len(w) - j]).abs()[:, None]
            chans.append(F.adaptive_avg_pool2d(d, grid))
            chans.append(F.adaptive_max_pool2d(F.avg_pool2d(d, 3, stride=1, padding=1, count_include_pad=False), grid))
        return torch.log1p(20.0 * torch.cat(chans, dim=1))

    def _motion(self, work, start, grid) -> torch.Tensor:
        m = self._raw_motion(work, start, grid)
        return (m - self._t("motion_mean_")[:, None, None]) / self._t("motion_std_")[:, None, None] * self.motion_scale_

    def _split(self, err: torch.Tensor) -> torch.Tensor:
        """Per-channel errors ``(n, P + 2H, g1, g2)`` -> per-stream sums ``(n, 2, g1, g2)``."""
        P = self.components_.shape[0]
        return torch.stack([err[:, :P].sum(1), err[:, P:].sum(1)], dim=1)

    def _inputs(self, work, feats, start):
        A = feats
        x = torch.cat([A[start:], self._motion(work, start, A.shape[-2:])], dim=1)
        cond = torch.cat([A[start - j:len(A) - j] for j in range(1, int(self.history) + 1)], dim=1)
        return x, cond

    def _location_maps(self, work, feats, start):
        x, cond = self._inputs(work, feats, start)
        raw = self._raw_locations(x, cond).double()
        if not self.location_norm or getattr(self, "loc_mean_", None) is None:
            return raw.sum(1)
        return ((raw - self._t("loc_mean_")) / self._t("loc_std_")).sum(1)

    # --- fit ------------------------------------------------------------------------------------
    def _fit_clips(self, train, held_out):
        t0 = time.perf_counter()
        self.seed_ = seed_of(self.random_state)
        self.loc_mean_ = self.loc_std_ = None
        rng = np.random.default_rng(self.seed_)
        H = int(self.history)
        # channel statistics and principal axes from a subsample of training frames
        total = sum(len(w) for w in train)
        step = max(1, int(np.ceil(total / self._max_stat_frames)))
        with torch.inference_mode():
            f = torch.cat([self._backbone_features(w[::step]) for w in train])
        rows = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double()
        self.mean_ = rows.mean(0).float().numpy()
        self.std_ = (rows.std(0).clamp(min=1e-6)).float().numpy()
        z = (rows - rows.mean(0)) / rows.std(0).clamp(min=1e-6)
        if len(z) > 50_000:
            z = z[torch.from_numpy(rng.choice(len(z), 50_000, replace=False))]
        P = min(int(self.n_components), z.shape[1], len(z))
        _, _, Vt = torch.linalg.svd(z - z.mean(0), full_matrices=False)
        self.components_ = Vt[:P].float().contiguous().numpy()
        # motion statistics over every training frame
        self.motion_mean_ = np.zeros(2 * H, np.float32)
        self.motion_std_ = np.ones(2 * H, np.float32)
        self.motion_scale_ = 1.0
        feats = [self._per_frame(w) for w in train]
        grid = feats[0].shape[-2:]
        raw_m = torch.cat([self._raw_motion(w, H, grid) for w in train])
        mrows = raw_m.permute(0, 2, 3, 1).reshape(-1, raw_m.shape[1]).double()
        self.motion_mean_ = mrows.mean(0).float().numpy()
        self.motion_std_ = mrows.std(0).clamp(min=1e-6).float().numpy()
        app_var = float(torch.cat([a.permute(0, 2, 3, 1).reshape(-1, a.shape[1]) for a in feats]).var(0).sum())
        self.motion_scale_ = float(np.sqrt(float(self.motion_weight) * app_var / (2 * H)))
        self.grid_ = tuple(int(g) for g in grid)
        x, cond = zip(*(self._inputs(w, a, H) for w, a in zip(train, feats)))
        self._log(f"features of {total} frames, grid {self.grid_}, {P} + {2 * H} channels in "
                  f"{time.perf_counter() - t0:.1f} s")
        self._fit_rows(torch.cat(x), torch.cat(cond), rng)
        self.fit_seconds_ = time.perf_counter() - t0

    def _fit(self, train, held):
        self._held_raw = {}  # raw location errors of each held-out piece, for the cross-fitted statistics
        try:
            return super()._fit(train, held)
        finally:
            self.__dict__.pop("_held_raw", None)

    def _piece_raw(self, w: np.ndarray) -> torch.Tensor:
        """Raw location errors ``(n, 2, g1, g2)`` of the scorable frames of a held-out piece (once per fit)."""
        memo = self.__dict__.get("_held_raw")
        if memo is not None and id(w) in memo:
            return memo[id(w)][1]
        H = int(self.history)
        with torch.inference_mode():
            raw = self._raw_locations(*self._inputs(w, self._per_frame(w), H)).double()
        if memo is not None:
            memo[id(w)] = (w, raw)  # the piece is kept with its errors: its id stays its own
        return raw

    def _calibrate(self, held_out):
        raw = torch.cat([self._piece_raw(w) for w in held_out])
        self.loc_mean_ = raw.mean(0).numpy()
        sd = raw.std(0).numpy() if len(raw) > 1 else np.zeros_like(self.loc_mean_)
        med = np.median(sd.reshape(len(sd), -1), axis=1)[:, None, None]  # per stream
        self.loc_std_ = np.sqrt(0.5 * sd ** 2 + 0.5 * med ** 2) + 1e-6

    # --- persistence ----------------------------------------------------------------------------
    def _own_state(self):
        meta = {**backbone_meta(), "seed_": int(self.seed_), "grid_": list(self.grid_),
                "motion_scale_": float(self.motion_scale_)}
        arrays = {k: getattr(self, k) for k in ("mean_", "std_", "components_", "motion_mean_", "motion_std_",
                                                "loc_mean_", "loc_std_")}
        m, a = self._model_state()
        meta.update(m)
        arrays.update(a)
        return meta, arrays

    def _set_own_state(self, meta, arrays):
        check_backbone_meta(meta, self.name)
        self.seed_, self.grid_ = int(meta["seed_"]), tuple(int(g) for g in meta["grid_"])
        self.motion_scale_ = float(meta["motion_scale_"])
        for k in ("mean_", "std_", "components_", "motion_mean_", "motion_std_"):
            setattr(self, k, np.asarray(arrays[k], dtype=np.float32))
        for k in ("loc_mean_", "loc_std_"):
            setattr(self, k, np.asarray(arrays[k], dtype=np.float64))
            if getattr(self, k).shape != (2, *self.grid_):
                raise ValueError(f"stored {k} has shape {getattr(self, k).shape}, the grid is {self.grid_}")
        _backbone()  # verifies the installed weights now
        self._set_model_state(meta, arrays)
