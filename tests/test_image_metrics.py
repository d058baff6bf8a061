"""Image anomaly-localisation metrics on tiny hand-made masks and maps with known answers."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from adgdm.metrics.images import aupro, best_f1, image_scores_from_maps, pixel_auroc


def _two_squares():
    """One 10x12 image with a 2x2 and a 3x3 defect; normal pixels get distinct middling values."""
    masks = np.zeros((1, 10, 12), dtype=np.uint8)
    masks[0, 1:3, 1:3] = 1
    masks[0, 5:8, 7:10] = 1
    maps = 0.25 + 0.5 * np.random.default_rng(0).permutation(120).reshape(1, 10, 12) / 120
    return masks, maps


def test_perfect_map_scores_one():
    masks, maps = _two_squares()
    perfect = np.where(masks == 1, 1.0, maps)
    assert pixel_auroc(masks, perfect) == 1.0
    assert aupro(masks, perfect) == pytest.approx(1.0, abs=1e-12)
    assert aupro(masks, perfect, fpr_limit=0.05) == pytest.approx(1.0, abs=1e-12)
    # the ground truth itself is a perfect map (anomalies tie at 1, normals tie at 0)
    assert aupro(masks, masks.astype(float)) == pytest.approx(1.0, abs=1e-12)


def test_inverted_map_scores_zero():
    masks, maps = _two_squares()
    inverted = np.where(masks == 1, 0.0, maps)
    assert pixel_auroc(masks, inverted) == 0.0
    assert aupro(masks, inverted) == 0.0


def test_one_of_two_regions_found_gives_half_whatever_their_sizes():
    masks, maps = _two_squares()
    half = maps.copy()
    half[0, 1:3, 1:3] = 1.0   # the small region is found ...
    half[0, 5:8, 7:10] = 0.0  # ... the large one (9 pixels, vs 4) is missed: PRO = 0.5 everywhere
    assert aupro(masks, half) == pytest.approx(0.5, abs=1e-12)
    half = maps.copy()
    half[0, 1:3, 1:3], half[0, 5:8, 7:10] = 0.0, 1.0
    assert aupro(masks, half) == pytest.approx(0.5, abs=1e-12)


def test_pro_jump_at_known_fpr():
    # 100 normal pixels valued 0..99 and a 2-pixel region: one pixel above every normal one, the
    # other between the 10th and 11th largest. PRO is 0.5 up to FPR 0.1, then 1:
    # area = 0.1 * 0.5 + 0.2 * 1 = 0.25 over fpr_limit 0.3 -> 5/6.
    maps = np.zeros((1, 1, 102))
    maps[0, 0, :100] = np.random.default_rng(1).permutation(100)
    maps[0, 0, 100:] = [200.0, 89.5]
    masks = np.zeros_like(maps, dtype=np.uint8)
    masks[0, 0, 100:] = 1
    assert aupro(masks, maps) == pytest.approx(5 / 6, abs=1e-12)
    # with fpr_limit 0.05 the region stays half found: 0.5
    assert aupro(masks, maps, fpr_limit=0.05) == pytest.approx(0.5, abs=1e-12)


def test_constant_map_interpolates_linearly():
    # everything ties: the curve goes straight from (0, 0) to (1, 1), so PRO = FPR and the
    # normalised area is fpr_limit / 2 (the same convention as a tied ROC curve)
    masks, _ = _two_squares()
    flat = np.zeros(masks.shape)
    assert aupro(masks, flat) == pytest.approx(0.15, abs=1e-12)
    assert aupro(masks, flat, fpr_limit=1.0) == pytest.approx(0.5, abs=1e-12)
    assert pixel_auroc(masks, flat) == 0.5


def test_random_map_aupro_is_half_the_fpr_limit():
    # for maps independent of the masks PRO ~= FPR, so the area up to L is L**2 / 2 and the
    # normalised AUPRO ~= L / 2
    rng = np.random.default_rng(0)
    masks = np.zeros((40, 32, 32), dtype=np.uint8)
    for m in masks:
        for _ in range(3):
            y, x = rng.integers(0, 28, size=2)
            m[y:y + 4, x:x + 4] = 1
    maps = rng.random(masks.shape)
    assert aupro(masks, maps) == pytest.approx(0.15, abs=0.02)
    assert aupro(masks, maps, fpr_limit=0.1) == pytest.approx(0.05, abs=0.01)
    assert pixel_auroc(masks, maps) == pytest.approx(0.5, abs=0.02)


def test_regions_are_8_connected_and_per_image():
    masks = np.zeros((1, 6, 6), dtype=np.uint8)
    masks[0, 1, 1] = masks[0, 2, 2] = 1  # diagonal neighbours: one region under 8-connectivity
    masks[0, 4, 4] = 1
    maps = np.full(masks.shape, 0.5)
    maps[0, 1, 1], maps[0, 2, 2], maps[0, 4, 4] = 1.0, 0.0, 0.0
    # regions {(1,1),(2,2)} half found and {(4,4)} missed: PRO 0.25 (4-connectivity would give 1/3)
    assert aupro(masks, maps) == pytest.approx(0.25, abs=1e-12)

    # the same place in two images is two regions: (1 + 0) / 2, not 1 / 4 pixels of one region
    masks = np.zeros((2, 4, 4), dtype=np.uint8)
    masks[0, 1, 1] = 1
    masks[1, 1:3, 1] = masks[1, 1, 2] = 1
    maps = np.where(masks == 1, 0.0, 0.5)
    maps[0, 1, 1] = 1.0
    assert aupro(masks, maps) == pytest.approx(0.5, abs=1e-12)


def test_pixel_auroc_matches_sklearn_and_subsamples_deterministically():
    rng = np.random.default_rng(3)
    masks = (rng.random((4, 50, 50)) < 0.05).astype(np.uint8)
    maps = rng.normal(size=masks.shape) + 1.5 * masks
    full = pixel_auroc(masks, maps)
    assert full == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)
    sub = pixel_auroc(masks, maps, max_pixels=4000)
    assert sub == pixel_auroc(masks, maps, max_pixels=4000)
    assert sub != full and sub == pytest.approx(full, abs=0.03)
    # a single anomalous pixel survives stratification
    one = np.zeros((2, 40, 40), dtype=np.uint8)
    one[1, 3, 3] = 1
    assert pixel_auroc(one, one.astype(float), max_pixels=100) == 1.0


@pytest.mark.parametrize("masks, maps, match", [
    (np.zeros((1, 4, 4)), np.zeros((1, 4, 5)), "differ in shape"),
    (np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), "both classes"),
    (np.ones((1, 4, 4)), np.zeros((1, 4, 4)), "both classes"),
    (np.eye(4)[None], np.full((1, 4, 4), np.nan), "NaN"),
    (2 * np.eye(4)[None], np.zeros((1, 4, 4)), "0/1"),
    (np.eye(4), np.zeros((4, 4)), "3-D"),
])
def test_pixel_auroc_rejects_bad_input(masks, maps, match):
    with pytest.raises(ValueError, match=match):
        pixel_auroc(masks, maps)


def test_aupro_rejects_bad_input():
    eye = np.eye(4)[None]
    with pytest.raises(ValueError, match="no anomalous region|at least one anomalous region"):
        aupro(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="normal pixels"):
        aupro(np.ones((1, 4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        aupro(eye, np.where(eye == 1, np.nan, 0.0))
    with pytest.raises(ValueError, match="differ in shape"):
        aupro(eye, np.zeros((2, 4, 4)))
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fpr_limit"):
            aupro(eye, eye, fpr_limit=bad)
    with pytest.raises(ValueError, match="n_thresholds"):
        aupro(eye, eye, n_thresholds=1)


def test_image_scores_from_maps():
    maps = np.arange(2 * 10 * 10, dtype=float).reshape(2, 10, 10)
    np.testing.assert_array_equal(image_scores_from_maps(maps, top_k=0.03), [98.0, 198.0])
    np.testing.assert_array_equal(image_scores_from_maps(maps, top_k=1e-6), [99.0, 199.0])  # >= 1 pixel
    np.testing.assert_array_equal(image_scores_from_maps(maps, top_k=1.0), [49.5, 149.5])
    assert image_scores_from_maps(maps).shape == (2,)
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="top_k"):
            image_scores_from_maps(maps, top_k=bad)
    with pytest.raises(ValueError, match="NaN"):
        image_scores_from_maps(np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="3-D"):
        image_scores_from_maps(maps[0])


def test_best_f1():
    assert best_f1([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    # best cut at 0.2: precision 2/3, recall 1 -> F1 0.8
    assert best_f1([0, 1, 0, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.8)
    assert isinstance(best_f1([0, 1], [0.0, 1.0]), float)
    with pytest.raises(ValueError):
        best_f1([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError):
        best_f1([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError):
        best_f1([0, 1, 1], [0.1, 0.2])
