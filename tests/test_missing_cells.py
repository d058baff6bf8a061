"""Blank cells handled by the model (issue 19): ``diffusion`` imputes each blank by the ideal
denoiser's posterior mean given the observed cells, scores the completed row, and keeps complete
rows exactly as before."""
import json

import numpy as np
import pandas as pd
import pytest

from adgdm import load
from adgdm.data.encoder import TableEncoder
from adgdm.detectors.tabular.diffusion import DiffusionDetector
from adgdm.scores.empirical import impute_blanks, observed_distances


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.9, 0.0, 0.0], [0.9, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.5, 1.0]])
    X = rng.multivariate_normal(np.zeros(4), cov, size=400)
    test = rng.multivariate_normal(np.zeros(4), cov, size=60)
    return X, test


@pytest.fixture(scope="module")
def fitted(data):
    return DiffusionDetector(coarse_neighbors=50).fit(data[0])


def test_complete_rows_score_exactly_as_without_the_option(data, fitted):
    X, test = data
    old = DiffusionDetector(coarse_neighbors=50, missing="error").fit(X)
    assert np.array_equal(old.decision_function(test), fitted.decision_function(test))
    assert old.threshold_ == fitted.threshold_
    assert np.array_equal(old.decision_scores_, fitted.decision_scores_)
    # complete rows scored beside rows with blanks: unchanged
    mixed = test.copy()
    mixed[::3, 1] = np.nan
    s = fitted.decision_function(mixed)
    full = ~np.isnan(mixed).any(axis=1)
    assert np.array_equal(s[full], fitted.decision_function(test[full]))
    assert np.isfinite(s).all()
    with pytest.raises(ValueError, match="non-finite values"):
        old.decision_function(mixed)


def test_imputation_is_the_hand_computed_posterior_mean():
    ref = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 3.0], [0.0, 1.0, 5.0], [4.0, 4.0, 7.0]])
    q = np.array([[0.5, 0.0, np.nan]])
    sigma2, k = 0.5, 3
    # distances on the 2 observed cells, rescaled by d / n_observed = 3 / 2
    d2 = np.array([0.25, 0.25, 1.25, 28.25]) * 1.5
    assert np.allclose(observed_distances(q, ref)[0], d2)
    w = np.exp(-d2[:3] / (2 * sigma2))
    expected = (w * ref[:3, 2]).sum() / w.sum()
    got = impute_blanks(q, ref, sigma2, k)
    assert got[0, :2].tolist() == [0.5, 0.0]
    assert np.isclose(got[0, 2], expected)
    # through the detector (standardize=False, so the model's units are the data's)
    det = DiffusionDetector(standardize=False, coarse_neighbors=3, n_neighbors=3, impute_level=0.1).fit(ref)
    s2 = det._impute_sigma2()
    w = np.exp(-d2[:3] / (2 * s2))
    assert np.isclose(det.impute(q)[0, 2], (w * ref[:3, 2]).sum() / w.sum())
    # training rows with blanks: leave-one-out, on co-observed cells, among rows that observe the cell
    R = ref.copy()
    R[1, 2] = np.nan
    filled = impute_blanks(R, R, sigma2, 2, self_index=np.arange(4))
    d_other = observed_distances(R[1:2], R)[0]          # to rows 0, 2, 3 (row 1 itself left out)
    w = np.exp(-d_other[[0, 2]] / (2 * sigma2))
    assert np.isclose(filled[1, 2], (w * R[[0, 2], 2]).sum() / w.sum())
    assert np.array_equal(np.delete(filled, 1, axis=0), np.delete(R, 1, axis=0))


def test_normal_row_with_a_blank_is_not_flagged_but_an_odd_cell_still_is(data, fitted):
    X, test = data
    row = np.array([[0.5, 0.45, -0.3, -0.2]])               # typical: x1 ~ x0, x3 ~ x2
    blank = row.copy()
    blank[0, 1] = np.nan
    assert fitted.decision_function(blank)[0] < fitted.threshold_
    assert fitted.predict(blank)[0] == 0
    odd = blank.copy()
    odd[0, 3] = 6.0                                           # an observed cell far out
    assert fitted.decision_function(odd)[0] > fitted.threshold_
    contrib = fitted.explain(odd)                             # the odd cell explains it; the blank is no evidence
    assert contrib[0, 1] == 0 and contrib[0].argmax() == 3
    broken = np.array([[2.0, np.nan, 0.0, 0.0]])              # the blank is not what makes a row odd ...
    broken2 = np.array([[2.0, -2.0, 0.0, np.nan]])            # ... but a broken dependence still is
    assert fitted.decision_function(broken2)[0] > fitted.decision_function(broken)[0]
    assert fitted.predict(broken2)[0] == 1


