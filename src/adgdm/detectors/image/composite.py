"""``image-feat-global``: a global thumbnail branch plus a feature-space local branch.

* global: as ``image``'s global branch, each image as a normalised ``global_size``-pixel thumbnail
  scored by the ideal denoiser of the training thumbnails (the tabular ``DiffusionDetector`` at its
  fine noise levels);
* local: a feature-space detector (``local``: ``image-feat``, the learned diffusion model of
  pretrained patch features, by default; or ``image-feat-ideal`` / ``image-patchcore``), whose map
  is the anomaly map and whose image score (top ``top_k`` mean of the map) is the local score.

The image score is the global branch's robust z-score plus ``local_weight`` times the local one,
both against the same normal images held out of training. The defaults (12 px thumbnails, local
weight 2) are the best two-branch setting on synthetic defects pasted into held-out normal
magnetic-tile images, for each of the three local detectors (``benchmarks/image_select.py``,
``benchmarks/results/image_select.md``; no test label used). On those synthetic (local) defects
the local detector alone scores as well or slightly better; pasted defects do not imitate
whole-image anomalies (a broken tile edge, another layout), which the global branch is for. On the
real magnetic-tile test (seed 0, evaluated once, ``benchmarks/results/image_select_test.md``) the
global branch raises image AUROC from 78.9 to 94.4 with ``image-feat`` (89.4 to 96.8 with
``image-patchcore``); the map, and so pixel AUROC and AUPRO, are the local detector's.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..._params import store_params
from ...io import ModelFileError
from ..base import nested_state, restore_nested
from ..tabular.diffusion import DiffusionDetector
from .base import ImageBase
from .default import TwoBranchScore, thumbnails
from .feature import FeatureDiffusion, FeatureIdeal, PatchCore

__all__ = ["FeatureGlobal"]

_LOCAL = {"image-feat": FeatureDiffusion, "image-feat-ideal": FeatureIdeal, "image-patchcore": PatchCore}


class FeatureGlobal(TwoBranchScore, ImageBase):
    """Global thumbnail branch + feature-space local branch (module docstring).

    Parameters
    ----------
    size : backbone input side of the local detector (its maps' working size).
    local : the local detector, one of ``image-feat``, ``image-feat-ideal``, ``image-patchcore``.
    local_params : extra parameters of the local detector (dict; its defaults otherwise).
    global_size : thumbnail side of the global branch (0 turns it off: the local detector alone).
    local_weight : weight of the local z-score (the global one has weight 1).
    global_neighbors : nearest training thumbnails the global ideal denoiser averages over.
    calibration_fraction, max_calibration_images : training images held out (at least
        ``min(10, N // 2)``); they set both z-scores and ``threshold_`` (cross-fitted, as ``image``).
    contamination : share of held-out scores above ``threshold_``.

    Attributes
    ----------
    local_ : the fitted local detector; global_ : the fitted ``DiffusionDetector`` on training
    thumbnails (None when off); z_params_ : ``{"global": (median, spread), "local": (...)}``.

    Example
    -------
    >>> rng = np.random.default_rng(0)                                              # doctest: +SKIP
    >>> det = FeatureGlobal(size=64, local="image-patchcore", random_state=0).fit(rng.random((12, 64, 64)))  # doctest: +SKIP
    >>> det.anomaly_map(rng.random((2, 64, 64))).shape                               # doctest: +SKIP
    (2, 64, 64)
    """

    name = "image-feat-global"

    def __init__(self, size: int = 224, local: str = "image-feat", local_params=None, global_size: int = 12,
                 local_weight: float = 2.0, global_neighbors: int = 10, top_k=0.01, calibration_fraction: float = 0.1,
                 max_calibration_images: int = 100, contamination: float = 0.1, verbose: bool = False,
                 random_state=None):
        store_params(self, locals())

    # --- checks ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.local not in _LOCAL:
            raise ValueError(f"local must be one of {', '.join(_LOCAL)}, got {self.local!r}")
        if self.local_params is not None and not isinstance(self.local_params, dict):
            raise ValueError(f"local_params must be a dict or None, got {type(self.local_params).__name__}")
        self._check_branch_params()
        if not 0.0 < float(self.calibration_fraction) < 1.0:
            raise ValueError(f"calibration_fraction must lie in (0, 1), got {self.calibration_fraction}")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if int(self.max_calibration_images) < 1:
            raise ValueError(f"max_calibration_images must be >= 1, got {self.max_calibration_images}")
        self._local_detector()._check_params()  # with its own parameters' checks

    def _local_detector(self):
        params = dict(self.local_params or {})
        params.update(size=self.size, top_k=self.top_k, contamination=self.contamination, verbose=self.verbose,
                      random_state=self.random_state)
        return _LOCAL[self.local](**params)

    def _global_detector(self) -> DiffusionDetector:
        # as ``image``'s global branch
        return DiffusionDetector(n_neighbors=int(self.global_neighbors), coarse_weight=0.0, standardize=False,
                                 knn_backend="torch", calibration="train", coarse_rows=None)

    # --- fit ------------------------------------------------------------------------------------
    def _folder_options(self) -> dict:
        return self._local_detector()._folder_options()

    def _prep_input(self, X, fitting: bool):
        if fitting:
            return self._local_detector()._prep_input(X, fitting)
        return self.local_._prep_input(X, fitting)

    def _check_images(self, imgs: np.ndarray) -> None:
        self.local_._check_images(imgs)

    def _calibration_split(self, data):
        """A random ``calibration_fraction`` of the training images (at least ``min(10, N // 2)``,
        at most ``max_calibration_images`` and ``N - 1``) held out: both z-scales and ``threshold_``."""
        return self._random_held_out(data, least=3, at_least=10)

    def _fit(self, train, held_out):
        """Fit both branches on ``train``; the held-out images set both z-scales and ``threshold_``."""
        rng = self.__dict__.pop("_fit_rng")
        t0 = time.perf_counter()
        local = self._local_detector()
        local.image_shape_, local.seed_ = self.image_shape_, self.seed_
        feats = torch.cat([local._features(train[i:i + 256]) for i in range(0, len(train), 256)])
        scores = self._fit_features_scores(local, train, held_out, feats, local._features(held_out), rng)
        self.fit_seconds_ = time.perf_counter() - t0
        return scores

    def _fit_from_features(self, local, train: np.ndarray, held_out: np.ndarray, feats, held_feats,
                           rng: np.random.Generator) -> None:
        """Fit from precomputed feature maps (the selection benchmarks reuse one extraction): as
        ``fit`` on the images they come from."""
        self._finish_fit(self._fit_features_scores(local, train, held_out, feats, held_feats, rng))

    def _fit_features_scores(self, local, train: np.ndarray, held_out: np.ndarray, feats, held_feats,
                             rng: np.random.Generator) -> np.ndarray:
        """Fit both branches on the training images (``feats``: their feature maps); returns the
        held-out images' scores (they set both z-scales and ``threshold_``)."""
        local._fit_from_features(feats, held_feats, rng)
        self.local_ = local
        self.global_ = None
        if int(self.global_size) > 0:
            self.global_ = self._global_detector().fit(thumbnails(train, int(self.global_size)))
        return self._held_out_scores(self._branches(held_out, self.local_._maps_from_features(held_feats)))

    # --- scoring --------------------------------------------------------------------------------
    def _maps(self, imgs: np.ndarray) -> np.ndarray:
        return self.local_._maps(imgs)

    def _to_input(self, maps: np.ndarray, raw_shape) -> np.ndarray:
        return self.local_._to_input(maps, raw_shape)

    def _branches(self, imgs: np.ndarray, maps: np.ndarray) -> dict[str, np.ndarray]:
        parts = {"local": self.local_._image_scores(maps)}
        if self.global_ is not None:
            parts["global"] = self.global_.decision_function(thumbnails(imgs, int(self.global_size)))
        return parts


    def _parts(self, imgs: np.ndarray, maps: np.ndarray) -> dict:
        return self._zscores(self._branches(imgs, maps))

    def branch_scores(self, X) -> dict[str, np.ndarray]:
        """The branches' z-scores (``"global"``, ``"local"``) whose weighted sum is the image score."""
        _, data = self._checked(X)
        return self._parts(data.images, self._maps(data.images))

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        lmeta, arrays = nested_state(self.local_, "local")
        meta = {"seed_": int(self.seed_), "local_": lmeta,
                "z_params_": {k: [float(a), float(b)] for k, (a, b) in self.z_params_.items()}}
        if self.global_ is not None:
            gmeta, garrays = nested_state(self.global_, "global")
            meta["global_"] = gmeta
            arrays.update(garrays)
        return meta, arrays

    def _set_state(self, fitted: dict, arrays: dict) -> None:
        self._check_params()
        self.seed_ = int(fitted["seed_"])
        self.z_params_ = {k: (float(v[0]), float(v[1])) for k, v in fitted["z_params_"].items()}
        self.local_ = restore_nested(_LOCAL[self.local], self._local_detector().get_params(), fitted["local_"],
                                     arrays, "local")
        self.global_ = None
        if int(self.global_size) > 0:
            if "global_" not in fitted:
                raise ModelFileError("the saved model has no global branch, but global_size > 0")
            self.global_ = restore_nested(DiffusionDetector, self._global_detector().get_params(), fitted["global_"],
                                          arrays, "global")
            cols = int(self.global_size) ** 2 * int(self.image_shape_[2])
            if self.global_.n_features_in_ != cols:
                raise ModelFileError(f"saved global branch has {self.global_.n_features_in_} columns, expected {cols}")
        if set(self.z_params_) != ({"local", "global"} if self.global_ is not None else {"local"}):
            raise ModelFileError(f"saved z-score parameters {sorted(self.z_params_)} do not match global_size")
