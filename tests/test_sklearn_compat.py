"""scikit-learn compatibility (issue 30, item 8): the constructor parameter ``score`` hid the
estimator's ``score()`` method (``GridSearchCV`` gave NaN with "'str' object is not callable", and
``check_fit_score_takes_y`` / ``check_pipeline_consistency`` failed). It is now ``scoring``; the old
name still works, with a DeprecationWarning, from Python, a spec string, ``--param`` and a saved
model folder (which scores identically). ``benchmarks/check_estimator.py`` runs every check on
every tabular detector."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import check_fit_score_takes_y, check_pipeline_consistency

import adgdm
from adgdm.detectors.registry import detector_class
from conftest import make

X = np.random.default_rng(0).normal(size=(120, 3))
RENAMED = ["ddpm", "series-recon", "image-feat", "image-feat-ideal", "image-feat-seg", "mm-cross", "multimodal"]


@pytest.mark.parametrize("check", [check_fit_score_takes_y, check_pipeline_consistency], ids=lambda c: c.__name__)
def test_sklearn_checks_that_touch_score_pass_on_ddpm(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checks' own warnings (small data)
        check("DDPMDetector", make("ddpm"))


def test_grid_search_over_ddpm_gives_finite_scores():
    def mean_score(est, X_, y=None):  # a score to maximise: lower anomaly scores on held-out normal rows
        return -float(np.mean(est.decision_function(X_)))

    grid = GridSearchCV(make("ddpm"), {"steps": [2, 3], "scoring": ["reconstruction", "noise"]}, cv=2,
                        scoring=mean_score, error_score="raise").fit(X)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_params_["scoring"] in ("reconstruction", "noise")


@pytest.mark.parametrize("name", RENAMED)
def test_no_detector_has_a_score_attribute_and_the_old_name_still_works(name):
    cls = detector_class(name)
    det = cls()
    assert not hasattr(det, "score") and "scoring" in det.get_params() and "score" not in det.get_params()
    value = det.get_params()["scoring"] or "recon"
    with pytest.warns(DeprecationWarning, match="'score' is now called 'scoring'"):
        old = cls(score=value)
    assert old.scoring == value and clone(old).get_params() == old.get_params()
    with pytest.raises(ValueError, match="old name"):
        cls(score=value, scoring="something else")
    with pytest.raises(TypeError, match="unexpected keyword argument 'scorr'"):
        cls(scorr=value)


def test_old_name_from_a_spec_string_param_and_set_params():
    with pytest.warns(DeprecationWarning):
        assert adgdm.make_detector("ddpm:score=noise").scoring == "noise"
    with pytest.warns(DeprecationWarning):
        assert adgdm.make_detector("ddpm", score="elbo").scoring == "elbo"
    with pytest.warns(DeprecationWarning):
        assert make("ddpm").set_params(score="noise").scoring == "noise"
    with pytest.warns(DeprecationWarning):
        fast = {k: v for k, v in make("ddpm").get_params().items() if k != "scoring"}
        pipe = adgdm.Pipeline("ddpm", params={"score": "noise", **fast}).fit(X)
    assert pipe.detector_.scoring == "noise" and pipe.card_.params["scoring"] == "noise"
    assert "score" not in pipe.card_.params


def test_an_old_model_folder_with_score_loads_and_scores_identically(tmp_path):
    import pandas as pd

    df = pd.DataFrame(X, columns=["a", "b", "c"])
    pipe = adgdm.Pipeline("ddpm:scoring=noise", params=make("ddpm").get_params() | {"scoring": "noise"}).fit(df)
    folder = pipe.save(tmp_path / "model")
    new = pd.DataFrame(np.random.default_rng(1).normal(size=(20, 3)), columns=["a", "b", "c"])
    before = adgdm.Pipeline.load(folder).score(new).score
    # the files as a version before the rename wrote them: the parameter under its old name
    cfg = json.loads((folder / "config.json").read_text())
    cfg["params"]["score"] = cfg["params"].pop("scoring")
    (folder / "config.json").write_text(json.dumps(cfg))
    card = json.loads((folder / "cli.json").read_text())
    card["detector"] = "ddpm:score=noise"
    card["params"]["score"] = card["params"].pop("scoring")
    (folder / "cli.json").write_text(json.dumps(card))
    with pytest.warns(DeprecationWarning):
        det = adgdm.load(folder)
    assert det.scoring == "noise"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        again = adgdm.Pipeline.load(folder)
        np.testing.assert_array_equal(again.score(new).score, before)
        np.testing.assert_array_equal(det.decision_function(new), before)


def test_sparse_input_is_refused_with_a_message_that_says_so():
    sparse = pytest.importorskip("scipy.sparse")
    det = make("dte-np").fit(X)
    for bad in (sparse.csr_matrix(X), sparse.csr_array(X)):
        with pytest.raises(ValueError, match="sparse input is not supported; pass a dense array"):
            det.decision_function(bad)
        with pytest.raises(ValueError, match="sparse"):
            make("dte-np").fit(bad)
