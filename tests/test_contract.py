"""One contract suite, run for every registered detector."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

import adgdm
from conftest import MIXED, TRANSDUCTIVE, FAST, RANDOMISED, make

NAMES = adgdm.list_detectors()
COLUMNS = ["a", "b", "c", "d"]


def test_registry_lists_every_detector_and_fast_covers_them():
    assert set(NAMES) == {"diffusion", "ddpm", "dte-np", "dte-c", "dte-ig", "pyod-knn", "pyod-iforest",
                          "pyod-ecod", "pyod-lof", "pyod-ocsvm", "cycle", "tabddpm", "auto", "table-fuse"}
    assert set(FAST) == set(NAMES)
    for name, params in FAST.items():  # a misspelt budget would silently fall back to the slow default
        valid = adgdm.detectors.detector_class(name)().get_params()
        assert set(params) <= set(valid), name


@pytest.fixture(scope="module", params=NAMES)
def name(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(name, table):
    return make(name).fit(table.X)


# --- scores ---------------------------------------------------------------------------------------
def test_decision_function_shape_dtype_finite(fitted, table):
    s = fitted.decision_function(table.test)
    assert isinstance(s, np.ndarray)
    assert s.shape == (len(table.test),)
    assert s.dtype == np.float64
    assert np.isfinite(s).all()
    assert np.ptp(s) > 0, "all rows got the same score"


def test_far_outliers_score_higher(fitted, table, name):
    if name in TRANSDUCTIVE:  # scored one row at a time, as its batch changes its statistics
        s_in = np.concatenate([fitted.decision_function(r[None]) for r in table.inliers])
        s_out = np.concatenate([fitted.decision_function(r[None]) for r in table.outliers])
    else:
        s_in = fitted.decision_function(table.inliers)
        s_out = fitted.decision_function(table.outliers)
    assert s_out.mean() > s_in.mean()
    y = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]
    assert roc_auc_score(y, np.r_[s_in, s_out]) >= 0.9


def test_training_scores_and_labels(fitted, table):
    n = len(table.X)
    assert fitted.decision_scores_.shape == (n,)
    assert np.isfinite(fitted.decision_scores_).all()
    assert fitted.n_features_in_ == 4
    assert fitted.labels_.shape == (n,)
    assert set(np.unique(fitted.labels_)) <= {0, 1}
    np.testing.assert_array_equal(fitted.labels_, (fitted.decision_scores_ > fitted.threshold_).astype(int))
    assert abs(fitted.labels_.mean() - fitted.contamination) <= 2.0 / n


def test_predict_matches_threshold(fitted, table):
    pred = fitted.predict(table.test)
    assert pred.shape == (len(table.test),)
    assert np.issubdtype(pred.dtype, np.integer)
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (fitted.decision_function(table.test) > fitted.threshold_).astype(int))
    assert pred[-10:].sum() == 10, "rows moved +8 sd should all be flagged"


@pytest.mark.parametrize("method", ["linear", "rank"])
def test_predict_proba(fitted, table, method):
    p = fitted.predict_proba(table.test, method=method)
    assert p.shape == (len(table.test), 2)
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # the anomaly probability is a non-decreasing function of the score
    order = np.argsort(fitted.decision_function(table.test), kind="stable")
    assert (np.diff(p[order, 1]) >= -1e-12).all()


def test_predict_proba_unknown_method(fitted, table):
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        fitted.predict_proba(table.test, method="nope")


def test_row_scores_do_not_depend_on_the_batch(fitted, table, name):
    """A row's score is a function of that row (and the fitted model) alone."""
    if name in TRANSDUCTIVE:
        pytest.skip(f"{name} is PyOD's transductive scorer, documented as batch-dependent")
    full = fitted.decision_function(table.test)
    np.testing.assert_allclose(fitted.decision_function(table.test[:5]), full[:5], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(fitted.decision_function(table.test[-1:]), full[-1:], rtol=1e-5, atol=1e-8)


def test_constant_column_and_duplicate_rows(name, table):
    X = table.X[:80].copy()
    X[:, 2] = 3.0
    X = np.vstack([X, X[:40]])
    det = make(name).fit(X)
    assert np.isfinite(det.decision_scores_).all()
    s = det.decision_function(np.vstack([X[:5], X[:5] + 0.5]))
    assert s.shape == (10,) and np.isfinite(s).all()


# --- determinism, clone, persistence, pandas ----------------------------------------------------
def test_same_random_state_gives_identical_scores(name, fitted, table):
    again = make(name).fit(table.X)
    np.testing.assert_array_equal(again.decision_function(table.test), fitted.decision_function(table.test))
    np.testing.assert_array_equal(again.decision_scores_, fitted.decision_scores_)
    assert again.threshold_ == fitted.threshold_


@pytest.mark.parametrize("seeded_name", sorted(RANDOMISED))
def test_other_random_state_changes_randomised_detectors(seeded_name, table):
    name = seeded_name
    fitted = make(name).fit(table.X)
    other = make(name, random_state=1).fit(table.X)
    assert not np.array_equal(other.decision_function(table.test), fitted.decision_function(table.test))


def test_clone(fitted):
    c = clone(fitted)
    assert type(c) is type(fitted)
    assert c.get_params() == fitted.get_params()
    assert not hasattr(c, "threshold_") and not hasattr(c, "decision_scores_")
    with pytest.raises(NotFittedError):
        c.decision_function(np.zeros((2, 4)))


def test_save_load_roundtrip(name, fitted, table, tmp_path):
    path = tmp_path / name
    fitted.save(path)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
    loaded = adgdm.load(path)
    assert type(loaded) is type(fitted)
    np.testing.assert_array_equal(loaded.decision_function(table.test), fitted.decision_function(table.test))
    assert loaded.threshold_ == fitted.threshold_
    np.testing.assert_array_equal(loaded.decision_scores_, fitted.decision_scores_)
    np.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    np.testing.assert_array_equal(loaded.predict(table.test), fitted.predict(table.test))
    # parameters survive (JSON stores tuples as lists)
    norm = lambda d: {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}  # noqa: E731
    assert norm(loaded.get_params()) == norm(fitted.get_params())


def test_dataframe_input_matches_numpy(name, fitted, table):
    df = pd.DataFrame(table.X, columns=COLUMNS)
    det = make(name).fit(df)
    assert list(det.feature_names_in_) == COLUMNS
    scores = det.decision_function(pd.DataFrame(table.test, columns=COLUMNS))
    np.testing.assert_array_equal(scores, fitted.decision_function(table.test))
    np.testing.assert_array_equal(det.decision_scores_, fitted.decision_scores_)
    with pytest.raises(ValueError, match="column names differ from those seen at fit"):
        det.decision_function(pd.DataFrame(table.test, columns=["a", "b", "c", "z"]))


# --- bad input ------------------------------------------------------------------------------------
def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


def _string_frame(X):
    """A text column with pandas' default string dtype (``str`` in pandas >= 3)."""
    df = pd.DataFrame(X, columns=COLUMNS)
    df["c"] = ["x"] * len(df)
    return df


def _object_frame(X):
    df = pd.DataFrame(X, columns=COLUMNS)
    df["c"] = pd.Series(["x"] * len(df), dtype=object)
    return df


# (id, build bad input from a clean 2-D table, regex of the message in _validation.check_tabular)
BAD_INPUTS = [
    ("nan", lambda X: _with(X, 3, 1, np.nan),
     r"X contains 1 non-finite values \(NaN or inf\); first is NaN at row 3, column 1"),
    ("inf", lambda X: _with(X, 2, 3, -np.inf),
     r"X contains 1 non-finite values \(NaN or inf\); first is inf at row 2, column 3"),
    ("1-D", lambda X: X[:, 0],
     r"X must be 2-D \(n_samples, n_features\), got 1-D shape .*Reshape your data: X\.reshape\(-1, 1\)"),
    ("3-D", lambda X: X[:, :, None],
     r"X must be 2-D \(n_samples, n_features\), got 3-D shape \(\d+, 4, 1\)"),
    ("empty", lambda X: X[:0], r"X is empty: 0 samples"),
    ("string column", _string_frame, r"X has non-numeric columns: \['c'\]; encode them as numbers first"),
    ("object column", _object_frame, r"X has non-numeric columns: \['c'\]; encode them as numbers first"),
    ("string array", lambda X: X.astype(str).astype(object) + "x",
     r"X must be numeric, got dtype object; encode non-numeric columns first"),
]


def _takes_nan(det) -> bool:
    """Detectors that handle blank cells themselves (``diffusion``, ``missing="impute"``)."""
    return bool(getattr(det, "_takes_nan", lambda: False)())


def _expected(det, kind, msg):
    """For a detector that takes NaN: a NaN cell is no error (None) and inf has its own message."""
    if det.name in MIXED and kind == "inf":  # reads tables itself: names the column and row
        return r"X contains inf in column '3' \(row 2\)"
    if _takes_nan(det):
        if kind == "nan":
            return None
        if kind == "inf":
            return r"X contains 1 infinite values; first at row 2, column 3"
    return msg


def _skip_mixed(name, bad):
    if name in MIXED and bad[0] in ("nan", "string column", "object column", "string array"):
        pytest.skip(f"{name} reads blanks and text columns (its own checks: tests/test_tabddpm.py)")


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_at_fit(name, table, bad):
    kind, build, msg = bad
    _skip_mixed(name, bad)
    det = make(name)
    msg = _expected(det, kind, msg)
    if msg is None:
        assert np.isfinite(det.fit(build(table.X)).decision_scores_).all()
        return
    with pytest.raises(ValueError, match=msg):
        det.fit(build(table.X))


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_at_scoring(name, fitted, table, bad):
    kind, build, msg = bad
    _skip_mixed(name, bad)
    X = build(table.test)
    msg = _expected(fitted, kind, msg)
    if msg is None:
        assert np.isfinite(fitted.decision_function(X)).all() and fitted.predict(X).shape == (len(X),)
        return
    with pytest.raises(ValueError, match=msg):
        fitted.decision_function(X)
    with pytest.raises(ValueError, match=msg):
        fitted.predict(X)


def test_wrong_feature_count_at_scoring(fitted, table):
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 4 features as input \(it was fitted with 4\)"):
        fitted.decision_function(table.test[:, :3])
    with pytest.raises(ValueError, match=r"X has 5 features, but \w+ is expecting 4 features as input"):
        fitted.predict_proba(np.hstack([table.test, table.test[:, :1]]))


def test_scoring_before_fit(name, table):
    det = make(name)
    for method in (det.decision_function, det.predict, det.predict_proba):
        with pytest.raises(NotFittedError, match="is not fitted yet; call fit"):
            method(table.test)
    with pytest.raises(ValueError, match="is not fitted yet"):  # NotFittedError is a ValueError
        det.save("never-written")


@pytest.mark.parametrize("contamination", [0.0, -0.1, 0.51, 1.0])
def test_contamination_out_of_range(name, table, contamination):
    with pytest.raises(ValueError, match=r"contamination must lie in \(0, 0\.5\], got"):
        make(name, contamination=contamination).fit(table.X)


@pytest.mark.parametrize("name", ["diffusion", "dte-np", "pyod-knn"])
@pytest.mark.parametrize("contamination", [0.05, 0.25, 0.5])
def test_threshold_follows_contamination(name, table, contamination):
    det = make(name, contamination=contamination).fit(table.X)
    cal = det.calibration_scores_  # the training scores, or ones that behave like new data's
    assert det.threshold_ == pytest.approx(np.quantile(cal, 1 - contamination))
    assert abs(np.mean(cal > det.threshold_) - contamination) <= 2.0 / len(cal)


# --- pandas dtypes (validation is shared, so one cheap detector is enough) -------------------------
def test_nullable_and_bool_pandas_columns_are_numeric(table):
    df = pd.DataFrame(table.X, columns=COLUMNS)
    df["a"] = (df["a"] * 1000).round().astype("Int64")  # pandas nullable integer, no missing values
    df["b"] = df["b"].astype("Float64")
    df["d"] = df["d"] > 0
    det = make("dte-np").fit(df)
    ref = make("dte-np").fit(df.astype("float64").to_numpy())
    np.testing.assert_allclose(det.decision_function(df), ref.decision_function(df.astype("float64").to_numpy()))


def test_categorical_column_is_rejected_by_name(table):
    df = pd.DataFrame(table.X, columns=COLUMNS)
    df["b"] = pd.Categorical(np.where(df["b"] > 0, "hi", "lo"))
    with pytest.raises(ValueError, match=r"X has non-numeric columns: \['b'\]"):
        make("dte-np").fit(df)


def test_memory_layout_does_not_change_scores(table):
    """A Fortran-ordered copy (what ``DataFrame.to_numpy()`` returns) is the same table."""
    a = make("dte-np").fit(table.X)
    b = make("dte-np").fit(np.asfortranarray(table.X))
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    np.testing.assert_array_equal(a.decision_function(np.asfortranarray(table.test)), a.decision_function(table.test))
