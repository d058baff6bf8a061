"""Explanations: per-feature / per-channel contributions to the anomaly score (the model's own
reconstruction where it has one, occlusion otherwise) and top_features."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import adgdm
from adgdm.explain import explain, top_features
from adgdm.scores import ideal_denoiser_error, ideal_denoiser_residual
from conftest import make

NAMES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def shifted(table):
    """Inlier rows with feature ``i % 4`` of row ``i`` moved +8 sd."""
    X = table.inliers[:8].copy()
    which = np.arange(8) % 4
    X[np.arange(8), which] += 8.0
    return X, which


# --- the pure residual ---------------------------------------------------------------------------------
def test_ideal_denoiser_residual_sums_to_the_error_and_matches_brute_force():
    rng = np.random.default_rng(6)
    rows, x = rng.normal(size=(25, 3)), rng.normal(size=(4, 3)) * 2
    dist = np.sqrt(((x[:, None] - rows[None]) ** 2).sum(-1))
    idx, w = np.broadcast_to(np.arange(25), (4, 25)), np.ones((4, 25))
    r = ideal_denoiser_residual(x, dist, idx, w, rows, 0.5)
    assert r.shape == (4, 3) and (r >= 0).all()
    np.testing.assert_array_equal(r.sum(axis=1), ideal_denoiser_error(x, dist, idx, w, rows, 0.5))
    p = np.exp(-(dist**2 - (dist**2).min(1, keepdims=True)) / (2 * 0.5))
    x_hat = (p / p.sum(1, keepdims=True)) @ rows
    np.testing.assert_allclose(r, (x - x_hat) ** 2, rtol=1e-10)


# --- tables ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, method", [("diffusion", "model"), ("diffusion", "occlusion"),
                                          ("pyod-knn", "auto"), ("dte-np", "auto")])
def test_the_shifted_feature_comes_first(table, shifted, name, method):
    X, which = shifted
    det = make(name).fit(table.X)
    c = explain(det, X, method=method)
    assert c.shape == X.shape and c.dtype == np.float64 and (c >= 0).all()
    np.testing.assert_array_equal(c.argmax(axis=1), which)
    top = top_features(c, NAMES, k=2)
    assert [t[0][0] for t in top] == [NAMES[j] for j in which]
    assert all(t[0][1] > 0.5 for t in top)


def test_explain_method_on_the_detector_and_dataframe_input(table, shifted):
    import pandas as pd

    X, which = shifted
    det = make("diffusion").fit(pd.DataFrame(table.X, columns=NAMES))
    c = det.explain(pd.DataFrame(X, columns=NAMES))
    np.testing.assert_array_equal(c.argmax(axis=1), which)
    np.testing.assert_array_equal(c, explain(det, X))
    with pytest.raises(ValueError, match="column names differ"):
        det.explain(pd.DataFrame(X, columns=list("wxyz")))


def test_ddpm_contributions_are_its_reconstruction_error_per_feature(table, shifted):
    X, _ = shifted
    det = make("ddpm").fit(table.X)
    c = det.explain(X)
    assert c.shape == X.shape and (c >= 0).all()
    np.testing.assert_allclose(c.sum(axis=1), det.decision_function(X), rtol=1e-5)


def test_occlusion_is_the_drop_in_score_and_does_not_depend_on_chunking(table, shifted):
    X, _ = shifted
    det = make("pyod-knn").fit(table.X)
    c = explain(det, X)
    np.testing.assert_array_equal(explain(det, X, max_rows=3), c)  # one row of X per call, split
    s0 = det.decision_function(X)
    Xj = X.copy()
    Xj[:, 1] = det.feature_median_[1]
    np.testing.assert_allclose(c[:, 1], np.maximum(s0 - det.decision_function(Xj), 0))
    np.testing.assert_allclose(det.feature_median_, np.median(table.X, axis=0))


def test_baseline_is_used_and_required_when_the_detector_has_no_median(table, shifted):
    X, which = shifted
    det = make("dte-c").fit(table.X)
    zero = explain(det, X, baseline=np.zeros(4))
    np.testing.assert_array_equal(zero, explain(det, X, baseline=0.0))
    del det.feature_median_  # as a model saved before explanations existed, without training rows
    with pytest.raises(ValueError, match="pass baseline="):
        explain(det, X)
    np.testing.assert_array_equal(explain(det, X, baseline=np.zeros(4)), zero)
    with pytest.raises(ValueError, match=r"one value per feature \(4\)"):
        explain(det, X, baseline=[0.0, 0.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        explain(det, X, baseline=[0.0, np.nan, 0.0, 0.0])


def test_medians_survive_saving_and_old_models_fall_back_to_training_rows(table, shifted, tmp_path):
    from safetensors.numpy import load_file, save_file

    X, _ = shifted
    det = make("pyod-knn").fit(table.X)
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.feature_median_, det.feature_median_)
    np.testing.assert_allclose(back.explain(X), det.explain(X))
    w = tmp_path / "m" / "weights.safetensors"  # an older save: no feature_median_
    arrays = load_file(str(w))
    del arrays["feature_median_"]
    save_file(arrays, str(w))
    old = adgdm.load(tmp_path / "m")
    assert not hasattr(old, "feature_median_")
    np.testing.assert_allclose(old.explain(X), det.explain(X))


def test_cycle_is_explained_by_occlusion_with_its_base_median(table, shifted):
    X, which = shifted
    det = make("cycle").fit(table.X)
    c = det.explain(X[:4])
    np.testing.assert_array_equal(c.argmax(axis=1), which[:4])


# --- series -----------------------------------------------------------------------------------------------
SPIKE_T, SPIKE_C = 650, 1


def _series(T=750, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    x = np.stack([np.sin(2 * np.pi * t / 25), np.cos(2 * np.pi * t / 40), np.sin(2 * np.pi * t / 30 + 1)], 1)
    return x + 0.05 * rng.normal(size=x.shape)


@pytest.fixture(scope="module")
def spiked():
    x = _series()
    test = x.copy()
    test[SPIKE_T, SPIKE_C] += 8 * x[:500, SPIKE_C].std()
    return x[:500], test


@pytest.mark.parametrize("spec, method", [
    ("series:window=16", "auto"),
    ("series:window=16,smooth=3", "auto"),
    ("series-impute:window=16,max_steps=40,width=16,depth=2", "auto"),
    ("series:window=16", "occlusion"),
    ("tsb-subpca:window=16", "auto"),        # its own exact channel shares (issue 30)
    ("tsb-matrixprofile:window=16,engine=numpy", "auto"),  # occlusion
])
def test_the_spiked_channel_comes_first_at_the_spike(spiked, spec, method):
    train, test = spiked
    det = adgdm.make_detector(spec, random_state=0).fit(train)
    c = explain(det, test, method=method)
    assert c.shape == test.shape and (c >= 0).all() and np.isfinite(c).all()
    assert c[SPIKE_T].argmax() == SPIKE_C
    assert top_features(c[SPIKE_T], ["x", "y", "z"], k=1) == [[("y", pytest.approx(c[SPIKE_T, 1] / c[SPIKE_T].sum()))]]


def test_window_detector_channel_errors_add_up_to_the_score(spiked):
    train, test = spiked
    det = adgdm.make_detector("series-impute:window=16,max_steps=40,width=16,depth=2,smooth=2",
                              random_state=0).fit(train)
    c = det.explain(test)
    offset = c.sum(axis=1) - det.decision_function(test)
    np.testing.assert_allclose(offset, offset[0], atol=1e-9)  # the score plus a constant


def test_series_explain_single_channel_and_loaded_model(spiked, tmp_path):
    train, test = spiked
    det = adgdm.make_detector("series:window=16").fit(train[:, 0])
    c = det.explain(test[:, 0])
    assert c.shape == (len(test), 1)
    det.save(tmp_path / "s")
    np.testing.assert_allclose(adgdm.load(tmp_path / "s").explain(test[:, 0]), c)


# --- top_features and bad input ---------------------------------------------------------------------------
def test_top_features_shares():
    c = np.array([[1.0, 3.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
    top = top_features(c, NAMES, k=2)
    assert top[0] == [("d", 0.5), ("b", 0.375)]
    assert top[1] == [] and top[2] == [("b", 1.0)]
    full = top_features(c, k=4)
    assert sum(s for _, s in full[0]) == pytest.approx(1.0) and full[0][0][0] == "3"
    assert all(sum(s for _, s in row) <= 1.0 + 1e-12 for row in top)


@pytest.mark.parametrize("contrib, kw, match", [
    (np.ones((2, 4)), dict(names=["a"]), "names has 1 entries"),
    (np.ones((2, 4)), dict(k=0), "k must be an integer"),
    (-np.ones((2, 4)), {}, "non-negative"),
    (np.full((2, 4), np.nan), {}, "NaN"),
    (np.ones((2, 2, 2)), {}, r"must be \(n, d\)"),
])
def test_top_features_bad_input(contrib, kw, match):
    with pytest.raises(ValueError, match=match):
        top_features(contrib, **kw)


def test_explain_bad_input(table, shifted):
    X, _ = shifted
    with pytest.raises(NotFittedError):
        explain(make("diffusion"), X)
    det = make("pyod-knn").fit(table.X)
    with pytest.raises(ValueError, match="unknown explanation method 'shap'"):
        explain(det, X, method="shap")
    with pytest.raises(ValueError, match="no per-feature reconstruction"):
        explain(det, X, method="model")
    with pytest.raises(ValueError, match="fitted with 4"):
        explain(det, X[:, :3])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        explain(det, bad)
    with pytest.raises(ValueError, match="max_rows"):
        explain(det, X, max_rows=0)


def test_explain_series_bad_input(spiked):
    train, test = spiked
    det = adgdm.make_detector("tsb-matrixprofile:window=16,engine=numpy").fit(train)
    with pytest.raises(ValueError, match="no per-channel errors"):
        explain(det, test, method="model")
    with pytest.raises(ValueError, match="channels"):
        explain(det, test[:, :2])
    with pytest.raises(ValueError, match=r"one value per channel \(3\)"):
        explain(det, test, baseline=[0.0])
