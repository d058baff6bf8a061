"""``image-auto`` (issue 32): chooses the image detector per dataset on anomalies generated out of
the normal images. Tiny textures and tiny candidate budgets keep it fast."""
from __future__ import annotations

import numpy as np
import pytest

import adgdm
from adgdm.detectors import ImageAuto, ImageSplit, make_detector, parse_spec
from adgdm.detectors.auto import AutoFallbackWarning, choose
from adgdm.detectors.image.auto import LOCAL_KINDS, WHOLE_KINDS, image_anomalies
from adgdm.detectors.image.split import split_spec

TINY_IMAGE = "image:width=4,mults=1|2,max_steps=3,batch_size=4,train_crop=16,global_size=4"
KNN = "image-patchknn:max_train_patches=500"
CANDIDATES = f"{TINY_IMAGE}+{KNN}"


def _textures(n=40, side=32, seed=0):
    """Stripes with a random phase plus grain: a regular texture (shifted copies are normal)."""
    rng = np.random.default_rng(seed)
    x = np.arange(side)
    phase = rng.uniform(0, 2 * np.pi, n)
    base = 0.5 + 0.3 * np.sin(2 * np.pi * x[None, None, :] / 8 + phase[:, None, None])
    return np.clip(np.repeat(base, side, axis=1) + 0.03 * rng.normal(size=(n, side, side)), 0, 1)


@pytest.fixture(scope="module")
def fitted():
    return ImageAuto(candidates=CANDIDATES, n_anomalies=12, random_state=0).fit(_textures())


def test_registered_and_built_by_auto_for_images():
    assert "image-auto" in adgdm.list_detectors("image")
    assert isinstance(make_detector("auto", modality="image"), ImageAuto)


def test_choice_follows_the_rule_on_the_stored_table(fitted):
    sel = fitted.selection_
    assert set(sel["table"]) == {TINY_IMAGE, KNN}
    assert all(set(row) == set(LOCAL_KINDS + WHOLE_KINDS) for row in sel["table"].values())
    pick, regret = choose(sel["table"], [TINY_IMAGE, KNN])
    assert fitted.chosen_ == pick == sel["choice"]
    assert regret == pytest.approx(sel["regret"])
    # pixel AUROC of each candidate's maps on the local defects (whose masks are known)
    assert set(sel["pixel"]) == {TINY_IMAGE, KNN}
    assert all(set(v) == set(LOCAL_KINDS) and all(0 <= a <= 1 for a in v.values()) for v in sel["pixel"].values())
    assert "<- chosen" in fitted.selection_table()
    # the maps' source by the same rule on the pixel table
    maps, mregret = choose(sel["pixel"], [TINY_IMAGE, KNN])
    assert sel["maps_choice"] == maps and mregret == pytest.approx(sel["maps_regret"])
    assert "pixel AUROC" in fitted.selection_table() and "<- maps" in fitted.selection_table()


def test_picks_the_candidate_that_sees_the_defects():
    """A patch k-NN that averages each image down to 2x2 pixels sees local defects and shuffled
    tiles less well than the same detector at full resolution: auto must pick the sharp one,
    though it comes second."""
    blind, sharp = "image-patchknn:scales=16,patch=2,max_train_patches=500", KNN
    det = ImageAuto(candidates=f"{blind}+{sharp}", kinds="cutpaste+perlin+tiles", n_anomalies=12,
                    random_state=0).fit(_textures())
    t = det.selection_["table"]
    assert det.chosen_ == sharp, det.selection_table()
    assert np.mean(list(t[sharp].values())) > np.mean(list(t[blind].values())) + 0.05


def test_deterministic_under_random_state(fitted):
    again = ImageAuto(candidates=CANDIDATES, n_anomalies=12, random_state=0).fit(_textures())
    test = _textures(6, seed=3)
    assert again.selection_ == fitted.selection_
    np.testing.assert_array_equal(again.decision_function(test), fitted.decision_function(test))


def test_scores_and_maps_are_the_chosen_detectors(fitted):
    test = _textures(5, seed=2)
    test[0, 8:16, 8:16] = 0.0
    s, maps = fitted.score_maps(test)
    np.testing.assert_array_equal(s, fitted.best_.decision_function(test))
    np.testing.assert_array_equal(maps, fitted.best_.anomaly_map(test))
    r = fitted.predict_result(test)
    assert r.anomaly_map.shape == (5, 32, 32)


def test_resizes_and_brings_maps_back_to_the_input():
    det = ImageAuto(candidates=KNN, size=16, n_anomalies=10, random_state=0).fit(_textures())
    assert det.image_shape_ == (16, 16, 1)
    assert det.anomaly_map(_textures(3, seed=4)).shape == (3, 32, 32)


def test_save_load_round_trip(fitted, tmp_path):
    test = _textures(6, seed=5)
    fitted.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert isinstance(back, ImageAuto) and back.chosen_ == fitted.chosen_
    assert back.selection_["table"] == fitted.selection_["table"]
    np.testing.assert_array_equal(back.decision_function(test), fitted.decision_function(test))
    np.testing.assert_array_equal(back.anomaly_map(test), fitted.anomaly_map(test))


def test_too_few_images_fall_back_with_a_warning():
    with pytest.warns(AutoFallbackWarning, match="fewer than min_units=30"):
        det = ImageAuto(candidates=CANDIDATES, random_state=0).fit(_textures(20))
    assert det.chosen_ == TINY_IMAGE and det.selection_["table"] == {}


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="'pyod-knn' is a tabular detector; image-auto chooses among image"):
        ImageAuto(candidates="image+pyod-knn").fit(_textures())
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        ImageAuto(candidates=KNN, kinds="blur+local").fit(_textures())
    with pytest.raises(ValueError, match="fuse_top must be 0 for images"):
        ImageAuto(candidates=KNN, fuse_top=2).fit(_textures())


