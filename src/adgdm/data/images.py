"""Image data for anomaly detection: MVTec-style folders, the magnetic-tile (MTD) set and MNIST.

Every loader returns :class:`ImageSet` objects holding float32 images in ``[0, 1]`` of shape
``(N, H, W, C)``, 0/1 labels (1 = anomalous) and, where ground truth exists, uint8 0/1 pixel
masks ``(N, H, W)``. Reading image files needs pillow (imported only when needed).

Example
-------
>>> imgs = to_float_images(np.full((2, 4, 6), 255, dtype=np.uint8), size=2)
>>> imgs.shape, imgs.dtype, float(imgs.max())
((2, 2, 2, 1), dtype('float32'), 1.0)
"""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ImageSet", "ImageSizeError", "to_float_images", "load_image_files", "load_image_folder", "load_image_dir", "load_mtd", "load_mnist",
           "list_mtd_classes"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MASK_THRESHOLD = 128
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's RGB -> "L"


def _pil():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("reading or resizing images needs pillow: pip install pillow") from e
    return Image


def _resample(name: str):
    Image = _pil()
    return getattr(getattr(Image, "Resampling", Image), name)


@dataclass
class ImageSet:
    """Images with labels and optional pixel masks.

    ``images`` float32 ``(N, H, W, C)`` in ``[0, 1]``; ``labels`` int ``(N,)``, 1 = anomalous;
    ``masks`` uint8 0/1 ``(N, H, W)`` or None when the data has no pixel ground truth;
    ``names`` file stem (or index) per image; ``kinds`` ``"good"`` or the defect type per image.

    Example
    -------
    >>> s = ImageSet(np.zeros((3, 4, 4, 1), np.float32), np.array([0, 0, 1]), None,
    ...              ["a", "b", "c"], ["good", "good", "crack"])
    >>> len(s), s.n_anomalous
    (3, 1)
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray | None
    names: list[str]
    kinds: list[str]

    def __post_init__(self):
        n = len(self.images)
        self.labels = np.asarray(self.labels).astype(np.int64).ravel()
        self.names, self.kinds = list(self.names), list(self.kinds)
        if not (len(self.labels) == len(self.names) == len(self.kinds) == n):
            raise ValueError(f"ImageSet: {n} images but {len(self.labels)} labels, {len(self.names)} names, "
                             f"{len(self.kinds)} kinds")
        if self.masks is not None and self.masks.shape != self.images.shape[:3]:
            raise ValueError(f"ImageSet: masks of shape {self.masks.shape} for images {self.images.shape}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_anomalous(self) -> int:
        return int(self.labels.sum())


# ----------------------------------------------------------------------------- arrays


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    hw = (size, size) if np.ndim(size) == 0 else tuple(size)
    if len(hw) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in hw):
        raise ValueError(f"size must be a positive int or a (height, width) pair of them, got {size!r}")
    return int(hw[0]), int(hw[1])


def _check_crop(crop, h: int, w: int) -> int | None:
    if crop is None:
        return None
    if not isinstance(crop, (int, np.integer)) or isinstance(crop, bool) or crop <= 0:
        raise ValueError(f"crop must be a positive int, got {crop!r}")
    if crop > min(h, w):
        raise ValueError(f"crop={crop} is larger than the image ({h}x{w})")
    return int(crop)


def _center_crop(a: np.ndarray, crop: int | None) -> np.ndarray:
    """Center-crop the two axes after the first (``(N, H, W, ...)``) to ``crop x crop``."""
    if crop is None:
        return a
    h, w = a.shape[1:3]
    top, left = (h - crop) // 2, (w - crop) // 2
    return a[:, top:top + crop, left:left + crop]


def _resize_float(X: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of float ``(N, H, W, C)`` channel by channel in PIL's float mode (no 8-bit rounding)."""
    if X.shape[1:3] == hw:
        return X
    Image, bilinear = _pil(), _resample("BILINEAR")
    out = np.empty((X.shape[0], hw[0], hw[1], X.shape[3]), dtype=np.float32)
    for i in range(X.shape[0]):
        for c in range(X.shape[3]):
            im = Image.fromarray(np.ascontiguousarray(X[i, :, :, c], dtype=np.float32))
            out[i, :, :, c] = np.asarray(im.resize((hw[1], hw[0]), bilinear), dtype=np.float32)
    return np.clip(out, 0.0, 1.0, out=out)


