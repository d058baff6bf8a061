"""TSB-AD's Sub-PCA, Sub-IForest and MatrixProfile baselines: scores per step, detection of injected
anomalies, TSB-AD parity, determinism, cloning and input errors."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from adgdm.detectors.series.baselines import MatrixProfile, SubIForest, SubPCA, _mp_numpy, estimate_period

DATA = Path(os.environ.get("ADGDM_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
SAMPLE = DATA / "tsb-ad-sample" / "001_NAB_id_1_Facility_tr_1007_1st_2014.csv"

try:
    import stumpy  # noqa: F401
    HAVE_STUMPY = True
except ImportError:
    HAVE_STUMPY = False

# MatrixProfile tests use the exact numpy engine (stumpy's numba compile takes ~30 s); one test
# checks that both engines agree.
FACTORIES = {
    "subpca": lambda **kw: SubPCA(**kw),
    "iforest": lambda **kw: SubIForest(**kw),
    "mp-self": lambda **kw: MatrixProfile(engine="numpy", **kw),
    "mp-train": lambda **kw: MatrixProfile(engine="numpy", mode="train", **kw),
}
SPIKE, SHIFT = slice(1100, 1108), slice(1300, 1330)
TRAIN = 800


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # small SVDs run ~50x slower with BLAS threads fighting a busy second core (as conftest does for torch)
    with threadpool_limits(limits=1):
        yield


def _series(seed=0, T=1600, channels=1):
    """Sine of period 40 plus noise; a short spike (8 steps, +3) and a level shift (30 steps, +1.5)
    on channel 0 after the training part."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    x = np.stack([np.sin(2 * np.pi * t / 40 + c) for c in range(channels)], axis=1)
    x += 0.05 * rng.normal(size=x.shape)
    x[SPIKE, 0] += 3.0
    x[SHIFT, 0] += 1.5
    return x


def _segment_auroc(scores, segment, window):
    """AUROC of the segment's steps against test steps more than a window away from any anomaly
    (window scores spread an anomaly over its neighbours)."""
    y = np.zeros(len(scores), bool)
    y[SPIKE] = y[SHIFT] = True
    far = np.convolve(y, np.ones(2 * window + 1), "same") == 0
    far[:TRAIN] = False
    seg = np.zeros(len(scores), bool)
    seg[segment] = True
    keep = far | seg
    return roc_auc_score(seg[keep], scores[keep])


# --- window rule -------------------------------------------------------------------------------------
def test_estimate_period():
    t = np.arange(3000)
    assert estimate_period(np.sin(2 * np.pi * t / 24)) == 24
    assert estimate_period(np.sin(2 * np.pi * t / 50).reshape(-1, 1)) == 50
    assert estimate_period(np.ones(500)) == 125  # no autocorrelation peak: TSB-AD's fallback
    assert estimate_period(np.sin(2 * np.pi * t / 400)) == 125  # peak beyond lag 300
    with pytest.raises(ValueError, match="rank must be"):
        estimate_period(t, rank=4)
    with pytest.raises(ValueError, match="one channel"):
        estimate_period(np.zeros((10, 2)))


# --- detection -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_scores_rank_injected_anomalies(kind):
    x = _series()
    det = FACTORIES[kind]().fit(x[:TRAIN])
    assert det.window_ == 40  # the sine's period, by TSB-AD's rule
    assert det.decision_scores_.shape == (TRAIN,)
    s = det.decision_function(x)
    assert s.shape == (len(x),) and np.isfinite(s).all()
    for seg in (SPIKE, SHIFT):
        assert _segment_auroc(s, seg, det.window_) > 0.9, (kind, seg)


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_unsupervised_run_equals_scoring_the_fit_series(kind):
    # TSB-AD runs these unsupervised and reports the fit's scores; scoring the same series agrees.
    x = _series()[:700]
    det = FACTORIES[kind]().fit(x)
    np.testing.assert_allclose(det.decision_function(x), det.decision_scores_, rtol=1e-12, atol=1e-12)


def test_multivariate():
    x = _series(channels=2)
    for det in (SubPCA(), SubIForest(n_estimators=25, max_features=0.8)):
        s = det.fit(x[:TRAIN]).decision_function(x)
        assert det.window_ == 100 and det.n_channels_ == 2 and s.shape == (len(x),)
    assert _segment_auroc(SubPCA().fit(x[:TRAIN]).decision_function(x), SHIFT, 100) > 0.9
    # MatrixProfile: each channel scored alone and averaged; two equal channels give the 1-channel score
    mp = MatrixProfile(engine="numpy")
    u = _series()
    np.testing.assert_allclose(mp.fit(np.column_stack([u, u])).decision_scores_, mp.fit(u).decision_scores_)