@pytest.mark.parametrize("kind", LOCAL_KINDS + WHOLE_KINDS)
def test_anomaly_kinds(kind):
    x = _textures(4).astype(np.float32)[..., None]
    out, masks = image_anomalies(x, kind, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert (np.abs(out - x).reshape(4, -1).max(axis=1) > 0.01).all()  # every image changed
    if kind in LOCAL_KINDS:
        assert masks.shape == (4, 32, 32) and (out[masks == 0] == x[masks == 0]).all()
    else:
        assert masks is None
    again, _ = image_anomalies(x, kind, np.random.default_rng(0))
    np.testing.assert_array_equal(again, out)


@pytest.mark.skipif(not __import__("adgdm.detectors.image.auto", fromlist=["x"])._vision_available(),
                    reason="the [vision] extra (EfficientNet weights) is not installed")
def test_default_candidates_with_vision():
    det = ImageAuto()
    assert det.candidate_specs() == ["image", "image-patchcore", "image-feat-ideal", "image-feat"]


# --- maps from another candidate: image-split (issue 32) ------------------------------------------
BLURRED = "image-patchknn:max_train_patches=500,smooth_sigma=8"  # same image scores on CutPaste, blurred maps


@pytest.fixture(scope="module")
def split_fitted():
    return ImageAuto(candidates=f"{BLURRED}+{KNN}", kinds="cutpaste", n_anomalies=12, random_state=0).fit(_textures())


def test_auto_takes_the_maps_of_the_candidate_with_the_best_pixel_auroc(split_fitted):
    """Both find every CutPaste patch (image AUROC 1.0: the tie goes to the first, blurred one);
    the sharp one's maps find the patches' pixels better: scores of the first, maps of the second."""
    sel = split_fitted.selection_
    assert sel["choice"] == BLURRED and sel["maps_choice"] == KNN, split_fitted.selection_table()
    assert sel["pixel"][KNN]["cutpaste"] > sel["pixel"][BLURRED]["cutpaste"] + 0.005
    assert split_fitted.chosen_ == split_spec(BLURRED, KNN)
    assert parse_spec(split_fitted.chosen_) == ("image-split", {"score": BLURRED.replace(",", "&"), "maps": KNN})
    best = split_fitted.best_
    assert isinstance(best, ImageSplit)
    test = _textures(5, seed=2)
    test[0, 8:16, 8:16] = 0.0
    s, maps = split_fitted.score_maps(test)
    np.testing.assert_array_equal(s, best.score_.decision_function(test))
    np.testing.assert_array_equal(maps, best.maps_.anomaly_map(test))
    assert not np.allclose(maps, best.score_.anomaly_map(test))
    r = split_fitted.predict_result(test)
    np.testing.assert_array_equal(r.score, s)
    np.testing.assert_array_equal(r.anomaly_map, maps)
    assert split_fitted.threshold_ == best.threshold_ == best.score_.threshold_


def test_split_maps_false_keeps_one_detector():
    det = ImageAuto(candidates=f"{BLURRED}+{KNN}", kinds="cutpaste", n_anomalies=12, random_state=0,
                    split_maps=False).fit(_textures())
    assert det.chosen_ == BLURRED and "maps_choice" not in det.selection_


def test_image_split_alone_scores_of_one_maps_of_the_other_and_round_trip(tmp_path):
    train, test = _textures(), _textures(4, seed=7)
    test[1, 4:12, 20:28] = 1.0
    det = ImageSplit(score=TINY_IMAGE.replace(",", "&"), maps=KNN, size=16, random_state=0).fit(train)
    score = make_detector(TINY_IMAGE, size=16, random_state=0).fit(train)
    maps = make_detector(KNN, size=16, random_state=0).fit(train)
    np.testing.assert_allclose(det.decision_function(test), score.decision_function(test))
    np.testing.assert_allclose(det.anomaly_map(test), maps.anomaly_map(test), atol=1e-6)  # both at 32 px
    assert det.anomaly_map(test).shape == det.predict_result(test).anomaly_map.shape == (4, 32, 32)
    np.testing.assert_array_equal(det.predict(test), (det.decision_function(test) > det.threshold_).astype(int))
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert isinstance(back, ImageSplit)
    np.testing.assert_array_equal(back.decision_function(test), det.decision_function(test))
    np.testing.assert_array_equal(back.anomaly_map(test), det.anomaly_map(test))
    assert back.threshold_ == det.threshold_


def test_split_auto_save_load_round_trip(split_fitted, tmp_path):
    test = _textures(3, seed=8)
    split_fitted.save(tmp_path / "a")
    back = adgdm.load(tmp_path / "a")
    assert back.chosen_ == split_fitted.chosen_ and isinstance(back.best_, ImageSplit)
    np.testing.assert_array_equal(back.decision_function(test), split_fitted.decision_function(test))
    np.testing.assert_array_equal(back.anomaly_map(test), split_fitted.anomaly_map(test))


def test_image_split_errors():
    with pytest.raises(ValueError, match="score and maps name the same detector .*use that detector directly"):
        ImageSplit(score=KNN, maps=" image-patchknn:max_train_patches=500").fit(_textures(10))
    with pytest.raises(ValueError, match="'pyod-knn' is a tabular detector; image-split takes image detectors"):
        ImageSplit(score="pyod-knn", maps=KNN).fit(_textures(10))
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        ImageSplit(score="nope", maps=KNN).fit(_textures(10))
    with pytest.raises(ValueError, match="maps must be an image detector spec"):
        ImageSplit(score=KNN, maps="").fit(_textures(10))