def _convert_channels(X: np.ndarray, channels: int | None) -> np.ndarray:
    if channels is None or X.shape[3] == channels:
        return X
    if channels == 3:
        return np.repeat(X, 3, axis=3)
    return (X @ _LUMA)[..., None].astype(np.float32)


def to_float_images(X, size=None, crop=None, channels=None) -> np.ndarray:
    """Images as float32 ``(N, H, W, C)`` in ``[0, 1]``, optionally cropped, resized and re-channelled.

    Parameters
    ----------
    X : array ``(N, H, W)`` or ``(N, H, W, C)`` with C in 1, 3 or 4 (alpha is dropped). Integer
        arrays, and float arrays whose maximum exceeds 1, are read as ``[0, 255]``; other float
        arrays as ``[0, 1]`` (so a float image that is ``[0, 255]`` but nearly black is ambiguous:
        pass it as an integer array).
    size : int or (height, width), optional. Bilinear resize (PIL, antialiased when shrinking).
    crop : int, optional. Center-crop to ``crop x crop`` before resizing.
    channels : 1 or 3, optional. Gray -> RGB repeats the channel; RGB -> gray uses ITU-R 601 luma.

    Example
    -------
    >>> X = np.arange(16, dtype=np.uint8).reshape(1, 4, 4) * 17
    >>> a, b = to_float_images(X, channels=3), to_float_images(X / 255.0, channels=3)
    >>> a.shape, bool(np.allclose(a, b))
    ((1, 4, 4, 3), True)
    >>> to_float_images(X, crop=2)[0, :, :, 0] * 255
    array([[ 85., 102.],
           [153., 170.]], dtype=float32)
    """
    X = np.asarray(X)
    if X.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got an array with ndim={X.ndim} "
                         f"(shape {X.shape})")
    if X.size == 0:
        raise ValueError(f"images are empty (shape {X.shape})")
    if X.ndim == 3:
        X = X[..., None]
    if X.shape[3] not in (1, 3, 4):
        raise ValueError(f"images must have 1, 3 or 4 (RGBA) channels, got {X.shape[3]} (shape {X.shape})")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    hw = _check_size(size)
    crop = _check_crop(crop, X.shape[1], X.shape[2])
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating) or X.dtype == bool):
        raise ValueError(f"images must be real numbers (integers, floats or bools), got dtype {X.dtype}")
    if X.shape[3] == 4:
        X = X[..., :3]
    X = _center_crop(X, crop)
    if X.dtype == bool:
        F = X.astype(np.float32)
    else:
        if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
            raise ValueError("images contain NaN or infinite values")
        lo, hi = X.min(), X.max()
        if lo < 0:
            raise ValueError(f"images contain negative values (min {lo}); expected [0, 1] or [0, 255]")
        if hi > 255:
            raise ValueError(f"images have values up to {hi}; expected [0, 1] or [0, 255]")
        scale = 255.0 if (np.issubdtype(X.dtype, np.integer) or hi > 1) else 1.0
        F = (X.astype(np.float64) / scale).astype(np.float32)
    if channels == 1:  # reduce before resizing: less work, same result (both linear)
        F = _convert_channels(F, 1)
    if hw is not None:
        F = _resize_float(F, hw)
    return np.ascontiguousarray(_convert_channels(F, channels), dtype=np.float32)


# ----------------------------------------------------------------------------- files


class ImageSizeError(ValueError):
    """Files that should share one size do not: ``first`` is ``first_hw`` (height, width), ``other``
    is ``other_hw``. A reader that offers its own resize option rewords the advice."""

    def __init__(self, message: str, first, first_hw, other, other_hw):
        super().__init__(message)
        self.first, self.first_hw, self.other, self.other_hw = first, tuple(first_hw), other, tuple(other_hw)


