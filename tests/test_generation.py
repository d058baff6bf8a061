"""Generation: sampling, the anomaly kinds, the detector-feedback filter, the cycle detector."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import NotFittedError

import adgdm
from adgdm import DDPMDetector, DiffusionDetector
from adgdm.data.featuremap import FeatureMap
from adgdm.detectors import CycleDetector
from adgdm.generation import (TABULAR_KINDS, ConditionalDiffusion, filter_by_detector, generate_anomalies,
                              sample)


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    y = 1 - y  # malignant = anomaly
    return X, y


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    return DDPMDetector(max_steps=300, epochs=10_000, random_state=0).fit(X[y == 0])


@pytest.fixture(scope="module")
def judge(data):
    X, y = data
    return DiffusionDetector().fit(X[y == 0])


def test_sample_shape_units_and_determinism(model, data):
    X, y = data
    a = sample(model, 64, steps=10, random_state=1)
    b = model.sample(64, steps=10, random_state=1)
    assert a.shape == (64, 30) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample(model, 64, steps=10, random_state=2))
    normal = X[y == 0]
    # original units: the feature scales differ by orders of magnitude, the samples must follow them
    assert np.corrcoef(np.log(a.mean(0) + 1e-3), np.log(normal.mean(0) + 1e-3))[0, 1] > 0.95
    assert (a >= normal.min(0) - 1e-9).all() and (a <= normal.max(0) + 1e-9).all()  # normals stay in range
    # the default is the ancestral chain over every timestep
    np.testing.assert_array_equal(model.sample(16, random_state=3),
                                  sample(model, 16, steps=model.schedule_.n_steps, sampler="ddpm", random_state=3))


def test_samples_of_discrete_columns_land_on_their_levels():
    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(1, 6, size=400), rng.normal(size=400), rng.choice([0.5, 2.0, 7.5], size=400)]
    S = DDPMDetector(max_steps=100, random_state=0).fit(X).sample(200, steps=5, random_state=0)
    assert set(np.unique(S[:, 0])) <= {1, 2, 3, 4, 5}
    assert set(np.unique(S[:, 2])) <= {0.5, 2.0, 7.5}
    assert len(np.unique(S[:, 1])) > 100  # continuous stays continuous


def test_sampling_bad_input(model):
    with pytest.raises(ValueError, match="n must be"):
        sample(model, 0)
    with pytest.raises(NotFittedError):
        DDPMDetector().sample(5)
    with pytest.raises(TypeError, match="not a fitted diffusion model"):
        sample(DiffusionDetector(), 5)


@pytest.mark.parametrize("kind", [k for k in TABULAR_KINDS if k not in ("conditional", "guided")])
def test_each_kind_gives_count_shape_and_is_deterministic(kind, model, data):
    X, y = data
    a = generate_anomalies(model, X[y == 0], 40, kind=kind, random_state=3)
    b = generate_anomalies(model, X[y == 0], 40, kind=kind, random_state=3)
    assert a.shape == (40, 30) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)


def test_local_severity_raises_anomaly_scores(model, judge, data):
    X, y = data
    med = [np.median(judge.decision_function(generate_anomalies(model, X[y == 0], 150, kind="local", severity=s,
                                                                 random_state=0))) for s in (0.25, 1.0, 2.0)]
    assert med[0] < med[1] < med[2]
    assert med[1] > np.quantile(judge.decision_scores_, 0.9)  # severity 1 leaves the normal bulk


def test_masked_changes_only_the_chosen_features(model, data):
    X, y = data
    A = generate_anomalies(model, X[y == 0], 30, kind="masked", features=[2, 5], severity=1.5, random_state=0)
    normal = X[y == 0]
    others = np.delete(np.arange(30), [2, 5])
    # every unmasked feature vector is exactly one of the normal rows'
    rows = {tuple(r) for r in normal[:, others]}
    assert all(tuple(r) in rows for r in A[:, others])
    assert not all(tuple(r) in {tuple(q) for q in normal[:, [2, 5]]} for r in A[:, [2, 5]])
    with pytest.raises(ValueError, match="features"):
        generate_anomalies(model, X[y == 0], 5, kind="masked", features=[40])


def test_dependency_keeps_marginals_and_breaks_correlation(data):
    X, y = data
    A = generate_anomalies(None, X[y == 0], 2000, kind="dependency", random_state=0)
    normal = X[y == 0]
    assert set(np.unique(A[:, 0])) <= set(np.unique(normal[:, 0]))
    # features 0 and 2 (radius, perimeter) correlate at ~1 in the data; drawn independently they do not
    assert np.corrcoef(normal[:, 0], normal[:, 2])[0, 1] > 0.9
    assert abs(np.corrcoef(A[:, 0], A[:, 2])[0, 1]) < 0.1


def test_conditional_guidance_moves_samples_towards_the_anomalies(data):
    X, y = data
    normal, anomalies = X[y == 0], X[y == 1][:15]
    cd = ConditionalDiffusion(width=64, depth=2, max_steps=600, random_state=0)
    cd.fit(np.vstack([normal, anomalies]), np.r_[np.zeros(len(normal)), np.ones(15)])
    fm = cd.featuremap_
    centre = fm.transform(normal).mean(0)
    axis = fm.transform(anomalies).mean(0) - centre
    axis /= np.linalg.norm(axis)

    def along(S):  # mean position on the normal -> anomaly axis (anomalies sit at about 12.6)
        return float(((fm.transform(S) - centre) @ axis).mean())

    normal_like = sample(cd, 200, steps=20, label=0, random_state=0)
    cond = generate_anomalies(cd, normal, 200, kind="conditional", guidance_scale=0.0, random_state=0)
    guided = generate_anomalies(cd, normal, 200, kind="conditional", guidance_scale=3.0, random_state=0)
    assert along(normal_like) < 5 < along(cond) < along(guided)
    assert abs(along(cond) - along(anomalies)) < 3
    with pytest.raises(ValueError, match="k >= 1"):
        generate_anomalies(None, normal, 10, kind="conditional", X_anomaly=np.zeros((0, 30)))
    with pytest.raises(ValueError, match="k >= 1"):
        ConditionalDiffusion().fit(normal, np.zeros(len(normal)))


def test_guided_lands_in_the_band(model, judge, data):
    X, y = data
    A = generate_anomalies(model, X[y == 0], 40, kind="guided", detector=judge, band=(0.9, 0.99), random_state=0)
    lo, hi = np.quantile(judge.calibration_scores_, [0.9, 0.99])  # the scores the threshold is set from
    s = judge.decision_function(A)
    assert A.shape == (40, 30) and ((s >= lo) & (s <= hi)).all()
    with pytest.raises(ValueError, match="detector"):
        generate_anomalies(model, X[y == 0], 5, kind="guided")


def test_generation_bad_input(model, data):
    X, y = data
    with pytest.raises(ValueError, match="n must be"):
        generate_anomalies(model, X[y == 0], 0)
    with pytest.raises(ValueError, match="unknown kind"):
        generate_anomalies(model, X[y == 0], 5, kind="weird")
    with pytest.raises(ValueError, match="fitted diffusion model"):
        generate_anomalies(None, X[y == 0], 5, kind="local")
    with pytest.raises(ValueError, match="features"):
        generate_anomalies(model, X[y == 0][:, :5], 5, kind="local")  # wrong feature count
    bad = X[y == 0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        generate_anomalies(model, bad, 5)


def test_filter_respects_the_band_and_counts(model, judge, data):
    X, y = data
    G = generate_anomalies(model, X[y == 0], 200, kind="local", severity=1.0, random_state=0)
    res = filter_by_detector(judge, G, band=(0.5, 0.95))
    lo, hi = np.quantile(judge.calibration_scores_, [0.5, 0.95])
    assert res.n_generated == 200 and res.n_kept == len(res.X) == res.keep.sum()
    s = judge.decision_function(res.X)
    assert ((s >= lo - 1e-9) & (s <= hi + 1e-9)).all()
    assert ((res.scores < lo) | (res.scores > hi))[~res.keep].all()
    assert "kept" in str(res)
    with pytest.raises(ValueError, match="band"):
        filter_by_detector(judge, G, band=(0.9, 0.5))
    with pytest.raises(ValueError, match="not fitted"):
        filter_by_detector(DiffusionDetector(), G)


def test_featuremap_quantile_round_trip_and_lattice():
    rng = np.random.default_rng(0)
    X = np.c_[rng.exponential(size=500), rng.integers(0, 4, size=500) * 2.0]
    fm = FeatureMap(continuous="quantile").fit(X)
    Z = fm.transform(X)
    assert abs(Z[:, 0].mean()) < 0.1 and abs(Z[:, 0].std() - 1) < 0.15  # heavy tail -> Gaussian
    np.testing.assert_allclose(fm.inverse(Z), X, rtol=1e-4, atol=1e-6)
    far = fm.inverse(np.array([[0.0, 40.0]]), clip=False)
    assert far[0, 1] > 6 and far[0, 1] % 2 == 0  # the even lattice extends for anomalies
    assert fm.inverse(np.array([[0.0, 40.0]]))[0, 1] == 6  # normals stay in range
    again = FeatureMap.from_state("quantile", fm.state())
    np.testing.assert_array_equal(again.transform(X), Z)


def test_ddpm_with_feature_map_saves_and_loads(tmp_path, data):
    X, y = data
    det = DDPMDetector(max_steps=50, preprocess="quantile", random_state=0).fit(X[y == 0])
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.sample(10, steps=5, random_state=0), det.sample(10, steps=5, random_state=0))


def test_cycle_contract_zero_and_few_shot(data, tmp_path):
    X, y = data
    tr = np.r_[np.flatnonzero(y == 0)[:250]]
    test = np.setdiff1d(np.arange(len(X)), tr)
    det = CycleDetector(generator_steps=150, n_generated=300, random_state=0)
    assert clone(det).get_params() == det.get_params()
    det.fit(X[tr])
    s = det.decision_function(X[test])
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[test], s) > 0.9
    assert det.decision_scores_.shape == (250,) and set(det.labels_) <= {0, 1}
    assert det.predict(X[test]).mean() > 0.2  # a third of the test rows are anomalies
    assert det.generation_report_[0]["generated"] >= 300 and det.generation_report_[0]["kept"] > 0
    few = np.r_[tr, np.flatnonzero(y == 1)[:10]]
    det5 = CycleDetector(generator_steps=150, n_generated=300, rounds=2, random_state=0).fit(X[few], y[few])
    assert det5.n_real_anomalies_ == 10
    assert [(r["source"], r["judge"]) for r in det5.generation_report_] == [
        ("generic", "diffusion"), ("generic", "cycle"), ("conditional", "diffusion")]
    assert set(det5.heads_) == {"generic", "few_shot"} and det.weights_ == {"generic": 1.0, "few_shot": 0.0}
    assert det5.weight_scores_[(det5.weights_["generic"], det5.weights_["few_shot"])] == max(det5.weight_scores_.values())
    with pytest.raises(ValueError, match="rounds"):
        CycleDetector(rounds=0).fit(X[tr])
    det5.save(tmp_path / "cycle")  # trees as arrays: no pickle
    back = adgdm.load(tmp_path / "cycle")
    np.testing.assert_array_equal(back.decision_function(X[test]), det5.decision_function(X[test]))
    assert back.weights_ == det5.weights_ and back.threshold_ == det5.threshold_
