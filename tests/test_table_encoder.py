"""The table encoder (adgdm.data.encoder): kinds, one-hot scale, blanks, unseen categories as
evidence, JSON round trip, and the clear errors (kind changed, all-missing, dates)."""
import json

import numpy as np
import pandas as pd
import pytest

from adgdm.data.encoder import TableEncoder
from adgdm.detectors.tabular.diffusion import DiffusionDetector


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 2, n)
    c = rng.choice(["http", "smtp", "ftp"], n, p=[0.6, 0.3, 0.1])
    b = rng.random(n) < 0.3
    df = pd.DataFrame({"x": x, "service": c, "flag": b, "code": rng.integers(0, 3, n)})
    df.loc[::17, "x"] = np.nan
    df.loc[::23, "service"] = None
    return df


def test_kinds_and_layout():
    df = _table()
    enc = TableEncoder(categorical=["code"]).fit(df)
    assert enc.kinds_ == {"x": "numeric", "service": "categorical", "flag": "boolean", "code": "categorical"}
    assert enc.feature_names_ == ["x", "x:missing", "service=ftp", "service=http", "service=smtp", "service=<missing>",
                                  "service=<unseen>", "flag=False", "flag=True", "flag=<unseen>", "code=0", "code=1",
                                  "code=2", "code=<unseen>"]
    X = enc.transform(df)
    assert X.shape == (len(df), 14) and np.isfinite(X).all()
    ok = df["x"].notna().to_numpy()
    assert abs(X[ok, 0].mean()) < 1e-9 and abs(X[ok, 0].std() - 1) < 1e-9   # standardised
    assert (X[~ok, 0] == 0).all() and (X[~ok, 1] == 1).all() and (X[ok, 1] == 0).all()
    assert np.allclose(X[:, 2:7].sum(axis=1), 1.0)                         # one level per row
    assert (X[df["service"].isna().to_numpy(), 5] == 1).all()
    # integer columns stay numeric unless named
    assert TableEncoder().fit(df).kinds_["code"] == "numeric"


def test_state_round_trip_through_json():
    df = _table()
    enc = TableEncoder(categorical=["code"], category_scale=1.5).fit(df)
    back = TableEncoder.from_state(json.loads(json.dumps(enc.state())))
    assert back.kinds_ == enc.kinds_ and back.feature_names_ == enc.feature_names_
    new = _table(50, seed=1)
    assert np.array_equal(back.transform(new), enc.transform(new))
    with pytest.raises(ValueError, match="not a saved TableEncoder"):
        TableEncoder.from_state({"columns": []})


def test_unseen_categories_are_counted_not_errors():
    enc = TableEncoder().fit(_table())
    new = _table(20, seed=2)
    new.loc[[0, 1, 5], "service"] = "telnet"
    new["flag"] = new["flag"].astype(object)
    new.loc[2, "flag"] = "maybe"
    e = enc.encode(new)
    assert e.unseen == {"service": 3, "flag": 1} and e.n_unseen == 4
    assert e.unseen_values["service"] == ["telnet"]
    j = e.names.index("service=<unseen>")
    assert e.X[0, j] == 1 and e.X[0, e.names.index("service=http")] == 0
    # a blank where training had none is unseen too
    enc2 = TableEncoder().fit(pd.DataFrame({"c": ["a", "b", "a"]}))
    assert enc2.encode(pd.DataFrame({"c": ["a", None]})).unseen == {"c": 1}


def test_kind_change_is_an_error_naming_the_column():
    enc = TableEncoder().fit(_table())
    bad = _table(10, seed=3)
    bad["x"] = bad["x"].astype(object)
    bad.loc[4, "x"] = "high"
    with pytest.raises(ValueError, match="column 'x' was numeric at fit but holds text here"):
        enc.encode(bad)
    bad = _table(10, seed=3)
    bad["service"] = np.arange(10)
    with pytest.raises(ValueError, match="column 'service' held text categories at fit"):
        enc.encode(bad)
    with pytest.raises(ValueError, match=r"\['flag'\] of the fitted table are not in this one"):
        enc.encode(_table(10).drop(columns="flag"))


def test_all_missing_and_dates_and_new_blanks_are_errors():
    df = _table()
    df["empty"] = np.nan
    with pytest.raises(ValueError, match="column 'empty' is blank in every training row"):
        TableEncoder().fit(df)
    df = _table().assign(empty=None)
    with pytest.raises(ValueError, match="column 'empty' is blank in every training row"):
        TableEncoder(categorical=["empty"]).fit(df)
    with pytest.raises(ValueError, match="column 'day' holds dates"):
        TableEncoder().fit(_table().assign(day="2024-01-05"))
    enc = TableEncoder().fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValueError, match="column 'a' has 1 blank cells"):
        enc.encode(pd.DataFrame({"a": [1.0, np.nan]}))


def test_unseen_category_scores_higher_than_a_common_one_with_diffusion():
    df = _table(400).drop(columns="code")
    enc = TableEncoder().fit(df)
    det = DiffusionDetector(standardize=False).fit(enc.transform(df))
    probe = pd.DataFrame({"x": [10.0, 10.0, 10.0], "service": ["http", "gopher", "ftp"], "flag": [False] * 3})
    s = det.decision_function(enc.transform(probe))
    assert s[1] > s[0] and s[1] > s[2]  # unseen beats the common and the rare seen category
    assert s[1] > det.threshold_