def _read_array(path: Path, mask: bool) -> np.ndarray:
    """One file as ``(H, W)`` or ``(H, W, 3)``: uint8 (masks: 0-255 gray) or float in [0, 1] (16-bit images)."""
    Image = _pil()
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode.startswith("I") and not mask:  # 16-bit gray (Pillow opens it as "I;16" or "I")
                return np.clip(np.asarray(im, dtype=np.float32) / 65535.0, 0.0, 1.0)
            if mask or mode in ("1", "L", "LA"):
                return np.asarray(im.convert("L"), dtype=np.uint8)
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError(f"image file {str(path)!r} does not exist") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read image file {str(path)!r}: {e}") from e


def load_image_files(paths, size=None, crop=None, channels=None, mask=False) -> np.ndarray:
    """Read image files with PIL into one array.

    Parameters
    ----------
    paths : sequence of paths (or binary file objects).
    size, crop, channels : as in :func:`to_float_images` (crop before resize). Without ``size`` all
        images (after ``crop``) must share one size. With ``channels=None`` and a mix of gray and
        colour files, gray ones are repeated to 3 channels.
    mask : if True, read pixel masks instead: ``(N, H, W)`` uint8, 1 where the gray value is >= 128
        (soft masks are binarised); resized with nearest neighbour.

    Returns
    -------
    float32 ``(N, H, W, C)`` in ``[0, 1]``, or uint8 ``(N, H, W)`` masks.

    Example
    -------
    >>> X = load_image_files(["a.png", "b.jpg"], size=64, channels=3)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (2, 64, 64, 3)
    """
    paths = [p if hasattr(p, "read") else Path(p) for p in paths]  # a file object: an upload (adgdm serve)
    if not paths:
        raise ValueError("no image files given")
    hw = _check_size(size)
    out, first = [], None
    for p in paths:
        a = _read_array(p, mask)
        c = _check_crop(crop, a.shape[0], a.shape[1])
        a = _center_crop(a[None], c)[0]
        if hw is None:
            if first is None:
                first = (p, a.shape[:2])
            elif a.shape[:2] != first[1]:
                (h0, w0), (h1, w1) = first[1], a.shape[:2]
                raise ImageSizeError(f"images differ in size: {str(first[0])!r} is {h0}x{w0} (HxW) but {str(p)!r} is "
                                     f"{h1}x{w1}; pass size= (e.g. size=256) to resize them to one size",
                                     first[0], first[1], p, a.shape[:2])
        if mask:
            if hw is not None and a.shape[:2] != hw:
                a = np.asarray(_pil().fromarray(a).resize((hw[1], hw[0]), _resample("NEAREST")))
            out.append((a >= MASK_THRESHOLD).astype(np.uint8))
        else:
            out.append(to_float_images(a[None], size=hw, channels=channels)[0])
    if mask:
        return np.stack(out)
    if channels is None and len({a.shape[2] for a in out}) > 1:
        out = [_convert_channels(a[None], 3)[0] for a in out]
    return np.stack(out)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def _find_mask(gt: Path, kind: str, stem: str) -> Path:
    for name in (f"{stem}_mask", stem):
        for suffix in IMAGE_SUFFIXES:
            p = gt / kind / (name + suffix)
            if p.is_file():
                return p
    raise ValueError(f"no ground-truth mask for test/{kind}/{stem}: expected {str(gt / kind / (stem + '_mask.png'))!r} "
                     f"or {str(gt / kind / (stem + '.png'))!r}")


