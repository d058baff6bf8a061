"""What every image detector shares beyond the base contract: a score and an anomaly map per
image, from one pass over the images (the maps cost most of the time)."""
from __future__ import annotations

import numpy as np

from ..._torch import seed_of
from ..base import BaseDetector


def maps_to_input(maps: np.ndarray, raw, crop) -> np.ndarray:
    """Maps at the working size -> the input's ``(H, W)`` (``raw``; None: unchanged): undo the
    resize, and place a centre ``crop`` back in the frame (the border repeats the crop's edge)."""
    if raw is None:
        return maps
    import torch
    import torch.nn.functional as F

    H, W = raw
    inner = (int(crop), int(crop)) if crop is not None else (H, W)
    m = torch.from_numpy(np.ascontiguousarray(maps))[:, None]
    if tuple(m.shape[-2:]) != inner:
        m = F.interpolate(m, size=inner, mode="bilinear", align_corners=False)
    if inner != (H, W):
        top, left = (H - inner[0]) // 2, (W - inner[1]) // 2
        m = F.pad(m, (left, W - inner[1] - left, top, H - inner[0] - top), mode="replicate")
    return m[:, 0].numpy()


class ImageBase(BaseDetector):
    """Base of the image detectors. Validated input is :class:`adgdm.modalities.image.Images`
    (the image modality calls ``_prep_input(X, fitting) -> (images, input size)`` and, at
    scoring, ``_check_images(images)``). Subclasses implement ``_maps(images)`` (maps at the
    working size), ``_scores_from(images, maps)`` and ``_to_input(maps, input size)``; those that
    hold images out for calibration implement ``_calibration_split`` and ``_fit(train, held_out)``
    returning the held-out scores."""

    modality = "image"

    # --- input ----------------------------------------------------------------------------------
    def _prep_input(self, X, fitting: bool) -> tuple[np.ndarray, tuple | None]:
        """``(images (N, H, W, C) float32 in [0, 1] at the working size, input (H, W) or None)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _prep_input(X, fitting)")

    def _check_images(self, imgs: np.ndarray) -> None:
        """Raise if preprocessed new images do not fit the fitted detector."""

    def _folder_options(self) -> dict:
        """How a folder of image files is read for ``fit`` (``ImageModality.read_folder``): with the
        detector's size and channels, so that its own preprocessing of the array changes nothing;
        with ``crop`` (cropped before resizing) cropped at the files' size (files of different
        sizes then share one shape), and resized by the detector, whose crop finds nothing to cut."""
        if getattr(self, "crop", None) is None:
            return {"size": self.size, "channels": self.channels}
        return {"crop": self.crop, "channels": self.channels}

    # --- fit ------------------------------------------------------------------------------------
    def _random_held_out(self, data, least: int = 2, at_least: int = 0, leave_one: bool = True):
        """``(training images, held-out images)`` of the ``N >= least`` training images: a random
        ``calibration_fraction`` held out, at least 1 and ``min(at_least, N // 2)``, at most
        ``max_calibration_images`` (and ``N - 1`` with ``leave_one``). Sets ``seed_``; fitting draws
        on from the same generator (``_fit_rng``)."""
        imgs = data.images
        N = len(imgs)
        if N < least:
            raise ValueError(f"{self.name} needs at least {least} training images, got {N}")
        self.seed_ = seed_of(self.random_state)
        rng = np.random.default_rng(self.seed_)
        n_cal = min(int(self.max_calibration_images),
                    max(1, min(at_least, N // 2), int(round(float(self.calibration_fraction) * N))))
        if leave_one:
            n_cal = min(n_cal, N - 1)
        perm = rng.permutation(N)
        cal, tr = np.sort(perm[:n_cal]), np.sort(perm[n_cal:])
        self._fit_rng = rng
        return imgs[tr], imgs[cal]

    # --- scoring hooks --------------------------------------------------------------------------
    def _score(self, data) -> np.ndarray:
        imgs = data.images
        return self._scores_from(imgs, self._maps(imgs))

    def _score_extras(self, data):
        imgs = data.images
        maps = self._maps(imgs)
        parts = self._parts(imgs, maps)
        return self._scores_from(imgs, maps), {"anomaly_map": self._to_input(maps, data.input_size), "parts": parts}

    def _explain_model(self, data) -> np.ndarray:
        """An image score is explained by where it comes from: the anomaly maps ``(N, H, W)``."""
        return self._to_input(self._maps(data.images), data.input_size)

    def _parts(self, imgs: np.ndarray, maps: np.ndarray) -> dict:
        """Per-branch z-scores whose fusion is the image score (none for one-branch detectors)."""
        return {}

    def _scores_from(self, imgs: np.ndarray, maps: np.ndarray) -> np.ndarray:
        return self._image_scores(maps)

    # --- public extras --------------------------------------------------------------------------
    def anomaly_map(self, X) -> np.ndarray:
        """``(N, H, W)`` per-pixel anomaly maps at the input's resolution (higher = more anomalous)."""
        _, data = self._checked(X)
        return self._explain_model(data)

    def score_maps(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), anomaly_map(X))`` in one pass."""
        _, data = self._checked(X)
        maps = self._maps(data.images)
        return (np.asarray(self._scores_from(data.images, maps), dtype=np.float64),
                self._to_input(maps, data.input_size))
