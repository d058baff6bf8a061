"""Classical synthetic image defects: Perlin noise / masks, blobs, DRAEM-style paste, CutPaste."""
from __future__ import annotations

import numpy as np
import pytest

from adgdm.generation.image_synth import blob_mask, cutpaste, perlin_mask, perlin_noise, perlin_paste


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((4, 48, 40, 3), dtype=np.float32)


def _neighbour_corr(n: np.ndarray) -> float:
    return float(np.corrcoef(n[:, 1:].ravel(), n[:, :-1].ravel())[0, 1])


# --------------------------------------------------------------------------------------------
# noise and masks
# --------------------------------------------------------------------------------------------
def test_perlin_noise_is_smooth_bounded_and_seeded():
    n = perlin_noise((64, 64), 4, rng=0)
    assert n.shape == (64, 64) and n.dtype == np.float64
    assert np.abs(n).max() <= 1 + 1e-12 and n.std() > 0.1
    assert _neighbour_corr(n) > 0.8 and _neighbour_corr(n.T) > 0.8
    np.testing.assert_array_equal(n, perlin_noise((64, 64), 4, rng=np.random.default_rng(0)))
    assert not np.allclose(n, perlin_noise((64, 64), 4, rng=1))
    # finer lattices are rougher; odd sizes and per-axis scales work
    assert _neighbour_corr(perlin_noise((64, 64), 32, rng=0)) < _neighbour_corr(n)
    assert perlin_noise((37, 53), (3, 5), rng=0).shape == (37, 53)


@pytest.mark.parametrize("kwargs", [dict(shape=(0, 4), scale=2), dict(shape=(8, 8), scale=0),
                                    dict(shape=(8, 8), scale=2.5), dict(shape=8, scale=2)])
def test_perlin_noise_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        perlin_noise(rng=0, **kwargs)


def test_perlin_mask_respects_area_bounds():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = perlin_mask((40, 56), rng)
        assert m.shape == (40, 56) and m.dtype == np.uint8
        assert set(np.unique(m)) <= {0, 1}
        assert 0.005 <= m.mean() <= 0.3
    m = perlin_mask((64, 64), rng, threshold=0.3, min_area=0.1, max_area=0.2)
    assert 0.1 <= m.mean() <= 0.2
    np.testing.assert_array_equal(perlin_mask((32, 32), 5), perlin_mask((32, 32), 5))


def test_perlin_mask_rejects_bad_input_and_impossible_bounds():
    with pytest.raises(ValueError, match="min_area"):
        perlin_mask((32, 32), 0, min_area=0.5, max_area=0.1)
    with pytest.raises(ValueError, match="threshold"):
        perlin_mask((32, 32), 0, threshold=1.0)
    with pytest.raises(ValueError, match="after"):  # Perlin noise never exceeds 0.99 over 90 %
        perlin_mask((16, 16), 0, threshold=0.99, min_area=0.9, max_area=1.0)


def test_blob_mask():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = blob_mask((50, 70), rng)
        assert m.shape == (50, 70) and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
        # semi-axes within [0.05, 0.2] of the short side (50 px): area within pi * [2.5, 10]**2 px
        assert np.pi * 2.5 ** 2 * 0.6 <= m.sum() <= np.pi * 10 ** 2 * 1.2
    np.testing.assert_array_equal(blob_mask((32, 32), 3), blob_mask((32, 32), 3))
    assert blob_mask((4, 4), 0, min_radius=0.01, max_radius=0.01).sum() >= 1
    with pytest.raises(ValueError, match="radius"):
        blob_mask((32, 32), 0, min_radius=0.3, max_radius=0.2)


# --------------------------------------------------------------------------------------------
# pastes
# --------------------------------------------------------------------------------------------
def _check_paste(x, out, m):
    assert out.shape == x.shape and out.dtype == np.float32
    assert m.shape == x.shape[:3] and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
    assert 0 <= out.min() and out.max() <= 1
    outside = m == 0
    np.testing.assert_array_equal(out[outside], x[outside])  # exactly unchanged
    for i in range(len(x)):
        inside = m[i] == 1
        assert inside.any() and np.abs(out[i][inside] - x[i][inside]).mean() > 1e-3


