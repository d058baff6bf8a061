"""Fidelity metrics of generated tables: C2ST, MMD, density / coverage, DCR ratio, on Gaussians
whose answer is known (same distribution, mean shifts, mode collapse, copied rows)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from adgdm.metrics import c2st_auc, dcr_ratio, density_coverage, fidelity_report, mmd_rbf


def gauss(seed: int, n: int = 600, d: int = 5, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


@pytest.fixture(scope="module")
def same():
    """Two independent samples of one 5-d standard Gaussian, 600 rows each."""
    return gauss(1), gauss(2)


@pytest.fixture(scope="module")
def c2st_same(same):
    return c2st_auc(*same, random_state=0)


def test_c2st_near_chance_on_one_distribution(c2st_same):
    assert 0.4 < c2st_same < 0.6


def test_c2st_separates_a_mean_shift(same):
    assert c2st_auc(same[0], gauss(3, shift=3.0), random_state=0) > 0.95


def test_c2st_deterministic_under_seed(same, c2st_same):
    assert c2st_auc(*same, random_state=0) == c2st_same


def test_c2st_balances_and_caps_rows(same):
    # 2 rows per class, 2 folds: a tree cannot split 2 rows, so the AUC is exactly chance, even
    # for sets that 600 rows separate perfectly
    assert c2st_auc(gauss(1, n=50), gauss(2, n=2), random_state=0) == 0.5
    assert c2st_auc(same[0], gauss(3, shift=3.0), random_state=0, max_rows=2) == 0.5


def test_mmd_near_zero_on_one_distribution(same):
    assert abs(mmd_rbf(*same, random_state=0)) < 0.01


def test_mmd_grows_with_the_shift(same):
    real = same[0]
    vals = [mmd_rbf(real, same[1] + s, random_state=0) for s in (0.5, 1.0, 2.0)]
    assert vals[0] > 0.03
    assert vals[0] < vals[1] < vals[2]


def test_mmd_matches_a_direct_computation():
    # unbiased MMD^2 from the full kernel matrices, fixed bandwidth, no subsampling
    x, y = gauss(4, n=40, d=3), gauss(5, n=30, d=3, shift=0.5)
    mu, sd = x.mean(0), x.std(0)
    xs, ys = (x - mu) / sd, (y - mu) / sd
    k = lambda a, b: np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * 1.5**2))  # noqa: E731
    kxx, kyy = k(xs, xs), k(ys, ys)
    want = ((kxx.sum() - np.trace(kxx)) / (40 * 39) + (kyy.sum() - np.trace(kyy)) / (30 * 29)
            - 2 * k(xs, ys).mean())
    assert mmd_rbf(x, y, bandwidth=1.5) == pytest.approx(want, rel=1e-10)


def test_density_coverage_on_one_distribution(same):
    dc = density_coverage(*same, random_state=0)
    assert set(dc) == {"density", "coverage"}
    assert 0.7 < dc["density"] < 1.3
    assert dc["coverage"] > 0.8


def test_coverage_low_under_mode_collapse(same):
    collapsed = np.tile(same[1][:1], (600, 1))
    assert density_coverage(same[0], collapsed, random_state=0)["coverage"] < 0.2


def test_density_coverage_hand_computed():
    # real at 0, 1, 3 on a line: k=1 radii 1, 1, 2 (standardising one column keeps ball membership).
    # 0.5 and 0.6 lie in the balls of 0 and 1, 10 in none: 4 hits over k M = 3, 2 of 3 balls hit
    real = np.array([[0.0], [1.0], [3.0]])
    gen = np.array([[0.5], [0.6], [10.0]])
    dc = density_coverage(real, gen, k=1)
    assert dc["density"] == pytest.approx(4 / 3)
    assert dc["coverage"] == pytest.approx(2 / 3)
    # "inside" is strict, as in the authors' code: duplicated real rows have radius 0, so even an
    # exact copy of them is in no ball
    dup = density_coverage(np.array([[0.0], [0.0], [5.0], [5.0]]), np.array([[0.0], [5.0]]), k=1)
    assert dup == {"density": 0.0, "coverage": 0.0}


def test_dcr_ratio_flags_copies(same):
    train = gauss(6)
    copies = train[np.random.default_rng(0).permutation(600)]
    assert dcr_ratio(train, same[0], copies, random_state=0) < 0.1


def test_dcr_ratio_about_one_for_fresh_samples(same):
    assert 0.7 < dcr_ratio(gauss(6), same[0], same[1], random_state=0) < 1.4


def test_fidelity_report_keys_and_values(same):
    rep = fidelity_report(gauss(6, n=300), same[0][:300], same[1][:300], random_state=0)
    assert set(rep) == {"c2st_auc", "mmd", "density", "coverage", "dcr_ratio"}
    assert all(type(v) is float and math.isfinite(v) for v in rep.values())
    assert 0.3 < rep["c2st_auc"] < 0.7 and 0.7 < rep["dcr_ratio"] < 1.4


@pytest.mark.parametrize("fn", [
    lambda a, b: c2st_auc(a, b),
    lambda a, b: mmd_rbf(a, b),
    lambda a, b: density_coverage(a, b, k=1),
    lambda a, b: dcr_ratio(a, a + 1.0, b),
])
@pytest.mark.parametrize("bad, match", [
    ("nan", "NaN"),
    ("columns", "columns"),
    ("one_row", "at least 2 rows"),
    ("1d", "2-D"),
])
def test_bad_input_raises(fn, bad, match):
    good = gauss(7, n=20, d=3)
    other = {
        "nan": np.where(np.arange(60).reshape(20, 3) == 7, np.nan, gauss(8, n=20, d=3)),
        "columns": gauss(8, n=20, d=4),
        "one_row": gauss(8, n=1, d=3),
        "1d": np.zeros(20),
    }[bad]
    with pytest.raises(ValueError, match=match):
        fn(good, other)


def test_bad_parameters_raise(same):
    with pytest.raises(ValueError, match="k=5 needs at least 6 real rows"):
        density_coverage(same[0][:5], same[1])
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_rbf(*same, bandwidth=0.0)
    with pytest.raises(ValueError, match="n_splits"):
        c2st_auc(*same, n_splits=1)
    with pytest.raises(ValueError, match="holdout rows coincide"):
        dcr_ratio(same[0], same[0], same[1])
