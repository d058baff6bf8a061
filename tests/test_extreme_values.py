"""Extreme finite values (issue 30, item 4): a cell of 1e200 or 1e308 is clipped where data enters
every detector (``EXTREME_SPREADS`` robust spreads from its column's training median), so its row
scores far beyond the training data, finite, and the other rows are scored as without it; one
warning (Python) or one note (command line) says what was clipped; ``adgdm serve`` answers it."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm._validation import EXTREME_SPREADS, ExtremeValueWarning, collect_extremes, extreme_bounds
from adgdm.detectors import list_detectors
from test_contract_modalities import DATA, _series, make

TABLE = list_detectors("tabular")
SERIES = list_detectors("series")
# an extreme value in one feature scores like the most extreme training value there: isolation trees
# split inside the training range; ECOD's tail probability is that of the largest value; TSB-AD's
# multivariate IForest z-scores each window on its own
NOT_DISTANCE = {"pyod-iforest", "pyod-ecod", "tsb-iforest"}


def _extreme_table():
    T = np.random.default_rng(1).normal(size=(20, 4))
    E = T.copy()
    E[3, 1], E[7, 2], E[9, 0] = 1e200, 1e308, -1e300
    return T, E


def _scored(det, X):
    """Scores of ``X`` and the warnings raised (every warning recorded)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s = det.decision_function(X)
    return s, w


@pytest.mark.parametrize("name", TABLE)
def test_tabular_extreme_cells_are_scored_without_losing_the_other_rows(name):
    det = make(name).fit(DATA["tabular"]())
    T, E = _extreme_table()
    s0 = det.decision_function(T)
    s, w = _scored(det, E)
    assert np.isfinite(s).all()
    assert [type(x.message) for x in w] == [ExtremeValueWarning], [str(x.message)[:120] for x in w]
    assert "3 cell(s)" in str(w[0].message) and "rows 3, 7, 9" in str(w[0].message)
    rows = [3, 7, 9]
    assert (s[rows] >= s0[rows]).all()  # an extreme cell never makes a row look more normal
    if name != "pyod-ecod":  # ECOD re-estimates its tails on the scored batch
        other = np.setdiff1d(np.arange(len(E)), rows)
        np.testing.assert_allclose(s[other], s0[other], rtol=1e-9)
    if name not in NOT_DISTANCE:
        with collect_extremes():
            assert det.predict(E)[rows].all()


@pytest.mark.parametrize("name", SERIES)
def test_series_with_one_extreme_step_scores_finite(name):
    det = make(name).fit(_series())
    T = _series(200, seed=1)
    E = T.copy()
    E[120, 0] = 1e200
    s, w = _scored(det, E)
    assert np.isfinite(s).all()
    assert [type(x.message) for x in w] == [ExtremeValueWarning], [str(x.message)[:120] for x in w]
    assert "steps 120" in str(w[0].message)
    if name not in NOT_DISTANCE:
        with collect_extremes():
            assert det.predict(E)[120] == 1


@pytest.mark.parametrize("name", ["diffusion", "ddpm", "pyod-knn", "tabddpm", "tsb-subpca", "series"])
def test_an_extreme_training_cell_is_clipped_at_fit(name):
    mod = "series" if name in SERIES else "tabular"
    X = DATA[mod]().copy()
    X[5, 1] = 1e200
    with pytest.warns(ExtremeValueWarning, match="of the training data"):
        det = make(name).fit(X)
    assert np.isfinite(det.decision_scores_).all() and np.isfinite(det.threshold_)
    assert np.isfinite(det.decision_function(DATA[mod]())).all()


def test_bounds_leave_real_heavy_tails_alone_and_old_models_get_them_from_their_scale():
    rng = np.random.default_rng(0)
    # a heavy-tailed column (counts: mostly 0, some huge) and a one-hot column: nothing clipped
    X = np.column_stack([np.where(rng.random(2000) < 0.02, rng.pareto(1.0, 2000) * 1e4, 0.0),
                         (rng.random(2000) < 0.005).astype(float), rng.normal(size=2000)])
    lo, hi = extreme_bounds(X)
    assert ((X >= lo) & (X <= hi)).all()
    assert np.allclose(hi[2], np.median(X[:, 2]) + EXTREME_SPREADS * 1.0, rtol=0.1)
    det = adgdm.make_detector("dte-np").fit(X[:, 2:])
    del det.feature_lo_, det.feature_hi_  # a model saved before the bounds: centre -/+ 1e6 scales
    with collect_extremes() as found:
        s = det.decision_function(np.array([[1e300], [0.0]]))
    assert np.isfinite(s).all() and s[0] > det.threshold_ and found[0].n == 1


def test_mixed_table_encoder_keeps_a_column_with_one_extreme_training_cell():
    from adgdm.data.encoder import TableEncoder

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=300), "site": rng.choice(["east", "west"], 300)})
    df.loc[5, "a"] = 1e200
    enc = TableEncoder().fit(df)
    Z = enc.transform(df)
    assert np.isfinite(Z).all()
    assert 0.5 < np.std(np.delete(Z[:, 0], 5)) < 2  # the other rows are not all 0
    Z = enc.transform(pd.DataFrame({"a": [-1e308], "site": ["east"]}))  # overflows (x - c) / s: the largest float
    assert np.isfinite(Z).all()


# --- command line and serve -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from test_serve import _invoke

    d = tmp_path_factory.mktemp("extreme")
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"]).to_csv(d / "train.csv", index=False)
    test = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    test.loc[4, "b"], test.loc[11, "c"] = 1e200, 1e308
    test.to_csv(d / "test.csv", index=False)
    res = _invoke("fit", d / "train.csv", "--out", d / "model")
    assert res.exit_code == 0, res.output
    return d


def test_cli_scores_every_row_of_a_file_with_extreme_cells(files):
    from test_serve import _invoke

    res = _invoke("score", files / "model", files / "test.csv", "--out", files / "scores.csv")
    assert res.exit_code == 0, res.output
    assert "RuntimeWarning" not in res.output and "Warning" not in res.output
    assert "2 cell(s) of the scored data" in res.output and "rows 4, 11" in res.output
    out = pd.read_csv(files / "scores.csv")
    assert len(out) == 30 and np.isfinite(out["score"]).all()
    assert out.loc[[4, 11], "flagged"].tolist() == [1, 1]
    assert out["flagged"].sum() <= 2 + 8  # the others as usual


def test_serve_answers_an_extreme_record_with_a_score_and_an_infinite_one_with_a_4xx(files):
    pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
    from test_serve import KEY, _client, _problem

    with _client(files / "model") as c:
        h = {"X-API-Key": KEY}
        r = c.post("/v1/score", json={"records": [{"a": 1e308, "b": 0.0, "c": 0.0}, {"a": 0.0, "b": 0.1, "c": 0.0}]},
                   headers=h)
        assert r.status_code == 200, r.text
        got = r.json()["results"]
        assert got[0]["flagged"] == 1 and np.isfinite(got[0]["score"]) and got[1]["flagged"] == 0
        body = b'{"records": [{"a": 1e400, "b": 0, "c": 0}]}'  # beyond float64: inf, named
        p = _problem(c.post("/v1/score", content=body, headers={**h, "content-type": "application/json"}), 422)
        assert "column 'a'" in p["detail"] and "infinite" in p["detail"]
        assert json.dumps(p).count("Traceback") == 0