def test_perlin_paste_synthetic_texture(images):
    x = images.copy()
    out, m = perlin_paste(images, rng=0)
    np.testing.assert_array_equal(images, x)  # the input is not modified
    _check_paste(images, out, m)
    assert all(0.005 <= a <= 0.3 for a in m.mean(axis=(1, 2)))
    out2, m2 = perlin_paste(images, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(m, m2)
    assert not np.array_equal(out, perlin_paste(images, rng=1)[0])


def test_perlin_paste_source_masks_and_blend(images):
    masks = np.zeros(images.shape[:3], dtype=np.uint8)
    masks[:, 10:20, 5:15] = 1
    source = np.zeros((1,) + images.shape[1:], dtype=np.float32)
    out, m = perlin_paste(images, rng=0, source=source, masks=masks, beta=(1.0, 1.0))
    np.testing.assert_array_equal(m, masks)
    assert (out[masks == 1] == 0).all()  # b = 1: the texture replaces the image
    _check_paste(images, out, m)
    out, _ = perlin_paste(images, rng=0, source=source, masks=masks, beta=(0.25, 0.25))
    np.testing.assert_allclose(out[masks == 1], 0.75 * images[masks == 1], rtol=1e-6)
    # grey images work too
    out, m = perlin_paste(images[..., :1], rng=0)
    _check_paste(images[..., :1], out, m)


@pytest.mark.parametrize("kwargs, match", [
    (dict(images=np.zeros((2, 8, 8))), "4-D"),
    (dict(images=np.full((1, 8, 8, 3), 2.0)), r"\[0, 1\]"),
    (dict(images=np.full((1, 8, 8, 3), np.nan)), "NaN"),
    (dict(images=np.zeros((1, 8, 8, 3)), beta=(0.5, 0.2)), "beta"),
    (dict(images=np.zeros((1, 8, 8, 3)), source=np.zeros((1, 8, 8, 1))), "match"),
    (dict(images=np.zeros((1, 8, 8, 3)), masks=np.zeros((1, 8, 9))), "shape"),
    (dict(images=np.zeros((1, 8, 8, 3)), masks=np.full((1, 8, 8), 2)), "0/1"),
    (dict(images=np.zeros((1, 8, 8, 3)), rng="seed"), "rng"),
])
def test_perlin_paste_rejects_bad_input(kwargs, match):
    kwargs.setdefault("rng", 0)
    with pytest.raises(ValueError, match=match):
        perlin_paste(**kwargs)


@pytest.mark.parametrize("scar", [False, True])
def test_cutpaste(images, scar):
    out, m = cutpaste(images, rng=0, scar=scar)
    _check_paste(images, out, m)
    out2, m2 = cutpaste(images, rng=0, scar=scar)
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(m, m2)
    assert not np.array_equal(m, cutpaste(images, rng=1, scar=scar)[1])
    if not scar:  # the rectangle's area is within the bounds up to rounding of its sides
        h, w = images.shape[1:3]
        assert all(0.02 * 0.6 <= a <= 0.15 * 1.4 for a in m.mean(axis=(1, 2)))
    else:  # thin: well under the default rectangle areas
        assert (m.mean(axis=(1, 2)) < 0.05).all()


def test_cutpaste_copies_image_content_without_jitter():
    # a horizontal ramp: every pasted pixel must carry a value that exists in the same image
    ramp = np.broadcast_to(np.linspace(0, 1, 32, dtype=np.float32)[None, None, :, None], (3, 32, 32, 1))
    out, m = cutpaste(ramp, rng=0, jitter=0.0, area=(0.1, 0.1), aspect=(1.0, 1.0))
    _check_paste(ramp, out, m)
    assert np.isin(out[m == 1], ramp[0, 0, :, 0]).all()
    assert all(abs(a - 0.1) < 0.03 for a in m.mean(axis=(1, 2)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(area=(0.0, 0.1)), "area"),
    (dict(area=(0.2, 0.1)), "area"),
    (dict(aspect=(0.0, 2.0)), "aspect"),
    (dict(jitter=1.5), "jitter"),
    (dict(images=np.zeros((8, 8, 3))), "4-D"),
    (dict(images=np.full((1, 8, 8, 3), 255.0)), "255"),
])
def test_cutpaste_rejects_bad_input(kwargs, match):
    kwargs.setdefault("images", np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=match):
        cutpaste(rng=0, **kwargs)
