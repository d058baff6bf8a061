"""Image detectors: patch geometry, maps at input resolution, a pasted blob found, bad input."""
import numpy as np
import pytest

from adgdm.detectors.image.patch import PatchDiffusion, PatchKNN, _spread, patch_grid


def _texture(n, size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 4 * np.pi, size)
    base = 0.5 + 0.15 * np.sin(x)[None, :, None] * np.cos(x)[None, None, :]
    return np.clip(base + 0.03 * rng.normal(size=(n, size, size)), 0, 1)


def test_patch_grid_covers_every_pixel_and_spread_inverts_constant_scores():
    imgs = np.arange(2 * 10 * 9, dtype=np.float32).reshape(2, 10, 9, 1) / 180
    P, grid = patch_grid(imgs, 4, 3)
    assert grid == (3, 3) and P.shape == (2, 9, 16)
    # first patch of the first image: rows 0-3, columns 0-3 in row-major order
    np.testing.assert_array_equal(P[0, 0], imgs[0, :4, :4, 0].ravel())
    # the last grid column is snapped to the border (columns 5-8)
    np.testing.assert_array_equal(P[0, 2], imgs[0, :4, 5:9, 0].ravel())
    m = _spread(np.full((2, 9), 3.0), grid, (10, 9), 4, 3)
    np.testing.assert_allclose(m, 3.0)


@pytest.mark.parametrize("cls", [PatchDiffusion, PatchKNN])
def test_a_pasted_blob_scores_above_clean_images_and_the_map_peaks_inside(cls):
    train = _texture(24, seed=0)
    test = _texture(6, seed=1)
    test[3:, 12:18, 14:20] = 1.0  # bright blob on the last three
    det = cls(random_state=0, n_folds=2).fit(train)
    maps = det.anomaly_map(test)
    assert maps.shape == (6, 32, 32)
    s = det.decision_function(test)
    assert s[3:].min() > s[:3].max()
    for m in maps[3:]:
        y, x = np.unravel_index(np.argmax(m), m.shape)
        assert 10 <= y <= 19 and 12 <= x <= 21
    assert det.predict(test)[3:].all()


def test_maps_come_back_at_the_input_resolution_when_resizing():
    train = _texture(10, size=48)
    det = PatchDiffusion(size=24, random_state=0).fit(train)
    assert det.anomaly_map(_texture(2, size=48, seed=3)).shape == (2, 48, 48)
    assert det.image_shape_ == (24, 24, 1)


def test_image_detector_bad_input():
    det = PatchDiffusion(random_state=0).fit(_texture(6))
    with pytest.raises(ValueError, match="shape"):
        det.decision_function(_texture(2, size=40))
    with pytest.raises(ValueError, match="at least 2"):
        PatchDiffusion().fit(_texture(1))
    with pytest.raises(ValueError, match="NaN"):
        det.decision_function(np.full((1, 32, 32), np.nan))
    with pytest.raises(ValueError, match="not a path"):  # detectors take arrays; folders are read first
        PatchDiffusion().fit("/nonexistent/folder")
    with pytest.raises(ValueError, match="top_k"):
        PatchDiffusion(top_k=0).fit(_texture(4))


def test_a_single_scale_may_be_given_as_an_int():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.4, 0.6, size=(8, 16, 16))
    a = PatchDiffusion(scales=1, random_state=0).fit(X).anomaly_map(X[:2])
    b = PatchDiffusion(scales=(1,), random_state=0).fit(X).anomaly_map(X[:2])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="scales"):
        PatchDiffusion(scales=0).fit(X)
