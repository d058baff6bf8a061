"""Issue 30: every modality's default sets ``threshold_`` on normal units the model did not fit on:
held out of the fit (images, video, multimodal), cross-fitted (series time blocks) or leave-one-out
(tables: ``test_calibration.py::test_jackknife_evidence_is_each_row_scored_as_new_against_the_others``);
statistics the model takes from held-out units (z-scales, per-location normalisation) are
cross-fitted, so no calibration score comes from statistics its own unit helped set. Each test
well under 10 s."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import adgdm
from adgdm.detectors.base import calibration_folds, cross_fitted
from adgdm.scores.fusion import RobustZ


def test_cross_fitted_scores_each_fold_with_statistics_of_the_others():
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    seen = []

    def fit_stats(idx):
        seen.append(sorted(idx.tolist()))
        fit_stats.mean = float(values[idx].mean())

    out = cross_fitted(6, fit_stats, lambda idx: values[idx] - fit_stats.mean, n_folds=3)
    for fold in ([0, 1], [2, 3], [4, 5]):
        rest = [i for i in range(6) if i not in fold]
        assert rest in seen
        np.testing.assert_allclose([out[i] for i in fold], values[fold] - values[rest].mean())
    assert seen[-1] == list(range(6)) and fit_stats.mean == values.mean()  # the model keeps all of them
    assert cross_fitted(3, fit_stats, lambda idx: values[idx] - fit_stats.mean) == list(values[:3] - values[:3].mean())


def test_calibration_folds_keep_groups_whole_and_are_deterministic():
    groups = ["c1"] * 4 + ["c2"] * 3 + ["c3"] * 5 + ["c4"] * 2
    folds = calibration_folds(len(groups), groups, n_folds=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(groups)))
    for f in folds:
        for g in set(np.take(groups, f)):
            assert set(f) >= {i for i, h in enumerate(groups) if h == g}
    assert [f.tolist() for f in calibration_folds(len(groups), groups, n_folds=3)] == [f.tolist() for f in folds]
    assert len(calibration_folds(3)) == 1 and len(calibration_folds(8, ["a"] * 8)) == 1


def test_series_calibration_windows_are_scored_against_windows_sharing_no_step():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(600) * 2 * np.pi / 40) + 0.1 * rng.normal(size=600)
    det = adgdm.make_detector("series", window=16, align="end", contamination=0.1).fit(x)
    from adgdm.detectors.series.diffusion import causal_windows

    w = det.window_
    W = causal_windows((x[:, None] - det.center_) / det.scale_, w)
    ref = np.arange(w - 1, len(W))  # every full window is in the reference (max_train_windows 2000)
    for fold in det._folds(ref):
        keep = det._others(ref, fold, w)
        assert not np.isin(ref[keep], np.arange(ref[fold[0]] - w + 1, ref[fold[-1]] + w)).any()
        own = det.tab_.subset(keep).decision_function(W[ref[fold]])  # the final model, these windows left out
        np.testing.assert_allclose(det.decision_scores_[ref[fold]], own, rtol=1e-9)
    np.testing.assert_array_equal(det.calibration_scores_, det.decision_scores_[w - 1:])


def _held_out_images(det, n):
    """Indices of the images ``det``'s fit held out (the same seeded draw on ``n`` markers)."""
    probe = adgdm.make_detector("image", **det.get_params())
    tr, cal = probe._random_held_out(SimpleNamespace(images=np.arange(n)), at_least=probe._min_calibration,
                                     leave_one=False)
    return tr, cal


def test_image_default_fits_nothing_on_the_images_that_set_its_threshold():
    from test_image_default import FAST, _bars

    X = _bars(40)
    det = adgdm.make_detector("image", **FAST).fit(X)
    tr, cal = _held_out_images(det, len(X))
    assert len(cal) == len(det.calibration_scores_) == 10
    other = X.copy()
    other[cal] = _bars(len(cal), seed=7, left=False)  # other content in the held-out images only
    det2 = adgdm.make_detector("image", **FAST).fit(other)
    for a, b in zip(det.net_.state_dict().values(), det2.net_.state_dict().values()):
        assert torch.equal(a, b)  # the segmentation head never saw them
    np.testing.assert_array_equal(det.global_.X_train_, det2.global_.X_train_)  # nor the thumbnail reference
    assert det.z_params_ != det2.z_params_  # they set the z-scales, and the threshold
    # each calibration score uses z-scales set by the other folds' images, the model those of all
    parts = det._branches(det._input(X[cal], fitting=False).images)
    final = dict(det.z_params_)
    for fold in calibration_folds(len(cal)):
        rest = np.setdiff1d(np.arange(len(cal)), fold)
        det.z_params_ = {k: RobustZ.fit(v[rest], iqr_divisor=1.349, std_fallback=True).params() for k, v in parts.items()}
        np.testing.assert_allclose(det.calibration_scores_[fold], det._combine({k: v[fold] for k, v in parts.items()}))
    det.z_params_ = final
    in_sample = det._combine(parts)
    assert not np.allclose(in_sample, det.calibration_scores_)


