"""``image``: the recommended image detector, two branches.

* global: each image as a small thumbnail (``global_size`` pixels a side, per image brought to
  zero mean and unit spread) scored by the *ideal* denoiser of the training thumbnails (the
  tabular ``diffusion`` detector at its fine noise levels). It sees what is wrong with the image
  as a whole: a shape or layout no normal image has (another digit; a broken tile edge).
* local: the ``image-cycle`` segmentation head, trained on the normal images with synthetic
  defects; its per-pixel defect probability is the anomaly map.

The image score is the global branch's robust z-score plus ``local_weight`` (0.5) times the local
one, each against normal images held out of training. Why this weighting (measured, seed 0, see
``benchmarks/results/image_branches.md``): on the magnetic tiles the global branch alone reaches
96.9 image AUROC, the local head 79.3, their sum 97.2; on MNIST one-vs-rest the local head, trained
on defects that are not other digits, reaches about 70 and an equal-weight sum pulls the global
branch's 98.6 down to about 93. Half weight keeps most of the global ranking and still lets a small
local defect, invisible on a thumbnail, raise the score. Both branches are cheap to score (one
nearest-neighbour search on thumbnails, one small convolutional pass).
"""
from __future__ import annotations

import numpy as np
import torch

from ...io import ModelFileError
from ..._params import store_params
from ...scores.fusion import RobustZ, fuse
from ..base import cross_fitted, nested_state, restore_nested
from ..tabular.diffusion import DiffusionDetector
from .seg import SYNTH_DEFECTS, ImageSegCycle

__all__ = ["ImageDiffusion", "TwoBranchScore", "thumbnails"]


def thumbnails(imgs: np.ndarray, side: int) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, side * side * C)``: area-averaged to ``side x side``, then each
    image shifted and scaled to zero mean and unit standard deviation (brightness and contrast
    of a whole shot rarely make it anomalous; its layout does)."""
    t = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2), dtype=np.float32))
    a = torch.nn.functional.adaptive_avg_pool2d(t, int(side)).reshape(len(imgs), -1).double().numpy()
    a = a - a.mean(axis=1, keepdims=True)
    return a / (a.std(axis=1, keepdims=True) + 1e-6)


class TwoBranchScore:
    """The image score of a global + local design: each branch's robust z against held-out normal
    images (``z_params_``), the global one with weight 1 and the local one with ``local_weight``.
    Shared by ``image`` and ``image-feat-global``; the class defines ``_branches``."""

    def _check_branch_params(self) -> None:
        """``global_size`` (0 = no global branch), ``local_weight`` and ``global_neighbors``."""
        g = self.global_size
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 0 or g == 1:
            raise ValueError(f"global_size must be 0 (off) or an int >= 2, got {g!r}")
        if not float(self.local_weight) >= 0:
            raise ValueError(f"local_weight must be >= 0, got {self.local_weight}")
        if int(self.global_neighbors) < 1:
            raise ValueError(f"global_neighbors must be >= 1, got {self.global_neighbors}")

    def _held_out_scores(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Set ``z_params_`` from the held-out images' branch scores ``parts`` and return their image
        scores, cross-fitted (:func:`adgdm.detectors.base.cross_fitted`): each image's score uses
        z-scales set without it; the model keeps those of all held-out images."""
        n = len(next(iter(parts.values())))

        def fit_stats(idx):  # spread: IQR / 1.349, else the standard deviation, else 1
            self.z_params_ = {k: RobustZ.fit(v[idx], iqr_divisor=1.349, std_fallback=True).params()
                              for k, v in parts.items()}

        return np.asarray(cross_fitted(n, fit_stats, lambda idx: self._combine({k: v[idx] for k, v in parts.items()})),
                          dtype=np.float64)

    def _zscores(self, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: RobustZ(*self.z_params_[k])(v) for k, v in parts.items()}

    def _combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        z = self._zscores(parts)
        weights = {"global": 1.0, "local": float(self.local_weight)} if "global" in z else {"local": 1.0}
        return fuse(z, weights)

    def _scores_from(self, imgs: np.ndarray, maps: np.ndarray) -> np.ndarray:
        return self._combine(self._branches(imgs, maps))


