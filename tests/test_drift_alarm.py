"""The drift-aware alarm rule (issue 18, item 4): ``adgdm.thresholds.DriftAlarm`` and the series
detectors' ``alarm="drift"``: a slowly drifting normal level raises no alarm, a spike does; a stream
flags what the batch flags; save/load keeps the rule; bad parameters are refused."""
from __future__ import annotations

import numpy as np
import pytest

import adgdm
from adgdm.detectors.series.diffusion import SeriesDiffusion
from adgdm.thresholds import DriftAlarm, drift_alarms

T, TRAIN, SPIKE = 1600, 400, 1300


@pytest.fixture(scope="module")
def drifting():
    """A periodic series whose level drifts by 2 after its 400 training steps, and a spike."""
    rng = np.random.default_rng(0)
    t = np.arange(T)
    x = np.sin(2 * np.pi * t / 20) + 0.1 * rng.normal(size=T)
    x[TRAIN:] += np.linspace(0.0, 2.0, T - TRAIN)
    x[SPIKE:SPIKE + 5] += 3.0
    return x


@pytest.fixture(scope="module")
def fitted(drifting):
    return {alarm: SeriesDiffusion(window=20, alarm=alarm, alarm_depth=20, alarm_absorb=200, contamination=0.002,
                                   random_state=0).fit(drifting[:TRAIN]) for alarm in ("static", "drift")}


# --- the rule on scores ------------------------------------------------------------------------------
def test_rule_follows_a_slow_drift_and_flags_a_spike():
    rng = np.random.default_rng(0)
    train = rng.normal(size=400)
    s = rng.normal(size=3000) + np.linspace(0.0, 10.0, 3000)  # the level drifts by 10 sd
    s[2500] += 125.0
    static = s > np.quantile(train, 0.999)
    assert static[:2500].sum() > 1500                         # a fixed threshold flags the drift
    for log in (False, True):
        flags = DriftAlarm(q=0.001, depth=50, log=log).fit(train).run(s)
        assert flags[2500]
        # what q = 0.001 lets through on noise alone (3000 steps: ~3), not the drift
        assert flags[:2500].sum() <= 5 and flags[2501:].sum() <= 2


def test_absorb_lets_a_lasting_level_shift_become_normal():
    rng = np.random.default_rng(1)
    train = rng.normal(size=400)
    s = rng.normal(size=2000)
    s[500:] += 20.0  # a step that never goes back
    never = DriftAlarm(q=0.001, depth=50).fit(train).run(s)
    absorbed = DriftAlarm(q=0.001, depth=50, absorb=100).fit(train).run(s)
    assert never[500:].all()                      # DSPOT: flagged steps never move the reference
    assert absorbed[500:520].all() and not absorbed[1200:].any()


def test_streaming_update_equals_batch():
    rng = np.random.default_rng(2)
    train = rng.exponential(size=300)
    s = rng.exponential(size=1000) + np.linspace(0, 3, 1000)
    s[[200, 600, 601, 602]] += 30.0
    rule = DriftAlarm(q=0.01, depth=30, absorb=300).fit(train)
    batch = drift_alarms(train, s, q=0.01, depth=30, absorb=300)
    pieces = np.concatenate([rule.update(s[i:i + 37]) for i in range(0, len(s), 37)])
    assert batch.any() and np.array_equal(pieces, batch)
    assert np.array_equal(rule.run(s), batch)  # run starts again from the fitted reference


@pytest.mark.parametrize("kw, match", [({"q": 0.0}, "q must lie"), ({"q": 0.7}, "q must lie"),
                                       ({"depth": 0}, "depth must be"), ({"depth": "fast"}, "depth must be"),
                                       ({"absorb": 0.5}, "absorb must be"), ({"tail": "gauss"}, "tail must be"),
                                       ({"tail": "pot", "q": 0.2, "level": 0.9}, "q must be smaller"),
                                       ({"log": "yes"}, "log must be")])
def test_bad_rule_parameters_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        DriftAlarm(**kw).fit(np.arange(50.0))


def test_rule_refuses_bad_scores_and_use_before_fit():
    with pytest.raises(ValueError, match="not fitted"):
        DriftAlarm().update([1.0])
    with pytest.raises(ValueError, match="non-finite"):
        DriftAlarm().fit([1.0, np.nan, 2.0])
    rule = DriftAlarm().fit(np.arange(50.0))
    with pytest.raises(ValueError, match="non-finite"):
        rule.update([1.0, np.inf])
    assert rule.update([]).shape == (0,)


# --- the rule in the series detector ------------------------------------------------------------------
def test_detector_drift_rule_ignores_the_drift_but_not_the_spike(fitted, drifting):
    static = fitted["static"].predict(drifting)
    drift = fitted["drift"].predict(drifting)
    assert static[TRAIN:SPIKE].sum() > 300                      # the static threshold flags the drift
    ahead = fitted["drift"]._lag()                              # centred windows see the spike this early
    assert drift[TRAIN:SPIKE - ahead].sum() == 0                # the drift rule does not flag the drift
    assert drift[SPIKE - ahead:SPIKE + 25].sum() >= 10          # but still flags the spike
    r = fitted["drift"].predict_result(drifting)
    assert np.array_equal(r.label, drift)
    det = fitted["drift"]  # labels_: the rule over the (cross-fitted) training scores
    assert np.array_equal(det.labels_, det.alarm_rule_.run(det.decision_scores_))


def test_detector_stream_flags_equal_batch(fitted, drifting):
    for det in fitted.values():
        live = det.stream()
        parts = [live.alarms(drifting[i:i + 113]) for i in range(0, T, 113)]
        live.flush()  # align="center": the last steps come with the end of the stream
        flags = np.concatenate(parts + [live.last_flags.astype(int)])
        assert np.array_equal(flags, det.predict(drifting))


def test_save_load_keeps_the_rule(fitted, drifting, tmp_path):
    det = fitted["drift"]
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert back.alarm == "drift" and back.alarm_rule_.state() == det.alarm_rule_.state()
    assert np.array_equal(back.predict(drifting), det.predict(drifting))
    assert np.array_equal(back.labels_, det.labels_)
    fitted["static"].save(tmp_path / "s")
    assert not hasattr(adgdm.load(tmp_path / "s"), "alarm_rule_")


@pytest.mark.parametrize("kw, match", [({"alarm": "dynamic"}, "alarm must be one of"),
                                       ({"alarm": "drift", "alarm_depth": 0}, "depth must be"),
                                       ({"alarm": "drift", "alarm_absorb": -5}, "absorb must be")])
def test_bad_detector_alarm_parameters_raise_before_fitting(kw, match):
    with pytest.raises(ValueError, match=match):
        SeriesDiffusion(window=8, **kw).fit(np.sin(np.arange(100.0)))
