"""LearnedObjectDensity: a conditional DDPM of object features given position (issue 31)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from adgdm.detectors.video.obj_density import LearnedObjectDensity

FAST = dict(hidden=64, depth=2, max_steps=300)


def _normal(rng, n):
    y = rng.uniform(0, 1, n)
    return np.c_[y, rng.normal(2 * y, 0.1)]


def _misplaced(rng, n):
    """Speeds that are normal for another position (0.3-0.7 away), wrong for their own."""
    y = rng.uniform(0, 1, n)
    elsewhere = (y + rng.uniform(0.3, 0.7, n)) % 1.0
    return np.c_[y, rng.normal(2 * elsewhere, 0.1)]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(3)
    train = _normal(rng, 1000)
    mu, sd = train.mean(axis=0), train.std(axis=0)
    test = np.r_[_normal(rng, 200), _misplaced(rng, 50)]
    return (train - mu) / sd, (test - mu) / sd, np.r_[np.zeros(200), np.ones(50)]


@pytest.fixture(scope="module")
def fitted(problem):
    return LearnedObjectDensity(cond_columns=(0,), random_state=0, **FAST).fit(problem[0])


def test_speed_wrong_for_its_position_scores_high(problem, fitted):
    _, test, labels = problem
    s = fitted.score(test)
    assert s.shape == (250,)
    assert roc_auc_score(labels, s) > 0.9
    res = fitted.residual(test)
    assert res.shape == (250, 2)
    assert (res[:, 0] == 0).all()  # the conditioning column is not modelled
    np.testing.assert_allclose(res.sum(axis=1), s)


def test_unconditional_model_cannot_separate(problem):
    """The same speeds are all normal somewhere: without the position they look ordinary."""
    train, test, labels = problem
    den = LearnedObjectDensity(cond_columns=(), random_state=0, **FAST).fit(train[:, 1:])
    assert roc_auc_score(labels, den.score(test[:, 1:])) < 0.7


def test_same_seed_same_scores_independent_of_batching(problem, fitted):
    train, test, _ = problem
    again = LearnedObjectDensity(cond_columns=(0,), random_state=0, **FAST).fit(train)
    s = fitted.score(test)
    np.testing.assert_array_equal(again.score(test), s)
    np.testing.assert_array_equal(fitted.score(test), s)  # a second call draws the same noise
    fitted.score_batch_size = 7
    try:
        np.testing.assert_allclose(fitted.score(test), s, rtol=1e-5)  # a row's score is its own
        np.testing.assert_allclose(fitted.score(test[5:6]), s[5:6], rtol=1e-5)
    finally:
        fitted.score_batch_size = 8192


def test_state_round_trip(problem, fitted):
    _, test, _ = problem
    meta, arrays = fitted.state()
    meta = json.loads(json.dumps(meta))  # JSON-able as it is
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    back = LearnedObjectDensity.from_state(meta, arrays)
    np.testing.assert_array_equal(back.score(test), fitted.score(test))
    np.testing.assert_array_equal(back.residual(test), fitted.residual(test))


def test_state_mismatch_is_a_clear_error(fitted):
    meta, arrays = fitted.state()
    with pytest.raises(ValueError, match="not a LearnedObjectDensity state"):
        LearnedObjectDensity.from_state({**meta, "format": "something-else/1"}, arrays)
    with pytest.raises(ValueError, match="does not match 2 modelled"):
        LearnedObjectDensity.from_state({**meta, "n_features": 3}, arrays)
    broken = dict(arrays)
    broken.pop(next(iter(broken)))
    with pytest.raises(ValueError, match="weights do not match"):
        LearnedObjectDensity.from_state(meta, broken)


def test_bad_shapes_and_values(problem, fitted):
    train, test, _ = problem
    with pytest.raises(ValueError, match="z has 3 columns, the model was fitted on 2"):
        fitted.score(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="2-D"):
        fitted.residual(np.zeros(2))
    bad = test[:3].copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(rows \[1\]"):
        fitted.score(bad)
    with pytest.raises(ValueError, match="out of range"):
        LearnedObjectDensity(cond_columns=(2,)).fit(train)
    with pytest.raises(ValueError, match="nothing is left to model"):
        LearnedObjectDensity(cond_columns=(0, 1)).fit(train)
    with pytest.raises(ValueError, match="noise_levels"):
        LearnedObjectDensity(cond_columns=(0,), noise_levels=(0.0,)).fit(train)
    with pytest.raises(RuntimeError, match="not fitted"):
        LearnedObjectDensity(cond_columns=(0,)).score(test)
    assert fitted.score(np.zeros((0, 2))).shape == (0,)
