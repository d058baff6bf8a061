"""series-cycle: the series default plus a classifier trained on injected anomalies."""
import numpy as np
import pytest
from sklearn.base import clone

import adgdm
from adgdm.detectors import SeriesCycle, SeriesDiffusion


def _series(n=2600, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * rng.normal(size=n)
    x[2000:2006] += 2.5          # spike
    x[2200:2260] += 0.8          # level shift
    return x


@pytest.fixture(scope="module")
def fitted():
    return SeriesCycle(window=32, copies=2, random_state=0).fit(_series()[:1600])


def test_series_cycle_scores_every_step_and_flags_injected_kinds(fitted):
    x = _series()
    s = fitted.decision_function(x)
    assert s.shape == (2600,) and np.isfinite(s).all()
    assert s[2000:2006].max() > fitted.threshold_
    assert np.median(s[2205:2260]) > np.quantile(s[1600:1990], 0.99)
    assert (s[1600:1990] > fitted.threshold_).mean() < 0.05  # fresh normal stretch
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_scores_[31:], 0.99))
    assert fitted.predict(x).shape == (2600,)


def test_series_cycle_classifier_adds_to_the_base_score(fitted):
    x = _series()
    base = fitted.base_.decision_function(x)
    z = (base - fitted.base_center_) / fitted.base_scale_
    # the combined score is not the base score alone: the classifier term moves it
    assert np.abs(fitted.decision_function(x) - z).max() > 0.5
    zero = clone(fitted).set_params(weight=0.0).fit(_series()[:1600])
    np.testing.assert_allclose(zero.decision_function(x), z, rtol=1e-9, atol=1e-9)


def test_series_cycle_deterministic_contract_and_errors(fitted):
    again = SeriesCycle(window=32, copies=2, random_state=0).fit(_series()[:1600])
    np.testing.assert_array_equal(again.decision_function(_series()), fitted.decision_function(_series()))
    assert "series-cycle" in adgdm.list_detectors("series")
    assert clone(fitted).get_params() == fitted.get_params()
    with pytest.raises(ValueError, match="copies"):
        SeriesCycle(copies=0).fit(_series()[:800])
    with pytest.raises(ValueError, match="channels"):
        fitted.decision_function(np.zeros((100, 2)))
    assert isinstance(fitted.base_, SeriesDiffusion)


def test_series_cycle_save_load_round_trip_and_corruption(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.decision_function(_series()), fitted.decision_function(_series()))
    assert back.threshold_ == fitted.threshold_
    weights = tmp_path / "m" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(adgdm.ModelFileError):
        adgdm.load(tmp_path / "m")