def load_image_folder(root, size=None, crop=None, channels=None) -> tuple[ImageSet, ImageSet]:
    """Load an MVTec-style folder as ``(train, test)``.

    Layout: ``root/train/good/*`` (normal training images), ``root/test/good/*`` and
    ``root/test/<defect_type>/*``; optional pixel masks ``root/ground_truth/<defect_type>/<stem>_mask.png``
    (MVTec naming) or ``<stem>.png``. With a ``ground_truth`` folder every defect image needs a
    mask, good images (train and test) get all-zero masks; without one both sets have ``masks=None``.
    ``kinds`` is ``"good"`` or the defect folder name; test order is good first, then defect types
    by name. ``size``, ``crop``, ``channels`` as in :func:`to_float_images`; without ``size``
    every image must have the same size.

    Example
    -------
    >>> train, test = load_image_folder("/path/to/mvtec/bottle", size=128)  # doctest: +SKIP
    >>> train.images.shape, test.n_anomalous, test.masks.shape  # doctest: +SKIP
    ((209, 128, 128, 3), 63, (83, 128, 128))
    """
    root = Path(root)
    train_dir, test_dir = root / "train" / "good", root / "test"
    if not train_dir.is_dir():
        raise ValueError(f"no training folder {str(train_dir)!r} (expected MVTec layout root/train/good)")
    train_files = _image_files(train_dir)
    if not train_files:
        raise ValueError(f"training folder {str(train_dir)!r} has no image files ({', '.join(IMAGE_SUFFIXES)})")
    if not test_dir.is_dir():
        raise ValueError(f"no test folder {str(test_dir)!r} (expected MVTec layout root/test/<good|defect_type>)")
    kinds_dirs = sorted((d for d in test_dir.iterdir() if d.is_dir() and not d.name.startswith(".")),
                        key=lambda d: (d.name != "good", d.name))
    test_files, test_kinds = [], []
    for d in kinds_dirs:
        files = _image_files(d)
        test_files += files
        test_kinds += [d.name] * len(files)
    if not test_files:
        raise ValueError(f"test folder {str(test_dir)!r} has no images in its sub-folders")
    # one call for both sets, so a size mismatch between them is caught too
    X = load_image_files(train_files + test_files, size=size, crop=crop, channels=channels)
    X_train, X_test = X[:len(train_files)], X[len(train_files):]
    labels = np.array([k != "good" for k in test_kinds], dtype=np.int64)
    train_masks = test_masks = None
    gt = root / "ground_truth"
    if gt.is_dir():
        train_masks = np.zeros(X_train.shape[:3], dtype=np.uint8)
        test_masks = np.zeros(X_test.shape[:3], dtype=np.uint8)
        bad = np.flatnonzero(labels)
        if len(bad):
            mask_files = [_find_mask(gt, test_kinds[i], test_files[i].stem) for i in bad]
            M = load_image_files(mask_files, size=size or X.shape[1:3], crop=crop, mask=True)
            test_masks[bad] = M
    train = ImageSet(X_train, np.zeros(len(train_files), dtype=np.int64), train_masks,
                     [p.stem for p in train_files], ["good"] * len(train_files))
    test = ImageSet(X_test, labels, test_masks, [p.stem for p in test_files], test_kinds)
    return train, test


# ----------------------------------------------------------------------------- MTD


def _mtd_root(root) -> Path:
    root = Path(root)
    for r in (root, root / "mtd"):  # also accept the data folder that holds mtd/
        if (r / "MT_Free" / "Imgs").is_dir():
            return r
    raise ValueError(f"no magnetic-tile data at {str(root)!r}: expected {str(root / 'MT_Free' / 'Imgs')!r}")


def list_mtd_classes(root) -> list[str]:
    """Defect classes of the magnetic-tile (MTD) data under ``root``, without the ``MT_`` prefix.

    Example
    -------
    >>> list_mtd_classes("/path/to/mtd")  # doctest: +SKIP
    ['Blowhole', 'Break', 'Crack']
    """
    r = _mtd_root(root)
    return sorted(d.name[3:] for d in r.glob("MT_*") if d.name != "MT_Free" and (d / "Imgs").is_dir())


def _check_fraction(test_fraction) -> float:
    f = float(test_fraction)
    if not 0.0 < f < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    return f


def _n_test(n: int, fraction: float) -> int:
    # at least one image on each side whenever there are two
    return int(min(max(round(n * fraction), 1), n - 1)) if n >= 2 else 0


