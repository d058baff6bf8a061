"""image-cycle: a segmentation head trained on synthetic defects finds a real-looking one; image
contract, persistence, clone, determinism, bad input."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import adgdm
from adgdm.detectors import list_detectors, make_detector
from adgdm.detectors.image.seg import SYNTH_DEFECTS, ImageSegCycle, SegNet, synthesize_defect

SIDE = 32
FAST = dict(width=8, mults=(1, 2, 2), max_steps=120, batch_size=8, train_crop=32, random_state=0)


def _texture(n, seed=0, size=SIDE):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 4 * np.pi, size)
    base = 0.5 + 0.15 * np.sin(x)[None, :, None] * np.cos(x)[None, None, :]
    return np.clip(base + 0.03 * rng.normal(size=(n, size, size)), 0, 1)


@pytest.fixture(scope="module")
def fitted():
    return ImageSegCycle(**FAST).fit(_texture(24))


@pytest.fixture(scope="module")
def test_set():
    imgs = _texture(6, seed=1)
    imgs[3:, 12:16, 18:22] = 0.05  # a dark spot on the last three
    return imgs


def test_registered_as_an_image_detector():
    assert "image-cycle" in list_detectors("image")
    det = make_detector("image-cycle:max_steps=5", random_state=0)
    assert isinstance(det, ImageSegCycle) and det.max_steps == 5


def test_finds_a_dark_spot_and_scores_it_above_clean_images(fitted, test_set):
    maps = fitted.anomaly_map(test_set)
    assert maps.shape == (6, SIDE, SIDE)
    for m in maps[3:]:
        y, x = np.unravel_index(np.argmax(m), m.shape)
        assert 11 <= y <= 16 and 17 <= x <= 22
    s = fitted.decision_function(test_set)
    assert s[3:].min() > s[:3].max()
    assert fitted.predict(test_set)[3:].all()
    assert fitted.decision_scores_.shape == fitted.labels_.shape and np.isfinite(fitted.threshold_)


def test_maps_at_the_input_resolution_when_resizing():
    det = ImageSegCycle(**dict(FAST, max_steps=3), size=24).fit(_texture(6, size=40))
    assert det.image_shape_ == (24, 24, 1)
    assert det.anomaly_map(_texture(2, seed=3, size=40)).shape == (2, 40, 40)


def test_fit_is_deterministic_and_clone_gives_an_unfitted_copy(test_set):
    a = ImageSegCycle(**dict(FAST, max_steps=20)).fit(_texture(12))
    b = ImageSegCycle(**dict(FAST, max_steps=20)).fit(_texture(12))
    np.testing.assert_array_equal(a.anomaly_map(test_set), b.anomaly_map(test_set))
    c = clone(a)
    assert c.get_params() == a.get_params() and not hasattr(c, "net_")
    with pytest.raises(NotFittedError):
        c.anomaly_map(test_set)


def test_save_load_round_trip(fitted, test_set, tmp_path):
    fitted.save(tmp_path / "seg")
    same = adgdm.load(tmp_path / "seg")
    assert isinstance(same, ImageSegCycle) and same.get_params() == fitted.get_params()
    np.testing.assert_allclose(same.anomaly_map(test_set), fitted.anomaly_map(test_set), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(same.decision_scores_, fitted.decision_scores_)
    assert same.threshold_ == fitted.threshold_ and same.image_shape_ == fitted.image_shape_
    (tmp_path / "seg" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(adgdm.ModelFileError):
        adgdm.load(tmp_path / "seg")


def test_bad_input(fitted):
    with pytest.raises(NotFittedError):
        ImageSegCycle().decision_function(_texture(2))
    bad = _texture(2)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.anomaly_map(bad)
    with pytest.raises(ValueError, match="differ in size"):
        ImageSegCycle(**FAST).fit([_texture(1)[0], _texture(1, size=40)[0]])
    with pytest.raises(ValueError, match="shape"):  # RGB images on a grey model
        fitted.anomaly_map(np.repeat(_texture(2)[..., None], 3, axis=3))
    with pytest.raises(ValueError, match="channels"):
        fitted.anomaly_map(np.zeros((2, SIDE, SIDE, 2)))
    with pytest.raises(ValueError, match="shape"):
        fitted.anomaly_map(_texture(2, size=40))
    with pytest.raises(ValueError, match="at least 2"):
        ImageSegCycle(**FAST).fit(_texture(1))
    with pytest.raises(ValueError, match="defects"):
        ImageSegCycle(defects=("paste", "smudge")).fit(_texture(4))
    with pytest.raises(ValueError, match="top_k"):
        ImageSegCycle(top_k=0).fit(_texture(4))


def test_synthetic_defects_and_segnet_shapes():
    rng = np.random.default_rng(0)
    x = _texture(3)[..., None].astype(np.float32)
    for kind in SYNTH_DEFECTS:
        y, m = synthesize_defect(x[0], kind, rng, others=x[1:])
        assert y.shape == x[0].shape and m.shape == (SIDE, SIDE) and m.any()
        assert 0 <= y.min() and y.max() <= 1
    with pytest.raises(ValueError, match="unknown synthetic defect"):
        synthesize_defect(x[0], "smudge", rng)
    import torch

    assert SegNet(2, 4, (1, 2, 2))(torch.zeros(1, 2, 19, 23)).shape == (1, 1, 19, 23)
