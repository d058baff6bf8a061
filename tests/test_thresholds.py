"""Thresholds: contamination quantile, POT / SPOT (extreme value theory), fixed; apply_threshold and
its persistence; the calibrated anomaly probability."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy.stats import genpareto

import adgdm
from adgdm.detectors.series.diffusion import SeriesDiffusion
from adgdm.thresholds import (MIN_PEAKS, SPOT, NoAlarmWarning, _gpd_quantile, apply_threshold, calibrated_proba,
                              choose_threshold, contamination_threshold, fit_gpd, fixed_threshold, pot_min_scores,
                              pot_threshold)
from conftest import make


# --- the GPD fit and POT ---------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [-0.3, 0.0, 0.25])
def test_fit_gpd_recovers_the_parameters_and_matches_scipy_mle(gamma):
    y = genpareto(c=gamma, scale=2.0).rvs(5000, random_state=1)
    g, s = fit_gpd(y)
    assert g == pytest.approx(gamma, abs=0.06)
    assert s == pytest.approx(2.0, rel=0.08)
    g_ref, _, s_ref = genpareto.fit(y, floc=0)
    assert g == pytest.approx(g_ref, abs=2e-3) and s == pytest.approx(s_ref, rel=2e-3)


def test_fit_gpd_of_identical_excesses_is_the_exponential():
    assert fit_gpd(np.full(20, 0.5)) == (0.0, 0.5)


def test_gpd_quantile_is_continuous_through_the_exponential_case():
    exp = _gpd_quantile(1.0, 0.0, 2.0, 1e-3, 1000, 20)
    assert exp == pytest.approx(1.0 - 2.0 * math.log(1e-3 * 1000 / 20))
    assert _gpd_quantile(1.0, 1e-9, 2.0, 1e-3, 1000, 20) == pytest.approx(exp, rel=1e-8)
    assert _gpd_quantile(1.0, -1e-9, 2.0, 1e-3, 1000, 20) == pytest.approx(exp, rel=1e-8)


@pytest.mark.parametrize("q", [1e-3, 1e-4])
def test_pot_recovers_an_exponential_quantile(q):
    scores = np.random.default_rng(0).exponential(scale=1.5, size=20000)
    assert pot_threshold(scores, q=q) == pytest.approx(-1.5 * math.log(q), rel=0.05)


def test_pot_recovers_a_heavy_tailed_quantile_and_extrapolates_beyond_the_data():
    dist = genpareto(c=0.2, scale=1.0)
    scores = dist.rvs(5000, random_state=3)
    q = 1e-5  # q * n = 0.05: beyond the largest training score, where an empirical quantile cannot go
    z = pot_threshold(scores, q=q, level=0.95)
    assert z > scores.max()
    assert z == pytest.approx(dist.isf(q), rel=0.3)


@pytest.mark.parametrize("level, need", [(0.98, 500), (0.95, 200), (0.9, 100), (0.5, 20)])
def test_pot_refuses_fewer_scores_than_its_tail_fit_needs(level, need):
    """The minimum is ``ceil(MIN_PEAKS / (1 - level))``: with it, ``MIN_PEAKS`` scores lie above the
    initial quantile; one score fewer is refused with the count and the minimum."""
    assert pot_min_scores(level) == need
    scores = np.random.default_rng(0).exponential(size=need)
    q = min(1e-3, (1 - level) / 2)
    assert np.isfinite(pot_threshold(scores, q=q, level=level))
    assert (scores > np.quantile(scores, level)).sum() >= MIN_PEAKS
    with pytest.raises(ValueError, match=f"at least {need} calibration scores at level={level:g}.*got {need - 1}"):
        pot_threshold(scores[:-1], q=q, level=level)


def test_pot_refuses_tied_scores_that_leave_too_few_excesses():
    scores = np.r_[np.zeros(970), np.full(30, 5.0)]  # the top 30 tie: none exceeds the 0.98 quantile (5.0)
    with pytest.raises(ValueError, match=f"only 0 of 1000 calibration scores exceed.*at least {MIN_PEAKS}"):
        pot_threshold(scores, q=1e-3)


def test_pot_that_flags_no_normal_score_warns_where_contamination_flags_some():
    """``--threshold pot`` on cardio flagged 0 of 916 rows (0 of 86 anomalies) with no warning."""
    X = np.random.default_rng(0).normal(size=(600, 3))
    det = adgdm.make_detector("dte-np").fit(X)
    with pytest.warns(NoAlarmWarning, match=r"flags none of the 600 calibration scores.*flags 60 and 60.*q=0.01"):
        apply_threshold(det, "pot", q=1e-6)
    assert det.labels_.sum() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoAlarmWarning)
        apply_threshold(det, "pot", q=0.02)  # flags some: no warning
    assert det.labels_.sum() > 0


# --- SPOT --------------------------------------------------------------------------------------------
def test_spot_flags_injected_spikes_and_moves_only_on_peaks():
    rng = np.random.default_rng(0)
    spot = SPOT(q=1e-4, level=0.98).fit(rng.exponential(size=3000))
    t0, z0, n0 = spot.init_threshold_, spot.threshold_, spot.n_
    assert z0 == pytest.approx(math.log(1e4), rel=0.15)
    stream = rng.exponential(size=1500)
    spikes = [200, 700, 1300]
    stream[spikes] = [30.0, 45.0, 60.0]
    flags, thresholds = spot.run(stream)
    assert flags[spikes].all()
    assert flags.sum() <= len(spikes) + 1  # at most one false alarm at q = 1e-4 over 1500 steps
    assert thresholds[0] == z0
    peak = (stream > t0) & ~flags
    moved = np.flatnonzero(np.diff(thresholds) != 0)
    # the threshold changes right after a peak, and only then: normals and alarms leave it alone
    assert set(moved) <= set(np.flatnonzero(peak))
    assert len(moved) > 0
    # alarms are not counted as observations nor as peaks
    assert spot.n_ == n0 + len(stream) - flags.sum()
    assert np.isclose(spot.peaks_[-peak.sum():], stream[peak] - t0).all()


def test_spot_step_returns_the_threshold_it_compared_with():
    spot = SPOT(q=1e-3).fit(np.random.default_rng(1).exponential(size=2000))
    z = spot.threshold_
    assert spot.step(z + 1.0) == (True, z)
    assert spot.threshold_ == z  # an alarm does not update the fit
    flag, used = spot.step(spot.init_threshold_ + 1e-3)
    assert not flag and used == z and spot.threshold_ != z  # a peak does


def test_spot_with_too_few_peaks_waits_for_them():
    with pytest.warns(RuntimeWarning, match="until enough peaks arrive"):
        spot = SPOT(q=1e-3, level=0.98).fit(np.random.default_rng(2).exponential(size=100))
    assert math.isnan(spot.gamma_)
    spot.run(np.full(MIN_PEAKS, spot.init_threshold_ + 0.01))
    assert np.isfinite(spot.gamma_)


# --- the entry points ------------------------------------------------------------------------------------
def test_contamination_threshold_is_what_fit_sets(table):
    det = make("diffusion").fit(table.X)
    assert contamination_threshold(det.calibration_scores_, det.contamination) == det.threshold_
    assert choose_threshold(det.calibration_scores_) == det.threshold_
    assert choose_threshold(det.decision_scores_, "fixed", value=2) == 2.0 == fixed_threshold("2")


def test_apply_threshold_sets_labels_and_records_the_method(table):
    det = make("diffusion").fit(table.X)
    assert not hasattr(det, "threshold_method_")
    out = apply_threshold(det, "fixed", value=1.0)
    assert out is det and det.threshold_ == 1.0
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > 1.0).astype(int))
    np.testing.assert_array_equal(det.predict(table.test), (det.decision_function(table.test) > 1.0).astype(int))
    assert det.threshold_method_ == {"method": "fixed", "value": 1.0, "threshold": 1.0}
    apply_threshold(det, "contamination")  # the detector's own contamination by default
    assert det.threshold_method_["contamination"] == det.contamination
    apply_threshold(det, "contamination", contamination=0.2)
    assert det.labels_.mean() == pytest.approx(0.2, abs=0.01)
    before = det.threshold_
    with pytest.raises(ValueError, match="POT needs at least 500 calibration scores"):  # 150 rows: too few
        apply_threshold(det, "pot", q=1e-3)
    assert det.threshold_ == before  # refused: the threshold stays
    apply_threshold(det, "pot", q=0.05, level=0.5)
    assert set(det.threshold_method_) == {"method", "q", "level", "threshold"}
    json.dumps(det.threshold_method_)  # a plain dict


def test_apply_threshold_with_calibration_scores(table):
    det = make("diffusion").fit(table.X)
    held_out = det.decision_function(table.inliers)
    apply_threshold(det, "contamination", scores=held_out, contamination=0.1)
    assert det.threshold_ == np.quantile(held_out, 0.9)
    assert det.threshold_method_["calibration"] == "scores"
    assert det.labels_.shape == det.decision_scores_.shape


def test_threshold_method_survives_save_and_load(tmp_path):
    X = np.random.default_rng(0).normal(size=(1000, 3))
    det = adgdm.make_detector("diffusion").fit(X)
    apply_threshold(det, "pot", q=1e-3, level=0.95)
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert back.threshold_ == det.threshold_
    assert back.threshold_method_ == det.threshold_method_
    np.testing.assert_array_equal(back.labels_, det.labels_)
    np.testing.assert_array_equal(back.predict(X[:50] * 3), det.predict(X[:50] * 3))


def test_refit_drops_the_recorded_method_and_saves_without_it(table, tmp_path):
    det = make("dte-np").fit(table.X)
    apply_threshold(det, "fixed", value=0.3)
    det.fit(table.X)
    assert not hasattr(det, "threshold_method_")
    apply_threshold(det, "fixed", value=0.3)
    det.threshold_ = 0.4  # changed by hand: the record no longer describes it and is not saved
    det.save(tmp_path / "m")
    assert not hasattr(adgdm.load(tmp_path / "m"), "threshold_method_")


def _series(T=700, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    return np.stack([np.sin(2 * np.pi * t / 25), np.cos(2 * np.pi * t / 40)], 1) + 0.05 * rng.normal(size=(T, 2))


def test_series_threshold_method_survives_save_and_load_and_refit(tmp_path):
    x = _series()
    det = SeriesDiffusion(window=16, random_state=0).fit(x[:500])
    apply_threshold(det, "pot", q=1e-3, level=0.9)
    det.save(tmp_path / "s")
    back = adgdm.load(tmp_path / "s")
    assert back.threshold_ == det.threshold_ and back.threshold_method_ == det.threshold_method_
    np.testing.assert_array_equal(back.predict(x), det.predict(x))
    det.fit(x[:500])
    assert not hasattr(det, "threshold_method_")


# --- calibrated probabilities -----------------------------------------------------------------------------
def test_calibrated_predict_proba_is_monotone_and_one_half_at_the_threshold(table):
    det = make("diffusion").fit(table.X)
    p = det.predict_proba(table.test, method="calibrated")
    assert p.shape == (len(table.test), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    s = det.decision_function(table.test)
    order = np.argsort(s)
    assert (np.diff(p[order, 1]) >= 0).all()
    np.testing.assert_array_equal(p[:, 1] > 0.5, det.predict(table.test) == 1)
    assert calibrated_proba([det.threshold_], det.decision_scores_, det.threshold_)[0] == 0.5
    # one training IQR above the threshold: 0.9
    iqr = np.subtract(*np.percentile(det.decision_scores_, [75, 25]))
    assert calibrated_proba([det.threshold_ + iqr], det.decision_scores_, det.threshold_)[0] == pytest.approx(0.9)
    # the default is unchanged
    np.testing.assert_array_equal(det.predict_proba(table.test), det.predict_proba(table.test, method="linear"))


def test_calibrated_proba_with_constant_training_scores():
    p = calibrated_proba([0.0, 1.0, 2.0], np.ones(10), 1.0)
    assert p[1] == 0.5 and p[0] < 0.5 < p[2]


def test_series_calibrated_predict_proba():
    x = _series()
    det = SeriesDiffusion(window=16, random_state=0).fit(x[:500])
    p = det.predict_proba(x, method="calibrated")[:, 1]
    np.testing.assert_array_equal(p > 0.5, det.predict(x) == 1)
    np.testing.assert_array_equal(det.predict_proba(x), det.predict_proba(x, method="rank"))
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        det.predict_proba(x, method="nope")


# --- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scores, match", [
    ([1.0, np.nan, 2.0], "non-finite"),
    ([1.0, np.inf], "non-finite"),
    ([], "empty"),
    (np.ones((3, 2)), "1-D"),
    (["a", "b"], "must be numbers"),
])
@pytest.mark.parametrize("method", ["contamination", "pot", "fixed"])
def test_bad_scores(scores, match, method):
    with pytest.raises(ValueError, match=match):
        choose_threshold(scores, method, value=1.0)


@pytest.mark.parametrize("kw, match", [
    (dict(q=0.0), "q must lie in"), (dict(q=1.0), "q must lie in"), (dict(q=-0.1), "q must lie in"),
    (dict(level=0.0), "level must lie in"), (dict(level=1.0), "level must lie in"),
    (dict(q=0.05, level=0.98), "q must be smaller than 1 - level"),
    (dict(q="x"), "q must be a number"),
])
def test_bad_pot_parameters(kw, match):
    scores = np.random.default_rng(0).exponential(size=500)
    with pytest.raises(ValueError, match=match):
        pot_threshold(scores, **kw)
    with pytest.raises(ValueError, match=match):
        SPOT(**kw).fit(scores)


def test_bad_method_and_arguments(table):
    s = np.arange(10.0)
    with pytest.raises(ValueError, match="unknown threshold method 'median'"):
        choose_threshold(s, "median")
    with pytest.raises(ValueError, match="needs value="):
        choose_threshold(s, "fixed")
    with pytest.raises(ValueError, match="finite number"):
        fixed_threshold(np.nan)
    with pytest.raises(ValueError, match=r"contamination must lie in \(0, 0.5\]"):
        contamination_threshold(s, 0.7)
    with pytest.raises(ValueError, match="not fitted"):
        apply_threshold(make("diffusion"), "pot")
    det = make("diffusion").fit(table.X)
    with pytest.raises(ValueError, match="unknown argument"):
        apply_threshold(det, "pot", risk=0.1)
    with pytest.raises(ValueError, match="unknown threshold method"):
        apply_threshold(det, "nope")
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        det.predict_proba(table.test, method="nope")


def test_bad_spot_use():
    with pytest.raises(ValueError, match="not fitted"):
        SPOT().step(1.0)
    spot = SPOT(q=1e-3).fit(np.random.default_rng(0).exponential(size=2000))
    with pytest.raises(ValueError, match="finite number"):
        spot.step(np.nan)
    with pytest.raises(ValueError, match="non-finite"):
        spot.run([1.0, np.inf])
