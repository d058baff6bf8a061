"""``series-auto`` (issue 32): the choice per series from anomalies injected into the held-out end
of the user's normal series."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import adgdm
from adgdm.detectors import SeriesAuto, list_detectors, make_detector
from adgdm.detectors.auto import AutoFallbackWarning, choose

FAST = "series:window=16+tsb-subpca:window=16"


def _sine(T=1200, seed=0):
    t = np.arange(T)
    return np.sin(2 * np.pi * t / 25) + 0.05 * np.random.default_rng(seed).normal(size=T)


@pytest.fixture(scope="module")
def fitted():
    return SeriesAuto(FAST, random_state=0).fit(_sine())


def test_registered_and_built_by_auto_for_series():
    assert "series-auto" in list_detectors("series")
    det = make_detector("auto", modality="series")
    assert isinstance(det, SeriesAuto) and det.modality == "series"
    assert det.candidate_specs() == ["series", "series-pre", "tsb-subpca"]


def test_picks_the_candidate_the_generated_anomalies_favour():
    # a time-warped stretch of a sine keeps every window's subspace (PCA sees a sine of another
    # phase) but no training window looks like it: the ideal denoiser of windows sees it, Sub-PCA
    # does not; listed first, tsb-subpca would win a tie
    det = SeriesAuto("tsb-subpca:window=16+series:window=16", kinds="frequency", fuse_top=0,
                     random_state=0).fit(_sine())
    table = det.selection_["table"]
    assert table["series:window=16"]["frequency"] > table["tsb-subpca:window=16"]["frequency"] + 0.1
    assert det.chosen_ == "series:window=16" and det.best_.name == "series"


def test_choice_is_the_rule_applied_to_the_stored_table(fitted):
    sel = fitted.selection_
    fused = [s for s in sel["table"] if s.startswith("series-fuse")]
    assert len(fused) == 1 and fused[0] == "series-fuse:parts=series:window=16+tsb-subpca:window=16"
    assert choose(sel["table"], fitted.candidate_specs(), fused[0])[0] == fitted.chosen_
    # one AUROC per generated kind: channel_break needs two channels and is skipped, with the reason
    assert set(sel["table"]["series:window=16"]) == {"spike", "level_shift", "pattern", "frequency", "trend", "noise"}
    assert "channel_break" in sel["skipped"]
    assert fitted.chosen_ in fitted.selection_table()


def test_every_held_step_is_judged_with_a_full_window(fitted):
    x = _sine()[:, None]
    fit_part, held = fitted._split(x, None)
    assert len(held) == 360 and np.array_equal(fit_part, x[:840])
    cand = make_detector("series:window=16", random_state=0).fit(fit_part)
    s = fitted._eval_scores(cand, fit_part, held)
    np.testing.assert_allclose(s, cand.decision_function(x)[840:])


def test_deterministic_under_random_state(fitted):
    again = SeriesAuto(FAST, random_state=0).fit(_sine())
    assert again.selection_ == fitted.selection_
    x = _sine(600, seed=3)
    np.testing.assert_array_equal(again.decision_function(x), fitted.decision_function(x))


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    x = _sine(600, seed=4)
    x[300:310] += 3.0
    np.testing.assert_array_equal(back.decision_function(x), fitted.decision_function(x))
    assert back.chosen_ == fitted.chosen_ and back.threshold_ == fitted.threshold_
    assert back.selection_table() == fitted.selection_table()
    assert back._unjudged_lead() == fitted.best_._unjudged_lead()


def test_too_short_a_series_falls_back_to_the_first_candidate_with_a_warning():
    with pytest.warns(AutoFallbackWarning, match="shorter than min_units=100 steps"):
        det = SeriesAuto(FAST, random_state=0).fit(_sine(300))
    assert det.chosen_ == "series:window=16" and det.selection_["why"].startswith("fallback")
    assert det.decision_function(_sine(100)).shape == (100,)


def test_a_candidate_that_cannot_fit_the_fit_part_is_dropped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = SeriesAuto("series:window=16+tsb-subpca:window=5000", random_state=0).fit(_sine())
    assert det.chosen_ == "series:window=16"
    assert "tsb-subpca:window=5000" in det.selection_["failed"]


def test_a_table_detector_is_not_a_candidate():
    with pytest.raises(ValueError, match="'pyod-knn' is a tabular detector; series-auto chooses among series"):
        SeriesAuto("series+pyod-knn").fit(_sine())
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        SeriesAuto(FAST, kinds="spike+flat").fit(_sine())
