"""Image loaders: MVTec-style folders, magnetic tiles (MTD), MNIST idx files and array preprocessing.

Everything runs on tiny files written into ``tmp_path``; one test reads the real MTD data and skips
when it is absent.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from adgdm.data.images import (ImageSet, list_mtd_classes, load_image_files, load_image_folder, load_mnist,
                               load_mtd, to_float_images)

Image = pytest.importorskip("PIL.Image")

DATA = Path(os.environ.get("ADGDM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MTD = DATA / "mtd"


def _save(path: Path, arr) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)
    return path


def _rgb(h, w, value):
    return np.full((h, w, 3), value, dtype=np.uint8)


# ----------------------------------------------------------------------------- MVTec-style folders


@pytest.fixture
def mvtec(tmp_path):
    """train/good: 3 RGB 8x8; test/good: 2; test/crack: 2 with masks (one in each naming); test/hole: 1."""
    root = tmp_path / "obj"
    for i in range(3):
        _save(root / "train" / "good" / f"{i:03d}.png", _rgb(8, 8, 10 * i))
    for i in range(2):
        _save(root / "test" / "good" / f"{i:03d}.png", _rgb(8, 8, 100))
    m0 = np.zeros((8, 8)); m0[:2, :3] = 255                       # 6 defect pixels
    m1 = np.zeros((8, 8)); m1[5:, 5:] = 200                       # 9 defect pixels, soft value
    m1[0, 0] = 127                                               # below the threshold
    _save(root / "test" / "crack" / "000.png", _rgb(8, 8, 200))
    _save(root / "test" / "crack" / "001.png", _rgb(8, 8, 220))
    _save(root / "ground_truth" / "crack" / "000_mask.png", m0)
    _save(root / "ground_truth" / "crack" / "001.png", m1)        # accepted without "_mask"
    _save(root / "test" / "hole" / "000.png", _rgb(8, 8, 250))
    m2 = np.zeros((8, 8)); m2[4, 4] = 255
    _save(root / "ground_truth" / "hole" / "000_mask.png", m2)
    (root / "test" / "hole" / "notes.txt").write_text("not an image")
    return root


def test_folder_labels_kinds_masks(mvtec):
    train, test = load_image_folder(mvtec)
    assert isinstance(train, ImageSet)
    assert train.images.shape == (3, 8, 8, 3) and train.images.dtype == np.float32
    assert train.labels.tolist() == [0, 0, 0] and train.kinds == ["good"] * 3
    assert train.names == ["000", "001", "002"]
    np.testing.assert_allclose(train.images[2], 20 / 255, atol=1e-6)
    assert test.kinds == ["good", "good", "crack", "crack", "hole"]
    assert test.labels.tolist() == [0, 0, 1, 1, 1]
    assert test.masks.shape == (5, 8, 8) and test.masks.dtype == np.uint8
    assert set(np.unique(test.masks)) <= {0, 1}
    assert test.masks[:2].sum() == 0                              # good images: all-zero masks
    assert test.masks[2].sum() == 6 and test.masks[2][:2, :3].all()
    assert test.masks[3].sum() == 9 and test.masks[3][0, 0] == 0  # 200 -> 1, 127 -> 0
    assert test.masks[4].sum() == 1 and test.masks[4][4, 4] == 1
    np.testing.assert_allclose(test.images[4], 250 / 255, atol=1e-6)


def test_folder_without_ground_truth_has_no_masks(mvtec):
    import shutil

    shutil.rmtree(mvtec / "ground_truth")
    train, test = load_image_folder(mvtec, channels=1)
    assert test.masks is None and train.masks is None
    assert test.images.shape == (5, 8, 8, 1)


def test_folder_missing_mask_is_an_error(mvtec):
    (mvtec / "ground_truth" / "hole" / "000_mask.png").unlink()
    with pytest.raises(ValueError, match="hole"):
        load_image_folder(mvtec)


def test_mixed_sizes_need_size(mvtec):
    _save(mvtec / "test" / "good" / "big.png", _rgb(10, 12, 50))
    with pytest.raises(ValueError, match=r"size=") as e:
        load_image_folder(mvtec)
    assert "8x8" in str(e.value) and "10x12" in str(e.value)
    train, test = load_image_folder(mvtec, size=6)
    assert train.images.shape == (3, 6, 6, 3) and test.images.shape == (6, 6, 6, 3)
    assert test.masks.shape == (6, 6, 6)
    assert "big" in test.names and test.labels[test.names.index("big")] == 0
    np.testing.assert_allclose(test.images[test.names.index("big")], 50 / 255, atol=1e-5)
    # crop to a square first, then resize; masks follow the same crop
    _, test = load_image_folder(mvtec, crop=8, size=4)
    assert test.images.shape == (6, 4, 4, 3) and test.masks.shape == (6, 4, 4)


def test_empty_or_missing_train_is_an_error(tmp_path):
    (tmp_path / "a" / "train" / "good").mkdir(parents=True)
    _save(tmp_path / "a" / "test" / "good" / "0.png", _rgb(8, 8, 0))
    with pytest.raises(ValueError, match=r"train.good"):
        load_image_folder(tmp_path / "a")
    with pytest.raises(ValueError, match=r"train.good"):
        load_image_folder(tmp_path / "missing")


def test_unreadable_file_is_named(tmp_path):
    good = _save(tmp_path / "ok.png", _rgb(8, 8, 0))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png \x00\x01\x02" * 10)
    with pytest.raises(ValueError, match="broken.png"):
        load_image_files([good, bad])
    with pytest.raises(ValueError, match="nothere.png"):
        load_image_files([tmp_path / "nothere.png"])


def test_load_files_masks_and_channels(tmp_path):
    gray = _save(tmp_path / "g.png", np.full((8, 8), 255))
    rgb = _save(tmp_path / "c.png", _rgb(8, 8, 0))
    X = load_image_files([gray, rgb])                             # mixed -> promoted to RGB
    assert X.shape == (2, 8, 8, 3)
    np.testing.assert_allclose(X[0], 1.0)
    np.testing.assert_allclose(X[1], 0.0)
    assert load_image_files([gray, rgb], channels=1).shape == (2, 8, 8, 1)
    soft = np.array([[0, 127, 128, 255]] * 4)
    M = load_image_files([_save(tmp_path / "m.png", soft)], mask=True)
    assert M.dtype == np.uint8 and M[0, 0].tolist() == [0, 0, 1, 1]
    M = load_image_files([tmp_path / "m.png"], size=(2, 2), mask=True)
    assert set(np.unique(M)) == {0, 1}                            # nearest: still binary


# ----------------------------------------------------------------------------- arrays


def test_to_float_uint8_and_float_agree():
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, size=(2, 10, 12), dtype=np.uint8)
    a = to_float_images(X8, size=(5, 6))
    b = to_float_images(X8 / 255.0, size=(5, 6))
    c = to_float_images(X8.astype(np.float64), size=(5, 6))       # float with max > 1 -> [0, 255]
    assert a.shape == (2, 5, 6, 1) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, c, atol=1e-6)
    assert 0.0 <= a.min() and a.max() <= 1.0
    full = to_float_images(X8)
    np.testing.assert_allclose(full[..., 0], X8 / 255.0, atol=1e-7)
    np.testing.assert_allclose(to_float_images(X8.astype(np.int64)), full)
    # integer arrays are always [0, 255], even when dark: 1 means 1/255, not white
    np.testing.assert_allclose(to_float_images(np.ones((1, 2, 2), np.uint8)), 1 / 255)


def test_to_float_crop_resize_and_channels():
    X = np.zeros((1, 6, 10), dtype=np.uint8)
    X[0, :, 2:8] = 255                                            # the centre 6x6 square is white
    np.testing.assert_allclose(to_float_images(X, crop=6), 1.0)
    assert to_float_images(X, crop=4, size=2).shape == (1, 2, 2, 1)
    rgb = to_float_images(X, channels=3)
    assert rgb.shape == (1, 6, 10, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    col = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    col[..., 1] = 255                                             # pure green
    np.testing.assert_allclose(to_float_images(col, channels=1), 0.587, atol=1e-6)
    rgba = np.concatenate([col, np.zeros((1, 2, 2, 1), np.uint8)], axis=3)
    np.testing.assert_allclose(to_float_images(rgba), to_float_images(col))


@pytest.mark.parametrize("X, match", [
    (np.zeros((4, 4)), "ndim"),
    (np.zeros((1, 2, 4, 4, 1)), "ndim"),
    (np.zeros((1, 4, 4, 2)), "channels"),
    (np.zeros((0, 4, 4)), "empty"),
    (np.array([[[0.5, np.nan]]]), "NaN"),
    (np.array([[[0.5, np.inf]]]), "NaN"),
    (np.array([[[-1.0, 0.5]]]), "negative"),
    (np.array([[[300, 2]]], dtype=np.int32), "255"),
])
def test_to_float_errors(X, match):
    with pytest.raises(ValueError, match=match):
        to_float_images(X)


def test_to_float_bad_options():
    X = np.zeros((1, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="channels"):
        to_float_images(X, channels=2)
    with pytest.raises(ValueError, match="crop"):
        to_float_images(X, crop=5)
    with pytest.raises(ValueError, match="size"):
        to_float_images(X, size=0)


# ----------------------------------------------------------------------------- MTD


@pytest.fixture
def fake_mtd(tmp_path):
    """MT_Free: 10 images; MT_Crack: 3 images; varying sizes; soft masks."""
    root = tmp_path / "mtd"
    rng = np.random.default_rng(1)
    for i in range(10):
        h, w = 20 + i, 16 + 2 * i
        _save(root / "MT_Free" / "Imgs" / f"free_{i}.jpg", rng.integers(0, 256, (h, w)))
        _save(root / "MT_Free" / "Imgs" / f"free_{i}.png", np.zeros((h, w)))
    for i in range(3):
        img = np.full((24, 30), 120)
        mask = np.zeros((24, 30))
        mask[:12, :] = 127                                        # soft halo below the threshold
        mask[12:, :] = 128 + 50 * i                               # bottom half is defect
        _save(root / "MT_Crack" / "Imgs" / f"crack_{i}.jpg", img)
        _save(root / "MT_Crack" / "Imgs" / f"crack_{i}.png", mask)
    (root / "MT_Break").mkdir()                                   # no Imgs: not a class
    return root


def test_mtd_split(fake_mtd):
    assert list_mtd_classes(fake_mtd) == ["Crack"]
    train, test = load_mtd(fake_mtd, size=8, test_fraction=0.2)
    assert train.images.shape == (8, 8, 8, 1) and test.images.shape == (5, 8, 8, 1)
    assert train.labels.sum() == 0 and test.labels.tolist() == [0, 0, 1, 1, 1]
    assert test.kinds == ["good", "good", "Crack", "Crack", "Crack"]
    assert not set(train.names) & set(test.names)
    assert sorted(train.names + test.names[:2]) == sorted(f"free_{i}" for i in range(10))
    assert test.masks.shape == (5, 8, 8) and test.masks.dtype == np.uint8
    assert test.masks[:2].sum() == 0
    for m in test.masks[2:]:                                      # top half 127 -> 0, bottom >= 128 -> 1
        assert m[:4].sum() == 0 and m[4:].all()
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0


def test_mtd_seed_and_cap(fake_mtd):
    a, ta = load_mtd(fake_mtd, size=8, seed=3)
    b, tb = load_mtd(fake_mtd, size=8, seed=3)
    assert a.names == b.names and ta.names == tb.names
    np.testing.assert_array_equal(a.images, b.images)
    assert any(load_mtd(fake_mtd, size=8, seed=s)[0].names != a.names for s in range(4, 9))
    small_train, small_test = load_mtd(fake_mtd, size=8, max_per_class=2, channels=3)
    assert len(small_train) + (np.array(small_test.kinds) == "good").sum() == 2
    assert small_test.n_anomalous == 2 and small_test.images.shape[3] == 3


def test_mtd_missing_root(tmp_path):
    with pytest.raises(ValueError, match="MT_Free"):
        load_mtd(tmp_path)


@pytest.mark.skipif(not (MTD / "MT_Free" / "Imgs").is_dir(), reason=f"MTD data not found at {MTD} (set ADGDM_DATA)")
def test_real_mtd():
    train, test = load_mtd(MTD, size=64, max_per_class=5)
    assert train.images.shape == (4, 64, 64, 1) and train.images.dtype == np.float32
    classes = list_mtd_classes(MTD)
    assert {"Blowhole", "Break", "Crack"} <= set(classes)
    assert len(test) == 1 + 5 * len(classes) and test.n_anomalous == 5 * len(classes)
    assert test.masks.shape == (len(test), 64, 64)
    assert set(np.unique(test.masks)) == {0, 1}
    bad = test.labels == 1
    assert (test.masks[bad].reshape(bad.sum(), -1).sum(axis=1) > 0).all()
    assert test.masks[~bad].sum() == 0
    assert 0.0 <= test.images.min() and test.images.max() <= 1.0 and test.images.std() > 0.01


# ----------------------------------------------------------------------------- MNIST


def _write_idx(root: Path, images: np.ndarray, labels: np.ndarray):
    root.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    head = np.array([2051, n, h, w], dtype=">i4").tobytes()
    with gzip.open(root / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(head + images.astype(np.uint8).tobytes())
    with gzip.open(root / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(np.array([2049, n], dtype=">i4").tobytes() + labels.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    labels = np.arange(60) % 3                                    # 20 each of 0, 1, 2
    images = np.zeros((60, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(60)                               # pixel (0, 0) encodes the index
    images[:, 5, 5] = 255
    _write_idx(tmp_path / "mnist", images, labels)
    return tmp_path / "mnist"


def _index(s: ImageSet) -> list[int]:
    return [int(round(v)) for v in s.images[:, 0, 0, 0] * 255]


def test_mnist_one_vs_rest(fake_mnist):
    train, test = load_mnist(fake_mnist, normal_digit=1)
    assert train.images.shape == (10, 28, 28, 1) and train.images.dtype == np.float32
    assert train.masks is None and test.masks is None
    assert train.images[:, 5, 5, 0].min() == 1.0
    tr, te = _index(train), _index(test)
    assert [int(n) for n in train.names] == tr and [int(n) for n in test.names] == te
    assert all(i % 3 == 1 for i in tr) and train.labels.sum() == 0
    assert not set(tr) & set(te) and sorted(tr + te) == list(range(60))
    assert len(test) == 50 and test.n_anomalous == 40
    np.testing.assert_array_equal(test.labels, [int(i % 3 != 1) for i in te])
    assert {k for k, i in zip(test.kinds, te) if i % 3 != 1} == {"0", "2"}
    assert {k for k, i in zip(test.kinds, te) if i % 3 == 1} == {"good"}
    # cap and seed
    small, small_test = load_mnist(fake_mnist, normal_digit=1, n_train=4)
    assert len(small) == 4 and set(_index(small)) <= set(tr) and small_test.names == test.names
    assert load_mnist(fake_mnist, 1, seed=0)[0].names == train.names
    assert any(load_mnist(fake_mnist, 1, seed=s)[0].names != train.names for s in range(1, 5))


@pytest.mark.parametrize("digit", [10, -1, 1.5, True, "3"])
def test_mnist_bad_digit(fake_mnist, digit):
    with pytest.raises(ValueError, match="normal_digit"):
        load_mnist(fake_mnist, normal_digit=digit)


def test_mnist_corrupted(fake_mnist):
    f = fake_mnist / "t10k-images-idx3-ubyte.gz"
    raw = gzip.open(f).read()
    with gzip.open(f, "wb") as g:                                 # truncated data
        g.write(raw[:-100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(fake_mnist, 0)
    with gzip.open(f, "wb") as g:                                 # wrong magic
        g.write(np.array([2049], ">i4").tobytes() + raw[4:])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(fake_mnist, 0)
    f.write_bytes(b"\x1f\x8b garbage that is not gzip")             # broken gzip stream
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(fake_mnist, 0)
    f.write_bytes(gzip.compress(raw)[:200])                        # truncated gzip file
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(fake_mnist, 0)
