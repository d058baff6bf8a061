"""``image``, the recommended image detector: the global thumbnail branch catches a layout no
normal image has, the local segmentation branch localises a spot, the two z-scores add up, and it
keeps the image contract (maps at input size, persistence, clone, bad input)."""
import json

import numpy as np
import pytest
from sklearn.base import clone

import adgdm
from adgdm.detectors import make_detector
from adgdm.detectors.image.default import ImageDiffusion, thumbnails
from adgdm.io import ModelFileError

SIDE = 32
FAST = dict(width=8, mults=(1, 2, 2), max_steps=120, batch_size=8, train_crop=32, global_size=8, random_state=0)


def _bars(n, seed=0, left=True):
    """Normal images: a bright vertical bar in the left third on a noisy background."""
    rng = np.random.default_rng(seed)
    imgs = np.clip(0.3 + 0.03 * rng.normal(size=(n, SIDE, SIDE)), 0, 1)
    for i in range(n):
        x = int(rng.integers(3, 8)) if left else int(rng.integers(22, 27))
        imgs[i, 4:28, x:x + 3] = 0.8
    return imgs


@pytest.fixture(scope="module")
def fitted():
    return ImageDiffusion(**FAST).fit(_bars(40))


def test_thumbnails_ignore_brightness_and_contrast():
    imgs = _bars(3)[..., None]
    t = thumbnails(imgs, 8)
    assert t.shape == (3, 64)
    np.testing.assert_allclose(t.mean(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(t.std(axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(thumbnails(0.5 * imgs + 0.2, 8), t, atol=1e-4)


def test_the_global_branch_flags_a_layout_no_normal_image_has(fitted):
    normal, moved = _bars(5, seed=1), _bars(5, seed=2, left=False)  # the bar on the right
    b = fitted.branch_scores(np.concatenate([normal, moved]))
    assert set(b) == {"local", "global"}
    assert b["global"][5:].min() > b["global"][:5].max()
    s = fitted.decision_function(np.concatenate([normal, moved]))
    np.testing.assert_allclose(s, b["global"] + 0.5 * b["local"])
    assert s[5:].min() > s[:5].max()
    assert fitted.predict(moved).all()


def test_the_local_branch_localises_a_dark_spot(fitted):
    imgs = _bars(4, seed=3)
    imgs[2:, 18:22, 20:24] = 0.02
    maps = fitted.anomaly_map(imgs)
    assert maps.shape == (4, SIDE, SIDE)
    for m in maps[2:]:
        y, x = np.unravel_index(np.argmax(m), m.shape)
        assert 16 <= y <= 23 and 18 <= x <= 25
    s = fitted.decision_function(imgs)
    assert s[2:].min() > s[:2].max()


def test_calibration_scores_are_z_sums_of_held_out_images(fitted):
    assert fitted.decision_scores_.shape == fitted.labels_.shape == (10,)  # at least 10 of 40 held out
    assert abs(float(np.median(fitted.decision_scores_))) < 3
    assert fitted.labels_.sum() == (fitted.decision_scores_ > fitted.threshold_).sum()


def test_global_off_leaves_the_local_branch_only():
    det = ImageDiffusion(**dict(FAST, max_steps=5, global_size=0)).fit(_bars(12))
    assert det.global_ is None and set(det.branch_scores(_bars(2, seed=4))) == {"local"}


def test_save_load_round_trip_and_corrupted_global_state(fitted, tmp_path):
    imgs = np.concatenate([_bars(2, seed=5), _bars(2, seed=6, left=False)])
    fitted.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert isinstance(back, ImageDiffusion)
    np.testing.assert_allclose(back.decision_function(imgs), fitted.decision_function(imgs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(back.anomaly_map(imgs), fitted.anomaly_map(imgs), atol=1e-6)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["params"]["global_size"] = 6  # the stored thumbnails are 8 x 8
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="thumbnails"):
        adgdm.load(tmp_path / "m")


def test_registry_clone_and_bad_parameters():
    det = make_detector("image:global_size=6,max_steps=5", random_state=0)
    assert isinstance(det, ImageDiffusion) and det.global_size == 6 and det.max_steps == 5
    c = clone(det)
    assert c.get_params() == det.get_params() and not hasattr(c, "global_")
    for bad in (dict(global_size=1), dict(global_size=-2), dict(global_size=2.5), dict(local_weight=-1),
                dict(global_neighbors=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ImageDiffusion(**dict(FAST, max_steps=2, **bad)).fit(_bars(6))
    with pytest.raises(ValueError, match="shape"):
        ImageDiffusion(**dict(FAST, max_steps=2)).fit(_bars(6)).decision_function(np.zeros((2, 16, 16)))


def test_score_maps_equals_decision_function_and_anomaly_map(fitted):
    imgs = np.concatenate([_bars(2, seed=7), _bars(2, seed=8, left=False)])
    s, m = fitted.score_maps(imgs)
    np.testing.assert_allclose(s, fitted.decision_function(imgs))
    np.testing.assert_allclose(m, fitted.anomaly_map(imgs))


def test_a_chosen_threshold_survives_save_and_load(tmp_path):
    from adgdm.thresholds import apply_threshold

    det = ImageDiffusion(**dict(FAST, max_steps=5)).fit(_bars(40))
    apply_threshold(det, method="fixed", value=1.25)
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert back.threshold_ == 1.25 and back.threshold_method_["method"] == "fixed"
    det.fit(_bars(40))  # a refit moves the threshold: the old record is not saved again
    det.save(tmp_path / "m2")
    assert not hasattr(adgdm.load(tmp_path / "m2"), "threshold_method_")
