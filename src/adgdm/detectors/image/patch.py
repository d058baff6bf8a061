"""``image-patch``: a training-free image detector. Every patch of an image is scored by the *ideal*
denoiser of the training images' patches (the tabular ``diffusion`` detector on flattened
patches), at two scales; patch scores spread back to pixels give the anomaly map. No network to
train, so it runs on a CPU in seconds and cannot learn the identity shortcut.
"""
from __future__ import annotations

import numpy as np
import torch

from ..._torch import seed_of
# the folder reader lives in the data layer (a detector takes arrays); re-exported for old imports
from ...data.images import IMAGE_SUFFIXES, load_image_dir, to_float_images  # noqa: F401
from ..._params import store_params
from ..base import nested_state, restore_nested
from ..tabular.diffusion import DiffusionDetector
from .base import ImageBase

__all__ = ["PatchDiffusion", "PatchKNN", "patch_grid", "load_image_dir"]


def patch_grid(imgs: np.ndarray, patch: int, stride: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``(N, gh * gw, patch * patch * C)`` patches of ``(N, H, W, C)`` images on a stride grid
    (the last row and column snapped to the border so every pixel is covered)."""
    N, H, W, C = imgs.shape
    ys = _starts(H, patch, stride)
    xs = _starts(W, patch, stride)
    t = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
    rows = [t[:, :, y:y + patch, :].unfold(3, patch, 1)[:, :, :, xs] for y in ys]  # (N, C, patch, gw, patch)
    P = torch.stack(rows, dim=1)  # (N, gh, C, patch_y, gw, patch_x)
    P = P.permute(0, 1, 4, 3, 5, 2).reshape(N, len(ys) * len(xs), patch * patch * C)
    return P.numpy(), (len(ys), len(xs))


def top_k_mean(maps: np.ndarray, top_k: float) -> np.ndarray:
    """Image scores: the mean of the top ``top_k`` share of each map's pixels."""
    flat = maps.reshape(len(maps), -1)
    k = max(1, int(round(float(top_k) * flat.shape[1])))
    return np.sort(flat, axis=1)[:, -k:].mean(axis=1)


def _starts(n: int, patch: int, stride: int) -> np.ndarray:
    s = list(range(0, max(1, n - patch + 1), stride))
    if s[-1] != n - patch:
        s.append(n - patch)
    return np.asarray(s)


def _spread(scores: np.ndarray, grid: tuple[int, int], shape: tuple[int, int], patch: int, stride: int) -> np.ndarray:
    """Patch scores ``(N, gh * gw)`` -> pixel maps ``(N, H, W)``: each pixel the mean of the patches
    covering it."""
    N = len(scores)
    H, W = shape
    ys, xs = _starts(H, patch, stride), _starts(W, patch, stride)
    acc = np.zeros((N, H, W))
    cnt = np.zeros((H, W))
    S = scores.reshape(N, *grid)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            acc[:, y:y + patch, x:x + patch] += S[:, i, j, None, None]
            cnt[y:y + patch, x:x + patch] += 1
    return acc / cnt


class PatchDiffusion(ImageBase):
    """Anomaly maps from the ideal denoiser of training patches, at ``scales`` (1 = full
    resolution, 2 = half, ...): patches of ``patch`` pixels on a ``stride`` grid at each scale.

    The evidence scale of each patch detector is cross-fitted over groups of training images (a
    patch's neighbours in its own image would vouch for it), and ``threshold_`` comes from
    training images scored against the other images' patches.

    Parameters
    ----------
    size, crop, channels : preprocessing (``to_float_images``): resize to ``size`` pixels, centre
        crop, 1 (grey) or 3 channels. Maps come back at the input's resolution.
    patch, stride : patch side and grid step in pixels (``"auto"``: ``max(3, side // 16)`` and half
        of it).
    max_train_patches : reference patches kept per scale (a random subset).
    top_k : the image score is the mean of this top fraction of its map.
    smooth_sigma : Gaussian smoothing of the map (pixels of the working size).
    max_calibration_images : training images scored (cross-fitted) for ``threshold_``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.uniform(0.4, 0.6, size=(20, 32, 32))
    >>> test = rng.uniform(0.4, 0.6, size=(2, 32, 32)); test[1, 10:16, 10:16] = 1.0
    >>> det = PatchDiffusion(random_state=0).fit(train)
    >>> m = det.anomaly_map(test)
    >>> m.shape, bool(m[1, 10:16, 10:16].mean() > m[0].max())
    ((2, 32, 32), True)
    """

    name = "image-patch"

    def __init__(self, size=None, crop=None, channels=None, patch="auto", stride="auto", scales: tuple = (1, 2),
                 max_train_patches: int = 20_000, n_neighbors: int = 10, coarse_neighbors: int = 50,
                 top_k: float = 0.01, smooth_sigma: float = 2.0, contamination: float = 0.1, n_folds: int = 5,
                 max_calibration_images: int = 200, batch_size: int = 32, random_state=None):
        store_params(self, locals())

    # --- preprocessing --------------------------------------------------------------------------
    def _prep(self, X) -> np.ndarray:
        return to_float_images(X, size=self.size, crop=self.crop, channels=self.channels)

    def _prep_input(self, X, fitting: bool):
        raw_shape = None
        if not fitting:
            a = np.asarray(X)
            if a.ndim in (3, 4):
                raw_shape = a.shape[1:3]
        return self._prep(X), raw_shape

    def _check_images(self, imgs: np.ndarray) -> None:
        if imgs.shape[1:] != tuple(self.image_shape_):
            raise ValueError(f"images have shape {imgs.shape[1:]} after preprocessing, the detector was fitted on "
                             f"{tuple(self.image_shape_)}; use the same size/crop/channels")

    def _geometry(self, side: int) -> tuple[int, int]:
        p = max(3, side // 16) if self.patch == "auto" else int(self.patch)
        st = max(1, p // 2) if self.stride == "auto" else int(self.stride)
        if p > side:
            raise ValueError(f"patch of {p} px is larger than the image ({side} px at this scale)")
        return p, st

    @staticmethod
    def _down(imgs: np.ndarray, f: int) -> np.ndarray:
        if f == 1:
            return imgs
        t = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
        return torch.nn.functional.avg_pool2d(t, f, ceil_mode=True).numpy().transpose(0, 2, 3, 1)

    # --- fit ------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not 0.0 < float(self.top_k) <= 1.0:
            raise ValueError(f"top_k must be a fraction in (0, 1], got {self.top_k}")
        self._scales()

    def _scales(self) -> tuple:
        scales = (self.scales,) if isinstance(self.scales, (int, np.integer)) else tuple(self.scales or ())
        if not scales or any(int(f) < 1 for f in scales):
            raise ValueError(f"scales must be downsampling factors >= 1 (an int or a tuple), got {self.scales}")
        return scales

    def _fit(self, data):
        """Fit on normal images; the scores of (up to ``max_calibration_images``) training images,
        each against the other folds' patches, calibrate."""
        imgs = data.images
        scales = self._scales()
        if len(imgs) < 2:
            raise ValueError(f"{self.name} needs at least 2 training images, got {len(imgs)}")
        rng = np.random.default_rng(seed_of(self.random_state))
        group = rng.permutation(len(imgs)) % min(int(self.n_folds), len(imgs))  # image -> fold
        self.scales_ = []
        for f in scales:
            small = self._down(imgs, int(f))
            patch, stride = self._geometry(min(small.shape[1:3]))
            P, grid = patch_grid(small, patch, stride)
            owner = np.repeat(np.arange(len(imgs)), P.shape[1])
            flat = P.reshape(-1, P.shape[2])
            keep = np.arange(len(flat))
            if len(flat) > int(self.max_train_patches):
                keep = np.sort(rng.choice(len(flat), int(self.max_train_patches), replace=False))
            state = self._reference(flat[keep], group[owner[keep]], rng)
            self.scales_.append(dict(state, factor=int(f), patch=patch, stride=stride, grid=grid,
                                     ref_group=group[owner[keep]]))
        # threshold: training images scored against the patches of the other folds' images
        calib = np.sort(rng.choice(len(imgs), min(len(imgs), int(self.max_calibration_images)), replace=False))
        return self._image_scores(self._maps(imgs[calib], groups=group[calib]))

    def _reference(self, rows: np.ndarray, g: np.ndarray, rng) -> dict:
        """One scale's reference: the patch detector, its evidence scale cross-fitted over the
        image folds ``g``."""
        tab = self._patch_detector().fit(rows)
        tab.cross_fit([np.flatnonzero(g == k) for k in np.unique(g)], lambda fold: g != g[fold[0]])
        return {"tab": tab}

    def _patch_detector(self) -> DiffusionDetector:
        return DiffusionDetector(n_neighbors=self.n_neighbors, coarse_neighbors=self.coarse_neighbors,
                                 knn_backend="torch", contamination=self.contamination, coarse_rows=None,
                                 calibration="train")  # cross_fit sets its scale and threshold

    # --- scoring --------------------------------------------------------------------------------
    def _maps(self, imgs: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Maps at the working size: each scale's patch scores spread to pixels and averaged;
        with ``groups`` (training folds) each image is scored only against reference patches of
        other folds."""
        from scipy.ndimage import gaussian_filter

        H, W = imgs.shape[1:3]
        total = np.zeros((len(imgs), H, W))
        for sc in self.scales_:
            small = self._down(imgs, sc["factor"])
            P, grid = patch_grid(small, sc["patch"], sc["stride"])
            m = _spread(self._patch_scores(sc, P, groups), grid, small.shape[1:3], sc["patch"], sc["stride"])
            if sc["factor"] > 1:
                m = torch.nn.functional.interpolate(torch.from_numpy(m)[:, None], size=(H, W), mode="bilinear",
                                                    align_corners=False)[:, 0].numpy()
            total += m
        total /= len(self.scales_)
        if float(self.smooth_sigma) > 0:
            total = gaussian_filter(total, sigma=(0, float(self.smooth_sigma), float(self.smooth_sigma)))
        return total

    def _patch_scores(self, sc: dict, P: np.ndarray, groups) -> np.ndarray:
        """``(N, n_patches)`` scores of one scale's patches ``P`` by its patch detector."""
        scores = np.empty(P.shape[:2])
        tabs = {None: sc["tab"]}
        if groups is not None:
            for k in np.unique(groups):
                tabs[k] = sc["tab"].subset(sc["ref_group"] != k)
        for i in range(0, len(P), int(self.batch_size)):
            rows = np.arange(i, min(len(P), i + int(self.batch_size)))
            keys = [None] if groups is None else np.unique(groups[rows])
            for k in keys:
                r = rows if k is None else rows[groups[rows] == k]
                flat = P[r].reshape(-1, P.shape[2])
                scores[r] = tabs[k].decision_function(flat).reshape(len(r), -1)
        return scores

    def _image_scores(self, maps: np.ndarray) -> np.ndarray:
        return top_k_mean(maps, self.top_k)

    def _to_input(self, maps: np.ndarray, raw_shape) -> np.ndarray:
        if raw_shape is not None and tuple(raw_shape) != maps.shape[1:]:
            maps = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=tuple(raw_shape),
                                                   mode="bilinear", align_corners=False)[:, 0].numpy()
        return maps

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self):
        scales, arrays = [], {}
        for i, sc in enumerate(self.scales_):
            meta = {"factor": int(sc["factor"]), "patch": int(sc["patch"]), "stride": int(sc["stride"]),
                    "grid": [int(g) for g in sc["grid"]]}
            arrays[f"scale{i}.ref_group"] = np.asarray(sc["ref_group"], dtype=np.int64)
            ref_meta, ref_arrays = self._reference_state(sc, f"scale{i}")
            scales.append(dict(meta, **ref_meta))
            arrays.update(ref_arrays)
        return {"scales": scales}, arrays

    def _set_state(self, meta, arrays):
        self.scales_ = []
        for i, m in enumerate(meta["scales"]):
            sc = {"factor": int(m["factor"]), "patch": int(m["patch"]), "stride": int(m["stride"]),
                  "grid": tuple(int(g) for g in m["grid"]), "ref_group": np.asarray(arrays[f"scale{i}.ref_group"])}
            sc.update(self._restore_reference(m, arrays, f"scale{i}"))
            self.scales_.append(sc)
        if not self.scales_:
            raise ValueError("no scales stored")

    def _reference_state(self, sc: dict, prefix: str) -> tuple[dict, dict]:
        tab_meta, arrays = nested_state(sc["tab"], prefix + ".tab")
        return {"tab": tab_meta}, arrays

    def _restore_reference(self, meta: dict, arrays: dict, prefix: str) -> dict:
        tab = restore_nested(DiffusionDetector, self._patch_detector().get_params(), meta["tab"], arrays, prefix + ".tab")
        return {"tab": tab}


class PatchKNN(PatchDiffusion):
    """Baseline: each patch scored by its distance to the nearest training patch (PatchCore's
    nearest-neighbour rule on raw pixels, no pretrained features), same grid, scales and maps as
    ``image-patch``; the threshold from training images scored against the other images' patches."""

    name = "image-patchknn"

    def _reference(self, rows: np.ndarray, g: np.ndarray, rng) -> dict:
        bank = torch.from_numpy(rows.astype(np.float32))
        # the typical nearest distance across images puts the scales on one footing
        probe = rng.choice(len(bank), min(len(bank), 1000), replace=False)
        d = torch.cdist(bank[probe], bank)
        d[torch.from_numpy(g[probe][:, None] == g[None, :])] = float("inf")
        norm = float(np.median(d.min(dim=1).values.numpy()))
        return {"bank": bank, "norm": norm if np.isfinite(norm) and norm > 0 else 1.0}

    def _patch_scores(self, sc: dict, P: np.ndarray, groups) -> np.ndarray:
        scores = np.empty(P.shape[:2])
        for i in range(len(P)):
            bank = sc["bank"] if groups is None else sc["bank"][torch.from_numpy(sc["ref_group"] != groups[i])]
            scores[i] = torch.cdist(torch.from_numpy(P[i].astype(np.float32)), bank).min(dim=1).values.numpy()
        return scores / sc["norm"]  # the scales on one footing

    def _reference_state(self, sc: dict, prefix: str) -> tuple[dict, dict]:
        return {"norm": float(sc["norm"])}, {prefix + ".bank": sc["bank"].numpy()}

    def _restore_reference(self, meta: dict, arrays: dict, prefix: str) -> dict:
        return {"bank": torch.from_numpy(np.array(arrays[prefix + ".bank"], dtype=np.float32)),
                "norm": float(meta["norm"])}