class ImageDiffusion(TwoBranchScore, ImageSegCycle):
    """Recommended image detector: a global ideal-denoiser score on normalised thumbnails plus the
    ``image-cycle`` segmentation head for the anomaly map (module docstring).

    Parameters
    ----------
    global_size : thumbnail side in pixels for the global branch (0 turns it off: the image score
        is then the local branch's z-score alone).
    local_weight : weight of the local z-score in the image score (the global one has weight 1).
    global_neighbors : nearest training thumbnails the ideal denoiser averages over. The branch's
        raw score is ``DiffusionDetector``'s with ``coarse_weight=0``, i.e. ``max(fine z, 0)``: images
        below the training median all score 0 there and tie in this branch (the local one still
        orders them).
    other parameters : as ``image-cycle`` (``ImageSegCycle``): preprocessing, the segmentation
        head and its training, ``top_k`` and ``smooth_sigma`` of the local branch,
        ``calibration_fraction`` of training images (at least ``min(10, N // 2)``) held out to
        set both z-scores and ``threshold_`` (each held-out image's calibration score with z-scales
        set by the others, cross-fitted: :func:`adgdm.detectors.base.cross_fitted`).

    Attributes
    ----------
    global_ : the fitted tabular ``DiffusionDetector`` on training thumbnails (None when off);
    z_params_ : ``{"global": (median, spread), "local": (median, spread)}`` of the held-out
    scores; the rest as ``image-cycle``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = np.clip(0.5 + 0.05 * rng.normal(size=(24, 32, 32)), 0, 1)
    >>> test = np.clip(0.5 + 0.05 * rng.normal(size=(2, 32, 32)), 0, 1); test[1, 8:20, 8:20] = 0.05
    >>> det = ImageDiffusion(max_steps=60, train_crop=32, random_state=0).fit(train)
    >>> s = det.decision_function(test)
    >>> det.anomaly_map(test).shape, bool(s[1] > s[0])
    ((2, 32, 32), True)
    """

    name = "image"
    _min_calibration = 10  # the z-scales come from the held-out images: 4 of them are noise

    def __init__(self, size=None, crop=None, channels=None, global_size: int = 12, local_weight: float = 0.5,
                 global_neighbors: int = 10, width: int = 16, mults: tuple = (1, 2, 4, 4), max_steps: int = 1500,
                 batch_size: int = 8, train_crop: int = 64, lr: float = 2e-3, defect_fraction: float = 0.6,
                 defects: tuple = SYNTH_DEFECTS, norm_sigma="auto", top_k: float = 0.002, smooth_sigma="auto",
                 contamination: float = 0.1, calibration_fraction: float = 0.1, max_calibration_images: int = 100,
                 score_batch_size: int = 32, device: str = "cpu", verbose: bool = False, random_state=None):
        store_params(self, locals())

    def _check_params(self) -> None:
        super()._check_params()
        self._check_branch_params()

    def _global_detector(self) -> DiffusionDetector:
        # pixels of a normalised thumbnail share one scale: no per-pixel standardising (it would
        # blow up near-constant border pixels); fine noise levels only: the coarse block looks
        # past small clusters, which on images are the rare poses of normal objects
        return DiffusionDetector(n_neighbors=int(self.global_neighbors), coarse_weight=0.0, standardize=False,
                                 knn_backend="torch", calibration="train", coarse_rows=None)  # its threshold is not used

    def _calibrate(self, train: np.ndarray, held_out: np.ndarray) -> np.ndarray:
        self.global_ = None
        if int(self.global_size) > 0:
            self.global_ = self._global_detector().fit(thumbnails(train, self.global_size))
        return self._held_out_scores(self._branches(held_out))

    def _branches(self, imgs: np.ndarray, maps: np.ndarray | None = None) -> dict[str, np.ndarray]:
        parts = {"local": self._image_scores(self._maps(imgs) if maps is None else maps)}
        if self.global_ is not None:
            parts["global"] = self.global_.decision_function(thumbnails(imgs, self.global_size))
        return parts


    def _parts(self, imgs: np.ndarray, maps: np.ndarray) -> dict:
        parts = self._branches(imgs, maps)
        return {k: (v - self.z_params_[k][0]) / self.z_params_[k][1] for k, v in parts.items()}

    def branch_scores(self, X) -> dict[str, np.ndarray]:
        """The two branches' z-scores (``"global"``, ``"local"``) whose weighted sum is the image
        score: which branch flags an image."""
        _, data = self._checked(X)
        return self._zscores(self._branches(data.images))

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        meta, arrays = super()._get_state()
        meta["z_params_"] = {k: [float(a), float(b)] for k, a, b in ((k, *v) for k, v in self.z_params_.items())}
        if self.global_ is not None:
            gmeta, garrays = nested_state(self.global_, "global")
            meta.update(global_=gmeta, global_threshold_=gmeta["threshold_"])
            arrays.update(garrays)
        return meta, arrays

    def _set_state(self, fitted: dict, arrays: dict) -> None:
        super()._set_state(fitted, arrays)
        self.z_params_ = {k: (float(v[0]), float(v[1])) for k, v in fitted["z_params_"].items()}
        self.global_ = None
        if int(self.global_size) > 0:
            X = np.asarray(arrays["global.X_train_"], dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != int(self.global_size) ** 2 * int(self.image_shape_[2]):
                raise ModelFileError(f"saved global thumbnails have shape {X.shape}, expected "
                                     f"{int(self.global_size) ** 2 * int(self.image_shape_[2])} columns")
            # models saved before the global part was nested have only its threshold in the meta
            gmeta = fitted.get("global_", {"n_features_in_": X.shape[1], "threshold_": fitted["global_threshold_"]})
            self.global_ = restore_nested(DiffusionDetector, self._global_detector().get_params(), gmeta, arrays,
                                          "global")
        if set(self.z_params_) != ({"local", "global"} if self.global_ is not None else {"local"}):
            raise ModelFileError(f"saved z-score parameters {sorted(self.z_params_)} do not match global_size")