def test_blanks_in_training_rows(data):
    X, test = data
    Xb = X.copy()
    rng = np.random.default_rng(1)
    Xb[rng.random(X.shape) < 0.1] = np.nan
    det = DiffusionDetector(coarse_neighbors=50).fit(Xb)
    assert np.isfinite(det.decision_scores_).all() and not np.isnan(det.X_train_).any()
    assert det.train_blank_.sum() == np.isnan(Xb).sum()
    # the observed training cells are kept (standardised), only the blanks are filled
    obs = ~np.isnan(Xb)
    assert np.allclose(det.X_train_[obs], ((Xb - det.center_) / det.scale_)[obs])
    s_full = DiffusionDetector(coarse_neighbors=50).fit(X).decision_function(test)
    assert np.corrcoef(det.decision_function(test), s_full)[0, 1] > 0.9
    assert np.allclose(det.center_, np.nanmean(Xb, axis=0))
    for mode in ("draws",):
        d2 = DiffusionDetector(coarse_neighbors=50, missing=mode).fit(Xb)
        t = test.copy()
        t[::2, 0] = np.nan
        assert np.isfinite(d2.decision_function(t)).all()
        assert np.array_equal(d2.decision_function(t), d2.decision_function(t))


def test_rows_or_columns_with_nothing_observed_are_errors(data, fitted):
    X, _ = data
    bad = X[:10].copy()
    bad[[2, 7]] = np.nan
    with pytest.raises(ValueError, match=r"2 row\(s\) with no observed cell.*rows \[2, 7\]"):
        fitted.decision_function(bad)
    with pytest.raises(ValueError, match=r"rows \[2, 7\]"):
        DiffusionDetector(coarse_neighbors=5).fit(bad)
    col = X[:50].copy()
    col[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) blank \(NaN\) in every training row: \['2'\]"):
        DiffusionDetector(coarse_neighbors=5).fit(col)
    with pytest.raises(ValueError, match="missing must be one of"):
        DiffusionDetector(missing="zero").fit(X)


def test_save_load_round_trip_with_blanks(data, tmp_path):
    X, test = data
    Xb = X.copy()
    Xb[::7, 0] = np.nan
    det = DiffusionDetector(coarse_neighbors=50).fit(Xb)
    t = test.copy()
    t[::2, 3] = np.nan
    det.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert np.array_equal(back.decision_function(t), det.decision_function(t))
    assert np.array_equal(back.train_blank_, det.train_blank_) and back.threshold_ == det.threshold_
    assert not (tmp_path / "m" / "model.pkl").exists()


def test_model_saved_before_the_option_loads_and_scores_as_before(data, fitted, tmp_path):
    X, test = data
    fitted.save(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    for k in ("missing", "impute_level", "n_draws"):      # what an older adgdm wrote
        cfg["params"].pop(k)
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    assert np.array_equal(load(tmp_path / "old").decision_function(test), fitted.decision_function(test))


def test_encoder_passes_blanks_through_as_nan():
    df = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "b", None, "a"]})
    enc = TableEncoder(blanks="nan").fit(df)
    assert "x:missing" not in enc.feature_names_ and "c=<missing>" in enc.feature_names_
    Z = enc.transform(pd.DataFrame({"x": [None], "c": ["a"]}))
    assert np.isnan(Z[0, 0])
    assert TableEncoder.from_state(json.loads(json.dumps(enc.state()))).blanks == "nan"
    old = enc.state()
    old.pop("blanks")                                         # an encoder saved before the option
    assert TableEncoder.from_state(old).blanks == "fill"
    with pytest.raises(ValueError, match="blanks must be"):
        TableEncoder(blanks="zero").fit(df)


def test_cli_fit_and_score_a_csv_with_blanks(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from adgdm.cli import _build_app

    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    df = pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=300), "c": rng.normal(size=300)})
    df.loc[::9, "b"] = np.nan
    df.to_csv(tmp_path / "train.csv", index=False)
    test = pd.DataFrame({"a": [0.5, 0.5, 0.2], "b": [np.nan, 0.5, np.nan], "c": [0.0, 8.0, 0.1]})
    test.to_csv(tmp_path / "test.csv", index=False)
    run = typer_testing.CliRunner()
    res = run.invoke(_build_app(), ["fit", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "left to diffusion" in res.output
    res = run.invoke(_build_app(), ["score", str(tmp_path / "m"), str(tmp_path / "test.csv"),
                                    "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert "imputed by diffusion" in res.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert s["score"].notna().all() and s["score"][1] > s["score"][0]
    # a detector that cannot take NaN keeps the mean fill + indicator, and says so
    res = run.invoke(_build_app(), ["fit", str(tmp_path / "train.csv"), "--detector", "pyod-knn",
                                    "--out", str(tmp_path / "k")])
    assert res.exit_code == 0, res.output
    assert "filled with the column mean" in res.output


def test_models_saved_before_coarse_rows_load_with_the_nearest_row_block(tmp_path):
    import json

    from adgdm.detectors import DiffusionDetector
    from adgdm.detectors.registry import load

    rng = np.random.default_rng(8)
    X, Q = rng.normal(size=(600, 3)), rng.normal(size=(50, 3))
    old = DiffusionDetector(coarse_rows=None).fit(X)
    old.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    del cfg["params"]["coarse_rows"]  # as written before the parameter existed
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    back = load(tmp_path / "m")
    assert back.coarse_rows is None
    np.testing.assert_array_equal(back.decision_function(Q), old.decision_function(Q))
    assert DiffusionDetector().coarse_rows == 512  # new fits use the sampled block
    assert not np.array_equal(DiffusionDetector().fit(X).decision_function(Q), old.decision_function(Q))
