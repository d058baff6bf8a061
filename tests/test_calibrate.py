"""Thresholds where the user applies them: the expected flag rate with its interval, a note when a
batch is flagged far more often (a shift), and ``calibrate`` on new normal data without refitting."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm.pipeline.flagrate import expected_rate, shift_note
from adgdm.thresholds import NoAlarmWarning


@pytest.fixture()
def shifted(tmp_path):
    rng = np.random.default_rng(0)
    cols = list("abcd")
    pd.DataFrame(rng.normal(size=(400, 4)), columns=cols).to_csv(tmp_path / "train.csv", index=False)
    for name, n in (("week1", 600), ("week2", 2000)):  # the same shifted normal data, two samples
        pd.DataFrame(rng.normal(size=(n, 4)) * 1.6 + 0.5, columns=cols).to_csv(tmp_path / f"{name}.csv", index=False)
    return tmp_path


def test_expected_rate_and_its_interval():
    r = expected_rate(np.arange(1000.0), threshold=899.5)
    assert r["rate"] == 0.1 and r["n"] == 1000 and r["interval"][0] < 0.1 < r["interval"][1] < 0.13
    assert shift_note(r, flagged=110, n=1000) is None            # within chance
    assert "adgdm calibrate" in shift_note(r, flagged=300, n=1000)
    assert shift_note(r, flagged=30, n=40) is None               # too few units to tell


def test_shift_is_noted_and_calibrate_restores_the_rate(shifted):
    pipe = adgdm.Pipeline("dte-np").fit(shifted / "train.csv")
    rate = pipe.card_.threshold["flag_rate"]
    assert abs(rate["rate"] - 0.1) < 0.01 and rate["n"] == 400
    res = pipe.score(shifted / "week2.csv", explain=False)
    assert res.prediction.label.mean() > 0.3
    assert any("adgdm calibrate" in n for n in res.notes)
    out = pipe.calibrate(shifted / "week1.csv")
    assert out["flagged_before"] > 0.3 and abs(out["flagged"] - 0.1) < 0.01 and out["n"] == 600
    pipe.save(shifted / "m")
    again = adgdm.Pipeline.load(shifted / "m")
    res = again.score(shifted / "week2.csv", explain=False)
    assert 0.07 <= res.prediction.label.mean() <= 0.13           # new normal data of the same kind
    assert not any("adgdm calibrate" in n for n in res.notes)
    p = res.prediction
    assert ((p.probability > 0.5) == (p.label == 1)).all()       # the probabilities follow the threshold
    assert again.card_.threshold["calibrated_on"].endswith("week1.csv")


def test_calibrate_refuses_what_it_cannot_use(shifted):
    pipe = adgdm.Pipeline("dte-np").fit(shifted / "train.csv")
    df = pd.read_csv(shifted / "week1.csv")
    with pytest.raises(ValueError, match="at least 20"):
        pipe.calibrate(df.head(10))
    with pytest.raises(ValueError, match="labelled anomalous"):
        adgdm.Pipeline("dte-np", label="y").fit(df.assign(y=0)).calibrate(df.assign(y=[1] * 5 + [0] * 595))


def test_the_command(shifted):
    from typer.testing import CliRunner

    from adgdm.cli import _build_app

    run = lambda *a: CliRunner().invoke(_build_app(), [str(x) for x in a])  # noqa: E731
    assert run("fit", shifted / "train.csv", "--detector", "dte-np", "--out", shifted / "m",
               "--threshold", "pot:0.01:0.9").exit_code == 0  # 400 rows: level 0.98 would need 500
    assert json.loads((shifted / "m" / "cli.json").read_text())["threshold"]["q"] == 0.01
    res = run("calibrate", shifted / "m", shifted / "week1.csv", "--pot", "0.01", "--json")  # 600 >= 500
    assert res.exit_code == 0 and json.loads(res.output)["method"] == "pot", res.output
    res = run("calibrate", shifted / "m", shifted / "train.csv", "--pot", "0.01", "--json")  # 400 < 500
    assert res.exit_code == 2 and "got 400" in res.output and "--pot-level" in res.output
    res = run("calibrate", shifted / "m", shifted / "train.csv", "--pot", "0.01", "--pot-level", "0.9", "--json")
    assert res.exit_code == 0 and json.loads((shifted / "m" / "cli.json").read_text())["threshold"]["level"] == 0.9
    assert run("calibrate", shifted / "m", shifted / "train.csv", "--pot-level", "0.9").exit_code == 2
    res = run("calibrate", shifted / "m", shifted / "week1.csv", "--contamination", "0.05", "--out", shifted / "m2",
              "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["method"] == "contamination" and abs(r["flagged"] - 0.05) < 0.01 and r["model"].endswith("m2")
    res = run("calibrate", shifted / "m", shifted / "week1.csv", "--pot", "0.01", "--fixed", "3")
    assert res.exit_code == 2 and "one of" in res.output
    assert run("fit", shifted / "train.csv", "--out", shifted / "m3", "--threshold", "pot:2").exit_code == 2
    assert run("fit", shifted / "train.csv", "--out", shifted / "m3", "--threshold", "pot:0.01:1.5").exit_code == 2


def test_pot_refuses_too_few_calibration_scores_and_leaves_the_model_as_it_was(shifted):
    pipe = adgdm.Pipeline("dte-np").fit(shifted / "train.csv")
    before = (pipe.detector_.threshold_, pipe.detector_.calibration_scores_.copy(), dict(pipe.card_.threshold))
    df = pd.read_csv(shifted / "week2.csv")
    with pytest.raises(ValueError, match="POT needs at least 500 calibration scores at level=0.98.*got 300"):
        pipe.calibrate(df.head(300), method="pot", q=0.01)
    assert pipe.detector_.threshold_ == before[0] and pipe.card_.threshold == before[2]
    np.testing.assert_array_equal(pipe.detector_.calibration_scores_, before[1])
    assert pipe.calibrate(df.head(300), method="pot", q=0.01, level=0.9)["method"] == "pot"


def test_a_pot_threshold_above_every_calibration_score_is_said(shifted):
    """``--threshold pot`` on a few hundred rows flagged 0 of 916 rows (0 of 86 anomalies) without a word."""
    big = pd.DataFrame(np.random.default_rng(1).normal(size=(3000, 4)), columns=list("abcd"))
    with warnings.catch_warnings():  # said once, by the note (not also by NoAlarmWarning)
        warnings.simplefilter("error", NoAlarmWarning)
        pipe = adgdm.Pipeline("dte-np", threshold="pot:0.000001").fit(big)
    assert pipe.card_.threshold["flag_rate"]["rate"] == 0
    assert any("lies above all 3,000 calibration scores" in n and "pot:0.01" in n for n in pipe.fit_notes_)
    assert not adgdm.Pipeline("dte-np").fit(shifted / "train.csv").fit_notes_ or not any(
        "POT" in n for n in adgdm.Pipeline("dte-np").fit(shifted / "train.csv").fit_notes_)


def _sine(n, level, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.c_[np.sin(2 * np.pi * t / 20), np.cos(2 * np.pi * t / 20)]
    return pd.DataFrame(x * level + noise * rng.normal(size=(n, 2)), columns=["a", "b"])


def test_series_calibrate_skips_the_start_and_the_new_start_is_not_flagged(tmp_path):
    """A series' first steps have no full window: they are not calibration units, and after a
    calibration that lowers the threshold below the training median they still raise no alarm."""
    pipe = adgdm.Pipeline(modality="series", params={"window": 20}, contamination=0.1).fit(_sine(600, 1.0, 0))
    det = pipe.detector_
    lead = det._unjudged_lead()
    assert lead == 19 - det._lag() and lead > 0
    quiet = _sine(300, 1.0, 1, noise=0.02)  # a quieter, still normal regime: lower scores
    out = pipe.calibrate(quiet)
    assert out["n"] == 300 - lead
    assert any(f"the first {lead} steps" in n for n in out["notes"])
    assert pipe.detector_.threshold_ < float(np.median(det.decision_scores_[19:]))
    pipe.save(tmp_path / "m")
    for p in (pipe, adgdm.Pipeline.load(tmp_path / "m")):         # kept by save
        res = p.score(_sine(300, 1.0, 2, noise=0.02), explain=False)
        assert res.prediction.label[:lead].sum() == 0             # the start is not judged
        assert 0.02 <= res.prediction.label[lead:].mean() <= 0.25  # the rest about at the new rate


def test_calibrate_refits_a_drift_aware_series_rule():
    """``calibrate`` on a ``series`` model with ``alarm="drift"`` changed only ``threshold_``, which that
    rule does not flag with: the new normal data's flags stayed those of the old reference."""
    rng = np.random.default_rng(0)
    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 25) + 0.1 * rng.normal(size=3000)
    x[1000:] = 0.5 * x[1000:] + 1.0 * rng.normal(size=2000)  # the normal regime moves after the fitted stretch
    df = pd.DataFrame({"v": x})
    pipe = adgdm.Pipeline("series", params={"window": 16, "alarm": "drift"}, contamination=0.1).fit(df.iloc[:1000])
    before = pipe.detector_.alarm_rule_.state()
    flagged = pipe.score(df, explain=False).prediction.label[1500:].mean()
    out = pipe.calibrate(df, units=slice(1000, 1500), contamination=0.05)
    assert pipe.detector_.alarm_rule_.state() != before and pipe.detector_.contamination == 0.05
    after = pipe.score(df, explain=False).prediction.label[1500:].mean()
    assert after < flagged / 2, (flagged, after)  # unchanged before the fix
    assert out["flagged"] < out["flagged_before"]