# --- matrix profile exactness ---------------------------------------------------------------------------------
def _brute_force_mp(a, m, b=None):
    def subs(t):
        return np.array([t[i:i + m] for i in range(len(t) - m + 1)])

    def dist(p, q):
        cp, cq = np.ptp(p) == 0, np.ptp(q) == 0
        if cp and cq:
            return 0.0
        if cp or cq:
            return math.sqrt(m)
        zp, zq = (p - p.mean()) / p.std(), (q - q.mean()) / q.std()
        return float(np.linalg.norm(zp - zq))

    A = subs(a)
    B = A if b is None else subs(b)
    excl = math.ceil(m / 4)
    out = []
    for i, p in enumerate(A):
        out.append(min(dist(p, q) for j, q in enumerate(B) if b is not None or abs(i - j) > excl))
    return np.array(out)


def test_numpy_matrix_profile_is_exact():
    rng = np.random.default_rng(3)
    a = rng.normal(size=120)
    a[40:60] = 1.0  # constant subsequences: stumpy's rules (0 between two, sqrt(m) to a varying one)
    b = rng.normal(size=70)
    np.testing.assert_allclose(_mp_numpy(a, 10), _brute_force_mp(a, 10), atol=1e-8)
    np.testing.assert_allclose(_mp_numpy(a, 10, b), _brute_force_mp(a, 10, b), atol=1e-8)


@pytest.mark.skipif(not HAVE_STUMPY, reason="stumpy is not installed (pip install stumpy)")
def test_stumpy_and_numpy_engines_agree():
    x = _series()[:600]
    x[200:240, 0] = 0.3  # a flat stretch
    for mode in ("self", "train"):
        a = MatrixProfile(engine="stumpy", mode=mode).fit(x[:300]).decision_function(x)
        b = MatrixProfile(engine="numpy", mode=mode).fit(x[:300]).decision_function(x)
        np.testing.assert_allclose(a, b, atol=1e-6)