@pytest.fixture(scope="module")
def video_parts():
    from adgdm.data.video_synth import moving_squares

    params = dict(random_state=0, size=None, width=32, max_steps=300, noise_levels=(0.05, 0.1, 0.2), max_level=0.3,
                  smooth_frames=1)
    train = [moving_squares(60, seed=s)[0] for s in range(5)]
    fresh = [moving_squares(60, seed=100 + s)[0] for s in range(6)]
    return params, train, fresh, adgdm.make_detector("video", **params).fit(train)


def test_video_default_threshold_holds_on_fresh_normal_clips(video_parts):
    """Per-location statistics fitted on the held-out frames and scored on them flagged half of fresh
    normal frames of the same scene (the Ped2 clips: 71%); cross-fitted, about ``contamination``."""
    params, train, fresh, det = video_parts
    s = det.decision_function(fresh)  # 360 new normal frames
    assert 0.03 <= np.mean(s > det.threshold_) <= 0.2
    # the same model with statistics and threshold from the same held-out frames (as before)
    _, held = det._calibration_split(det._input(train, fitting=True))
    det._calibrate(held)
    H = det._history()
    in_sample = np.concatenate([det._clip_scores(w, with_maps=False)[0][H:] for w in held])
    np.testing.assert_allclose(det.decision_function(fresh), s)  # the model keeps the statistics of all of them
    assert np.mean(s > np.quantile(in_sample, 0.9)) > 0.3


def test_video_default_fits_nothing_on_the_held_out_frames(video_parts):
    from adgdm.data.video_synth import moving_squares

    params, train, fresh, det = video_parts
    n_cal = int(round(det.calibration_fraction * 60))
    other = [np.concatenate([c[:60 - n_cal], moving_squares(60, seed=50 + i)[0][:n_cal]]) for i, c in enumerate(train)]
    det2 = adgdm.make_detector("video", **params).fit(other)  # other frames at the end of each clip only
    for k in ("mean_", "std_", "components_", "motion_mean_", "motion_std_"):
        np.testing.assert_array_equal(getattr(det, k), getattr(det2, k))
    for a, b in zip(det.net_.state_dict().values(), det2.net_.state_dict().values()):
        assert torch.equal(a, b)
    assert not np.array_equal(det.loc_mean_, det2.loc_mean_) and det.threshold_ != det2.threshold_


def test_multimodal_default_fits_nothing_on_its_calibration_records():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(6, 6))
    a = rng.normal(size=(300, 6))
    X = {"a": a, "b": a @ W / np.sqrt(6) + 0.1 * rng.normal(size=(300, 6))}
    params = dict(random_state=0, max_steps=100, width=32, n_repeats=1, n_components=4)
    det = adgdm.make_detector("multimodal", **params).fit(X)
    from adgdm.modalities.multimodal import MultimodalModality

    cal, fit, _ = det._split(MultimodalModality.as_records(X))
    assert len(cal) == len(det.calibration_scores_) == 60
    other = {k: v.copy() for k, v in X.items()}
    other["a"][cal] = rng.normal(size=(len(cal), 6)) * 3  # other content in the calibration records only
    det2 = adgdm.make_detector("multimodal", **params).fit(other)
    for name, (m, c, s) in det.embedder_.maps.items():  # the embedding's reduction: fit records only
        m2, c2, s2 = det2.embedder_.maps[name]
        np.testing.assert_array_equal(m, m2)
        np.testing.assert_array_equal(c, c2)
    for net, net2 in zip(det.models_[0].nets_.values(), det2.models_[0].nets_.values()):
        for p, p2 in zip(net.state_dict().values(), net2.state_dict().values()):
            assert torch.equal(p, p2)
    assert det.threshold_ != det2.threshold_


def test_video_image_fits_its_frame_detector_without_the_held_out_frames():
    """``video-image`` fitted its inner image detector on the held-out frames too, then set the video
    threshold from their scores."""
    from adgdm.data.video_synth import moving_squares

    params = dict(random_state=0, size=None, max_train_frames=60,
                  image_params=dict(width=8, mults=(1, 2), max_steps=20, batch_size=4, train_crop=16))
    train = [moving_squares(30, seed=s)[0] for s in range(3)]
    other = [np.concatenate([c[:24], moving_squares(30, seed=40 + i)[0][:6]]) for i, c in enumerate(train)]
    one, two = (adgdm.make_detector("video-image", **params).fit(x) for x in (train, other))
    np.testing.assert_array_equal(one.image_.global_.X_train_, two.image_.global_.X_train_)
    assert len(one.calibration_scores_) == 18 and one.threshold_ != two.threshold_