def load_mtd(root, size=128, seed=0, test_fraction=0.2, channels=1, max_per_class=None) -> tuple[ImageSet, ImageSet]:
    """Load the magnetic-tile surface-defect data (Huang et al., 2018) as ``(train, test)``.

    ``root`` holds ``MT_<class>/Imgs/*.jpg`` with a same-name ``.png`` mask per image. A seeded
    permutation of ``MT_Free`` puts ``test_fraction`` of it into test (label 0, zero masks) and the
    rest into train; every image of a defect class goes to test (label 1) with its mask binarised
    at 128. ``kinds`` is ``"good"`` for ``MT_Free`` and the class name without ``MT_`` otherwise
    (``"Blowhole"``, ...). The jpgs vary in size and aspect ratio: images are resized to
    ``size x size`` (bilinear; masks nearest). ``max_per_class`` keeps a seeded random subset of
    each class (including ``MT_Free``) for quick runs. Train masks are all zero.

    Example
    -------
    >>> train, test = load_mtd("/path/to/mtd", size=64, max_per_class=5)  # doctest: +SKIP
    >>> train.images.shape, test.kinds[-1], int(test.masks[-1].sum()) > 0  # doctest: +SKIP
    ((4, 64, 64, 1), 'Crack', True)
    """
    r = _mtd_root(root)
    fraction = _check_fraction(test_fraction)
    hw = _check_size(size)
    if hw is None:
        raise ValueError("load_mtd needs a size: the magnetic-tile images vary in size")
    if max_per_class is not None and (not isinstance(max_per_class, (int, np.integer)) or max_per_class < 1):
        raise ValueError(f"max_per_class must be a positive int or None, got {max_per_class!r}")
    rng = np.random.default_rng(seed)

    def files(cls: str) -> list[Path]:
        jpgs = sorted(p for p in (r / cls / "Imgs").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        if max_per_class is not None and len(jpgs) > max_per_class:
            keep = np.sort(rng.choice(len(jpgs), size=max_per_class, replace=False))
            jpgs = [jpgs[i] for i in keep]
        return jpgs

    free = files("MT_Free")
    if not free:
        raise ValueError(f"no .jpg images in {str(r / 'MT_Free' / 'Imgs')!r}")
    defects = [(c, files("MT_" + c)) for c in list_mtd_classes(r)]
    perm = rng.permutation(len(free))
    n_test = _n_test(len(free), fraction)
    train_free = [free[i] for i in np.sort(perm[n_test:])]
    test_free = [free[i] for i in np.sort(perm[:n_test])]

    test_files, kinds = list(test_free), ["good"] * len(test_free)
    for c, fs in defects:
        test_files += fs
        kinds += [c] * len(fs)
    masks = np.zeros((len(test_files), *hw), dtype=np.uint8)
    if len(test_files) > len(test_free):
        mask_files = []
        for p in test_files[len(test_free):]:
            m = p.with_suffix(".png")
            if not m.is_file():
                raise ValueError(f"no mask {str(m)!r} for defect image {str(p)!r}")
            mask_files.append(m)
        masks[len(test_free):] = load_image_files(mask_files, size=hw, mask=True)
    X_train = load_image_files(train_free, size=hw, channels=channels) if train_free else \
        np.zeros((0, *hw, channels or 1), np.float32)
    X_test = load_image_files(test_files, size=hw, channels=channels) if test_files else \
        np.zeros((0, *hw, channels or 1), np.float32)
    train = ImageSet(X_train, np.zeros(len(train_free), dtype=np.int64), np.zeros(X_train.shape[:3], np.uint8),
                     [p.stem for p in train_free], ["good"] * len(train_free))
    test = ImageSet(X_test, np.array([k != "good" for k in kinds], dtype=np.int64), masks,
                    [p.stem for p in test_files], kinds)
    return train, test


# ----------------------------------------------------------------------------- MNIST


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """An idx file (gzip or plain): big-endian int32 magic and dims, then uint8 data."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"MNIST file {str(path)!r} does not exist") from None
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"cannot read MNIST file {str(path)!r} (corrupted or truncated?): {e}") from e
    head = 4 * (1 + ndim)
    if len(raw) < head:
        raise ValueError(f"MNIST file {str(path)!r} is truncated: {len(raw)} bytes, header needs {head}")
    found, *dims = (int(v) for v in np.frombuffer(raw[:head], dtype=">i4"))
    if found != magic:
        raise ValueError(f"MNIST file {str(path)!r} has magic number {found}, expected {magic} "
                         "(wrong or corrupted file)")
    n = int(np.prod(dims))
    if len(raw) - head != n:
        raise ValueError(f"MNIST file {str(path)!r} is truncated or corrupted: header says {n} data bytes, "
                         f"file has {len(raw) - head}")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def _idx_path(root: Path, name: str) -> Path:
    for p in (root / (name + ".gz"), root / name):
        if p.is_file():
            return p
    return root / (name + ".gz")


def load_mnist(root, normal_digit: int, n_train=None, seed=0, test_fraction=0.5) -> tuple[ImageSet, ImageSet]:
    """MNIST (test split, idx files) under the one-vs-rest protocol, as ``(train, test)``.

    Reads ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` in ``root``. Images of
    ``normal_digit`` are normal: a seeded permutation puts ``1 - test_fraction`` of them into train
    (capped at ``n_train`` if given; the cap does not move images into test) and the rest, plus every
    other digit with label 1, into test. Images ``(N, 28, 28, 1)`` float32 in ``[0, 1]``; ``masks`` is
    None; ``names`` is the index in the file; ``kinds`` is ``"good"`` or the digit (``"3"``).

    Example
    -------
    >>> train, test = load_mnist("/path/to/mnist", normal_digit=0)  # doctest: +SKIP
    >>> len(train), len(test), test.n_anomalous  # doctest: +SKIP
    (490, 9510, 9020)
    """
    is_int = isinstance(normal_digit, (int, np.integer)) and not isinstance(normal_digit, bool)
    if not is_int or not 0 <= normal_digit <= 9:
        raise ValueError(f"normal_digit must be an int from 0 to 9, got {normal_digit!r}")
    if n_train is not None and (not isinstance(n_train, (int, np.integer)) or n_train < 1):
        raise ValueError(f"n_train must be a positive int or None, got {n_train!r}")
    fraction = _check_fraction(test_fraction)
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"MNIST folder {str(root)!r} does not exist")
    X = _read_idx(_idx_path(root, "t10k-images-idx3-ubyte"), 2051, 3)
    y = _read_idx(_idx_path(root, "t10k-labels-idx1-ubyte"), 2049, 1)
    if len(X) != len(y):
        raise ValueError(f"MNIST files in {str(root)!r} disagree: {len(X)} images but {len(y)} labels")
    if y.size and y.max() > 9:
        raise ValueError(f"MNIST labels in {str(root)!r} contain {int(y.max())}; expected digits 0-9 (corrupted?)")
    normal = np.flatnonzero(y == normal_digit)
    if len(normal) == 0:
        raise ValueError(f"no images of digit {normal_digit} in {str(root)!r}")
    perm = np.random.default_rng(seed).permutation(normal)
    n_test = _n_test(len(normal), fraction)
    train_idx = np.sort(perm[n_test:][:n_train] if n_train is not None else perm[n_test:])
    test_idx = np.sort(np.concatenate([perm[:n_test], np.flatnonzero(y != normal_digit)]))

    def subset(idx):
        lab = (y[idx] != normal_digit).astype(np.int64)
        kinds = ["good" if d == normal_digit else str(int(d)) for d in y[idx]]
        return ImageSet((X[idx].astype(np.float32) / 255.0)[..., None], lab, None, [str(i) for i in idx], kinds)

    return subset(train_idx), subset(test_idx)


def load_image_dir(path, size=None, crop=None, channels=None) -> np.ndarray:
    """The training images of an image folder, as a detector is fitted on them: an MVTec-style
    folder's ``train/good`` images, else every image file in ``path`` (sorted by name); resized,
    cropped and converted as :func:`to_float_images` does (detectors take arrays, not folders)."""
    p = Path(path)
    if not p.is_dir():
        raise ValueError(f"no such image folder: {p}")
    if (p / "train" / "good").is_dir():
        return load_image_folder(p, size=size, crop=crop, channels=channels)[0].images
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {p}")
    return load_image_files(files, size=size, crop=crop, channels=channels)
