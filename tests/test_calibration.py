"""threshold_ flags about `contamination` of NEW normal data (issue 14, item 5), and calibrating it
changes no score. Own synthetic data, each test well under 2 s."""
import numpy as np
import pytest

import adgdm
from adgdm.scores.denoiser import EmpiricalDenoiser
from adgdm.scores.empirical import MarginalSmoothedNLL
from adgdm.thresholds import apply_threshold, calibration_scores


def _gauss(seed, n, d, fresh):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(fresh, d))


def test_gaussian_table_flags_about_contamination_of_fresh_rows():
    X, F = _gauss(3, 400, 4, 20000)
    det = adgdm.make_detector("diffusion", contamination=0.1).fit(X)
    assert 0.05 <= np.mean(det.decision_function(F) > det.threshold_) <= 0.15


def test_high_dimensional_table_no_longer_flags_every_fresh_row():
    # 200 dims: neighbours lie many noise levels away, where the leave-one-out evidence collapses
    # to a constant; its quantile flagged every fresh row (the "train" calibration still does)
    X, F = _gauss(7, 150, 200, 2000)
    new = adgdm.make_detector("diffusion").fit(X)
    old = adgdm.make_detector("diffusion", calibration="train").fit(X)
    s = new.decision_function(F)
    assert 0.05 <= np.mean(s > new.threshold_) <= 0.15
    assert np.mean(s > old.threshold_) > 0.9
    # the calibration changes the threshold only
    np.testing.assert_array_equal(s, old.decision_function(F))
    np.testing.assert_array_equal(new.decision_scores_, old.decision_scores_)
    assert old.threshold_ == np.quantile(old.decision_scores_, 0.9)
    assert new.threshold_ == np.quantile(new.calibration_scores_, 0.9)


def test_scores_on_new_rows_are_those_of_the_code_before_the_calibration_change():
    # values computed with the code before this change (commit 7cebea7); the nearest-row coarse
    # block of that code (the default until coarse_rows=512)
    X, F = _gauss(7, 200, 200, 2000)
    det = adgdm.make_detector("diffusion", coarse_rows=None).fit(X)
    s = det.decision_function(F)
    assert float(s.sum()) == pytest.approx(226796.30271760514, rel=1e-12)
    assert s[:2].tolist() == pytest.approx([79.97268798036852, 130.0443544105701], rel=1e-12)
    assert float(det.decision_scores_.sum()) == pytest.approx(53.08319163128101, rel=1e-12)
    X, F = _gauss(3, 400, 4, 20000)
    det = adgdm.make_detector("diffusion", coarse_rows=None).fit(X)
    assert float(det.decision_function(F).sum()) == pytest.approx(10383.574699748639, rel=1e-12)
    assert float(det.decision_scores_.sum()) == pytest.approx(517.8961194774431, rel=1e-12)


def test_series_scores_are_those_of_the_code_before_the_calibration_change():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(700) * 2 * np.pi / 50) + 0.1 * rng.normal(size=700)
    det = adgdm.make_detector("series", window=64).fit(x[:400])
    # steps with a full window (the first 63 get start_score_ since the padded-start change)
    assert float(det.decision_function(x)[63:].sum()) == pytest.approx(25.979615434020108, rel=1e-6)


def test_jackknife_evidence_is_each_row_scored_as_new_against_the_others():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(80, 3)), np.zeros((3, 3))])  # three duplicates
    den = EmpiricalDenoiser(coarse_neighbors=30).fit(X)
    jk = den.jackknife_evidence()
    for i in (0, 5, 80, 82):
        keep = np.ones(len(X), bool)
        keep[i] = False
        e = den.subset(keep).evidence(X[i : i + 1])[0]
        np.testing.assert_allclose(jk[i, :-1], e[:-1], rtol=1e-12)  # neighbour blocks: exact
        assert jk[i, -1] == pytest.approx(e[-1], rel=1e-3)  # marginal: up to the others' grid
    np.testing.assert_allclose(den.jackknife_scores(), den.combine(jk))


def test_marginal_jackknife_matches_a_density_rebuilt_without_the_row():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=60), rng.integers(0, 3, 60), rng.standard_t(2, 60)])
    m = MarginalSmoothedNLL(X, 0.1)
    jk = m.nll_jackknife(X)
    exact = np.array([MarginalSmoothedNLL(np.delete(X, i, 0), 0.1).nll(X[i : i + 1])[0] for i in range(len(X))])
    np.testing.assert_allclose(jk, exact, atol=0.05)
    with pytest.raises(ValueError, match="rows"):
        m.nll_jackknife(X[:5])


def test_calibration_scores_are_saved_and_used_by_proba_and_pot(tmp_path):
    X, F = _gauss(7, 150, 200, 50)
    det = adgdm.make_detector("diffusion").fit(X)
    assert not np.array_equal(det.calibration_scores_, det.decision_scores_)
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.calibration_scores_, det.calibration_scores_)
    np.testing.assert_array_equal(back.predict_proba(F), det.predict_proba(F))
    rank = det.predict_proba(F, method="rank")[:, 1]
    cal = np.sort(det.calibration_scores_)
    np.testing.assert_allclose(rank, np.searchsorted(cal, det.decision_function(F), side="right") / len(cal))
    np.testing.assert_array_equal(calibration_scores(det), det.calibration_scores_)
    pot = apply_threshold(det, "pot", q=0.01, level=0.9)
    from adgdm.thresholds import pot_threshold

    assert pot.threshold_ == pot_threshold(det.calibration_scores_, q=0.01, level=0.9)


def test_a_model_saved_without_calibration_scores_falls_back_to_the_training_scores(tmp_path):
    X, _ = _gauss(0, 120, 3, 1)
    det = adgdm.make_detector("dte-np").fit(X)  # calibration scores = training scores: not stored
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.calibration_scores_, back.decision_scores_)
    assert back.threshold_ == det.threshold_


def test_bad_calibration_is_refused():
    with pytest.raises(ValueError, match="calibration"):
        adgdm.make_detector("diffusion", calibration="kfold").fit(np.zeros((10, 2)))


def test_series_threshold_leaves_out_blocks_scored_against_overlapping_windows():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(400) * 2 * np.pi / 50) + 0.1 * rng.normal(size=400)
    # a window of 125 steps on 400: the middle block has no window sharing no step with it
    det = adgdm.make_detector("series", window=125, contamination=0.1).fit(x)
    first = det.window_ - 1
    assert len(det.calibration_scores_) < len(det.decision_scores_) - first
    assert det.threshold_ == np.quantile(det.calibration_scores_, 0.9)
    # a window short for the series: every block is cross-fitted, all of them calibrate
    det = adgdm.make_detector("series", window=16, contamination=0.1).fit(x)
    np.testing.assert_array_equal(det.calibration_scores_, det.decision_scores_[det.window_ - 1 :])