# --- estimator rules ----------------------------------------------------------------------------------------
def test_determinism_under_random_state():
    x = _series()[:900]
    a = SubIForest(n_estimators=30, random_state=1).fit(x[:500]).decision_function(x)
    b = SubIForest(n_estimators=30, random_state=1).fit(x[:500]).decision_function(x)
    c = SubIForest(n_estimators=30, random_state=2).fit(x[:500]).decision_function(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    p = [SubPCA(n_components=5, svd_solver="randomized", random_state=4).fit(x[:500]).decision_function(x)
         for _ in range(2)]
    np.testing.assert_array_equal(*p)


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_clone(kind):
    det = FACTORIES[kind](window=20, periodicity=2)
    det.fit(_series()[:400])
    fresh = clone(det)
    assert fresh.get_params() == det.get_params() and not hasattr(fresh, "window_")
    with pytest.raises(NotFittedError):
        fresh.decision_function(np.zeros(100))


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_bad_input(kind):
    x = _series()[:400, 0]
    det = FACTORIES[kind](window=20).fit(x)
    bad = x.copy()
    bad[7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.decision_function(bad)
    with pytest.raises(ValueError, match="NaN"):
        FACTORIES[kind]().fit(bad)
    with pytest.raises(ValueError, match="2 channels, but .* fitted with 1"):
        det.decision_function(np.column_stack([x, x]))
    with pytest.raises(ValueError, match="shorter than"):
        det.decision_function(x[:15])
    with pytest.raises(ValueError, match="shorter than"):
        FACTORIES[kind](window=50).fit(x[:40])
    with pytest.raises(ValueError, match="must be"):
        det.decision_function(np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match="window must be"):
        FACTORIES[kind](window=0).fit(x)
    with pytest.raises(ValueError, match="periodicity"):
        FACTORIES[kind](periodicity=0).fit(x)


def test_bad_parameters():
    x = _series()[:300, 0]
    with pytest.raises(ValueError, match="mode must be"):
        MatrixProfile(mode="ab").fit(x)
    with pytest.raises(ValueError, match="engine must be"):
        MatrixProfile(engine="gpu").fit(x)
    with pytest.raises(ValueError, match="window must be .* >= 3"):
        MatrixProfile(window=2).fit(x)
    with pytest.raises(ValueError, match="n_selected_components must lie"):
        SubPCA(window=10, n_selected_components=11).fit(x)
    with pytest.raises(ValueError, match="n_estimators"):
        SubIForest(n_estimators=0).fit(x)


# --- TSB-AD parity on its own sample file -----------------------------------------------------------------------
@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"TSB-AD sample not found under {DATA} (set ADGDM_DATA)")
def test_tsb_ad_sample_parity():
    from adgdm.data.series import load_tsb_ad

    rec = load_tsb_ad(SAMPLE)
    assert estimate_period(rec.values) == 6  # TSB-AD's find_length_rank on this file
    # TSB-AD's tutorial run: IForest, window 100, 100 trees, run_IForest's max_features=1, random_state 0
    # -> stored AUC-ROC 0.681064 (shared/anchors/tsbad_vus_reference.csv)
    s = SubIForest(window=100, n_estimators=100).fit(rec.values).decision_scores_
    assert roc_auc_score(rec.labels, s) == pytest.approx(0.681064, abs=1e-6)


# --- scale, constant and one-hot channels, explanations (issue 30, item 9) ---------------------------------------
def _telemetry(T=3000, seed=0):
    """Stationary channels: 5 periodic sensors, 2 constant channels, a one-hot group of 3 modes (they
    sum to 1: linearly dependent) and a rare 0/1 flag."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    cols = [np.sin(2 * np.pi * t / 48 + k) + 0.2 * rng.normal(size=T) for k in range(5)]
    cols += [np.full(T, 1.0), np.full(T, -3.0)]
    mode = (t // 37 + rng.integers(0, 2, T // 37 + 1)[t // 37]) % 3
    cols += [(mode == k).astype(float) for k in range(3)]
    cols += [(rng.random(T) < 0.02).astype(float)]
    return np.column_stack(cols)


def test_constant_and_one_hot_channels_score_on_an_ordinary_scale():
    x = _telemetry()
    det = SubPCA(window=24, contamination=0.1).fit(x[:1500])
    s = det.decision_function(x)
    assert np.isfinite(s).all() and det.threshold_ < 1e6 and s.max() < 1e6
    # the one-hot group's axes (one per lag) carry no training variance: left out, not divided by ~1e-33
    assert (det.pca_.explained_variance_ratio_ <= 1e-12).sum() >= 24
    assert det.selected_weights_.min() > 0 and np.isclose(np.sum(1 / det.selected_weights_), 1.0)
    held = s[1500:]
    assert 0.03 <= np.mean(held > det.threshold_) <= 0.2  # about the contamination share on new normal steps
    # fewer windows than window x channels (SKAB's 400 rows, window 100): the centring axis is null too
    few = SubPCA(contamination=0.1).fit(x[:400])
    assert few.window_ == 100 and few.threshold_ < 1e6


def test_subpca_ranks_as_tsb_ad_when_every_axis_has_variance():
    x = _series(channels=2)
    det = SubPCA(window=20).fit(x[:TRAIN])
    from adgdm.detectors.series.baselines import _windows

    W = det._prepare(_windows(x, 20))
    r = det.pca_.explained_variance_ratio_
    assert (r > 1e-12).all()
    from scipy.spatial.distance import cdist

    tsb = (cdist(W, det.pca_.components_) / r).sum(axis=1)  # TSB-AD's sum over every axis
    ours = det._window_scores(W, len(W))
    np.testing.assert_allclose(ours, tsb / np.sum(1 / r), rtol=1e-9)


def test_subpca_explanations_are_exact_fast_and_name_the_channel():
    x = _telemetry(T=6000)
    x[4000:4012, 2] += 3.0  # an anomaly on channel 2
    det = SubPCA(window=24, contamination=0.1).fit(x[:1500])
    res = det.predict_result(x, explain=True)
    c = res.contributions
    assert c.shape == x.shape and (c >= 0).all()
    np.testing.assert_allclose(c.sum(axis=1), res.score, rtol=1e-8)  # shares sum to the score
    assert int(np.argmax(c[4000:4012].sum(axis=0))) == 2
    assert c[:, 5:7].sum() == 0  # constant channels (dropped at fit) get no share


def test_a_subpca_saved_before_the_rule_scores_as_it_did(tmp_path):
    import adgdm
    from scipy.spatial.distance import cdist

    from adgdm.detectors.series.baselines import _pad_edges, _windows

    x = _telemetry(T=900)
    det = SubPCA(window=24).fit(x[:400])
    # what fit stored before issue 30: every axis, weighted by its raw ratio (null ones ~1e-33)
    det.selected_components_ = det.pca_.components_
    det.selected_weights_ = det.pca_.explained_variance_ratio_
    det.save(tmp_path / "old")
    W = det._prepare(_windows(x, 24))
    old = _pad_edges((cdist(W, det.pca_.components_) / det.pca_.explained_variance_ratio_).sum(axis=1), 24, len(x))
    np.testing.assert_allclose(adgdm.load(tmp_path / "old").decision_function(x), old, rtol=1e-9)
