"""auto (issue 32): the detector is chosen per dataset by mean regret on anomalies generated out of
held-out normal rows; deterministic; saved with its choice; too little data falls back."""
import json
import warnings

import numpy as np
import pytest

import adgdm
from adgdm.detectors.auto import AutoFallbackWarning, choose


def normal(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    # two latent factors: the columns depend on each other (a dependency break is detectable)
    return np.c_[z, z @ rng.normal(size=(2, d - 2)) + 0.1 * rng.normal(size=(n, d - 2))]


def test_rule_smallest_mean_regret_ties_to_earlier_fused_needs_a_margin():
    t = {"a": {"k1": 0.90, "k2": 0.80}, "b": {"k1": 0.70, "k2": 0.99}, "c": {"k1": 0.90, "k2": 0.80}}
    pick, regret = choose(t, ["a", "b", "c"])
    assert pick == "a" and regret["a"] == pytest.approx(0.095) and regret["a"] == regret["c"]
    assert choose(t, ["c", "a", "b"])[0] == "c"                        # a tie goes to the earlier
    t["f"] = {"k1": 0.905, "k2": 0.801}                                 # fused: better, but not by 0.005 on regret
    assert choose(t, ["a", "b", "c"], fused="f")[0] == "a"
    t["f"] = {"k1": 0.95, "k2": 0.95}
    assert choose(t, ["a", "b", "c"], fused="f")[0] == "f"


def test_auto_picks_the_candidate_that_sees_the_generated_anomalies():
    """A deliberately weak candidate (an isolation forest of one tree) against
    KNN: auto must choose KNN, and its choice is the argmin of the regret it stored."""
    X = normal()
    det = adgdm.make_detector("auto", candidates="pyod-iforest:n_estimators=1+pyod-knn",
                              fuse_top=0, n_anomalies=60, random_state=0).fit(X)
    assert det.chosen_ == "pyod-knn"
    reg = det.selection_["regret"]
    assert det.chosen_ == min(reg, key=reg.get)
    assert set(det.selection_["table"]["pyod-knn"]) == set(det.kinds_all)
    assert "<- chosen" in det.selection_table().splitlines()[2]


def test_deterministic_and_saved_with_its_choice(tmp_path):
    X = normal(seed=1)
    a = adgdm.make_detector("auto", n_anomalies=40, random_state=3).fit(X)
    b = adgdm.make_detector("auto", n_anomalies=40, random_state=3).fit(X)
    assert a.selection_ == b.selection_
    Q = normal(50, seed=9) + np.r_[np.zeros((45, 6)), 4 * np.ones((5, 6))]
    np.testing.assert_array_equal(a.decision_function(Q), b.decision_function(Q))
    a.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert back.chosen_ == a.chosen_ and back.selection_ == json.loads(json.dumps(a.selection_))
    np.testing.assert_allclose(back.decision_function(Q), a.decision_function(Q))
    assert back.threshold_ == a.threshold_


def test_fused_candidate_is_a_detector_that_round_trips(tmp_path):
    X = normal(seed=2)
    det = adgdm.make_detector("table-fuse", parts="diffusion+pyod-knn").fit(X)
    det.save(tmp_path / "f")
    np.testing.assert_allclose(adgdm.load(tmp_path / "f").decision_function(X[:20]), det.decision_function(X[:20]))
    with pytest.raises(ValueError, match="two or more"):
        adgdm.make_detector("table-fuse", parts="diffusion").fit(X)


def test_tiny_data_falls_back_to_the_default_with_a_warning():
    X = normal(40)
    with pytest.warns(AutoFallbackWarning, match="40 normal units are fewer than min_units=50"):
        det = adgdm.make_detector("auto").fit(X)
    assert det.chosen_ == "diffusion" and "fallback" in det.selection_["why"]
    assert det.decision_function(X).shape == (40,)


def test_bad_candidates_and_kinds_one_clear_error():
    X = normal(100)
    with pytest.raises(ValueError, match="is a series detector"):
        adgdm.make_detector("auto", candidates="diffusion+series").fit(X)
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        adgdm.make_detector("auto", kinds="local+sideways").fit(X)
    with pytest.raises(ValueError, match="no 'auto' detector for video"):
        adgdm.make_detector("auto", modality="video")
    assert type(adgdm.make_detector("auto", modality="tabular")).__name__ == "TableAuto"


def test_cli_fit_prints_the_table_and_the_card_keeps_it(tmp_path):
    import pandas as pd
    from adgdm.commands.fit import run_fit

    X = normal(seed=4)
    pd.DataFrame(X, columns=[f"c{i}" for i in range(6)]).to_csv(tmp_path / "d.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_fit(tmp_path / "d.csv", out=tmp_path / "m", detector="auto", params={"n_anomalies": 40})
    note = next(n for n in r["notes"] if n.startswith("auto chose"))
    assert "regret" in note and "<- chosen" in note
    card = json.loads((tmp_path / "m" / "cli.json").read_text())
    assert card["selection"]["choice"] in card["selection"]["table"]


def test_cli_detector_auto_takes_the_modality_auto(tmp_path):
    """`adgdm fit --detector auto --modality series` builds series-auto and prints its table."""
    import pandas as pd
    from adgdm.commands.fit import run_fit

    t = np.arange(1200)
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": np.sin(2 * np.pi * t / 40) + 0.05 * rng.normal(size=1200),
                  "b": np.cos(2 * np.pi * t / 40) + 0.05 * rng.normal(size=1200)}).to_csv(tmp_path / "s.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_fit(tmp_path / "s.csv", out=tmp_path / "m", detector="auto", modality="series",
                    params={"candidates": "series:window=16+tsb-subpca:window=16"})
    assert r["detector"].startswith("series-auto")
    assert any(n.startswith("series-auto") and "<- chosen" in n for n in r["notes"])
    card = json.loads((tmp_path / "m" / "cli.json").read_text())
    assert card["selection"]["choice"] in ("series:window=16", "tsb-subpca:window=16") or \
        card["selection"]["choice"].startswith("series-fuse")
    with pytest.raises(ValueError, match="not available for video"):
        run_fit(tmp_path / "s.csv", out=tmp_path / "v", detector="auto", modality="video")


def test_cli_tiny_data_fallback_is_one_note_not_a_raw_warning(tmp_path):
    import pandas as pd
    from adgdm.commands.fit import run_fit

    pd.DataFrame(normal(40), columns=[f"c{i}" for i in range(6)]).to_csv(tmp_path / "d.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoFallbackWarning)
        r = run_fit(tmp_path / "d.csv", out=tmp_path / "m", detector="auto")
    assert "auto chose diffusion (fallback: 40 normal units are fewer than min_units=50)" in r["notes"]


def test_candidate_options_inside_a_spec_string():
    """`--detector 'auto:candidates=pyod-iforest:n_estimators=1&contamination=0.2+pyod-knn'`: the
    candidate's own options are joined by '&' (a ',' would end `candidates`)."""
    det = adgdm.make_detector("auto:candidates=pyod-iforest:n_estimators=1&contamination=0.2+pyod-knn,fuse_top=0,"
                              "n_anomalies=40", random_state=0).fit(normal())
    assert set(det.selection_["table"]) == {"pyod-iforest:n_estimators=1,contamination=0.2", "pyod-knn"}
    assert det.chosen_ == "pyod-knn"
