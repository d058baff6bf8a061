"""The ideal-denoiser core object (``EmpiricalDenoiser``) and the fusion of z-scored parts."""
import numpy as np
import pytest

from adgdm.scores import EmpiricalDenoiser, RobustZ, fuse


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).normal(size=(120, 3))


@pytest.fixture(scope="module")
def den(rows):
    return EmpiricalDenoiser(n_neighbors=5, coarse_neighbors=20).fit(rows)


def test_posterior_mean_of_a_reference_row_at_tiny_noise_is_the_row(den, rows):
    np.testing.assert_allclose(den.posterior_mean(rows[:10], 1e-8), rows[:10], atol=1e-12)
    # the residual explain reads: squared distance to the posterior mean, averaged over the fine levels
    Q = rows[:10] + 0.3
    hand = np.mean([(Q - den.posterior_mean(Q, s2)) ** 2 for s2 in den.sigma2_], axis=0)
    np.testing.assert_allclose(den.residual(Q), hand, rtol=1e-12)


def test_evidence_ranks_a_far_point_higher(den):
    Q = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 9.0, 0.0]])
    raw = den.evidence(Q)
    assert raw.shape == (3, den.n_evidence)
    s = den.score(Q)
    assert s[1] > s[0] and s[2] > s[0]
    assert set(den.parts(raw)) == {"fine", "coarse", "marginal"}
    np.testing.assert_array_equal(den.combine(raw), s)


def test_leave_one_out_evidence_sets_the_scale(den):
    raw = den.evidence()
    assert raw.shape == (120, den.n_evidence)
    np.testing.assert_allclose(np.median(den.zscores(raw), axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(den.combine(raw), den.train_scores_)


def test_state_round_trip_is_identical(den):
    meta, arrays = den.state()
    back = EmpiricalDenoiser.from_state(meta, arrays)
    Q = np.random.default_rng(1).normal(size=(7, 3))
    np.testing.assert_array_equal(back.score(Q), den.score(Q))
    np.testing.assert_array_equal(back.residual(Q), den.residual(Q))
    with pytest.raises(ValueError, match="normalisation"):
        EmpiricalDenoiser.from_state(dict(meta, noise_levels=[0.1]), arrays)


def test_cross_fit_scores_folds_against_the_other_rows(rows):
    den = EmpiricalDenoiser(n_neighbors=5, coarse_neighbors=20).fit(rows)
    g = np.arange(len(rows)) % 3
    s = den.cross_fit([np.flatnonzero(g == k) for k in range(3)], lambda fold: g != g[fold[0]])
    assert s.shape == (120,) and s is den.train_scores_
    part = den.subset(g != 0)
    assert len(part.rows_) == 80 and part.norm_ is den.norm_
    np.testing.assert_array_equal(part.score(rows[g == 0]), s[g == 0])


def test_robust_z_of_the_reference_has_median_zero():
    ref = np.random.default_rng(2).exponential(size=101)
    z = RobustZ.fit(ref)
    assert np.median(z(ref)) == 0.0
    assert isinstance(z.center, float)
    assert RobustZ.fit(np.ones(5)).scale == 1.0
    assert RobustZ.fit(np.r_[np.zeros(9), 10.0], std_fallback=True).scale == pytest.approx(3.0)
    cols = RobustZ.fit(np.column_stack([ref, 2 * ref]))
    np.testing.assert_allclose(cols.scale[1], 2 * cols.scale[0])


def test_fuse_matches_the_hand_computation():
    a, b = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    np.testing.assert_array_equal(fuse({"a": a, "b": b}, {"a": 1.0, "b": 0.3}), a + 0.3 * b)
    np.testing.assert_array_equal(fuse({"a": a, "b": b}), (a + b) / 2)
    za, zb = RobustZ(1.0, 2.0), RobustZ(-1.0, 0.5)
    np.testing.assert_array_equal(fuse({"a": a, "b": b}, {"a": 1.0, "b": 0.3}, z={"a": za, "b": zb}),
                                  (a - 1.0) / 2.0 + 0.3 * (b + 1.0) / 0.5)


def test_fit_keeps_jackknife_evidence_equal_to_a_fresh_search():
    # fit computes the jackknife evidence in its leave-one-out search; a denoiser rebuilt from its
    # state (no kept evidence) must search again and get the same numbers, duplicates included
    rng = np.random.default_rng(3)
    rows = np.vstack([rng.normal(size=(150, 4)), np.zeros((3, 4))])  # a triplicated row
    den = EmpiricalDenoiser(coarse_neighbors=40).fit(rows)
    fresh = EmpiricalDenoiser.from_state(*den.state())
    assert getattr(fresh, "_jackknife_unique", None) is None
    np.testing.assert_array_equal(den.jackknife_evidence(), fresh.jackknife_evidence())
    np.testing.assert_array_equal(den.jackknife_scores(), fresh.jackknife_scores())


def test_coarse_sample_leaves_a_training_row_out_of_its_own_coarse_evidence():
    # with every row in the sample, a row's jackknife coarse evidence is exactly that of the row
    # scored as new by a denoiser of the other rows: its own copy gets no weight
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(120, 3))
    den = EmpiricalDenoiser(coarse_rows=512).fit(rows)
    L, C = len(den.sigma2_), len(den.coarse_sigma2_)
    coarse = slice(2 * L, 2 * L + 2 * C)
    jack = den.jackknife_evidence()
    for i in (0, 57, 119):
        other = EmpiricalDenoiser(coarse_rows=512).fit(np.delete(rows, i, axis=0))
        np.testing.assert_allclose(jack[i, coarse], other.evidence(rows[i : i + 1])[0, coarse], rtol=1e-9)
    # a far row's coarse evidence is larger than a central one's
    ev = den.evidence(np.array([[0.0, 0.0, 0.0], [8.0, 8.0, 8.0]]))
    assert (ev[1, coarse] > ev[0, coarse]).all()


def test_coarse_sample_is_fixed_and_capped():
    rows = np.random.default_rng(6).normal(size=(1500, 2))
    a = EmpiricalDenoiser(coarse_rows=512).fit(rows)
    b = EmpiricalDenoiser.from_state(*a.state())
    assert a.coarse_ref_.shape == (512, 2)
    np.testing.assert_array_equal(a.coarse_ref_, b.coarse_ref_)
    q = np.random.default_rng(7).normal(size=(20, 2))
    np.testing.assert_array_equal(a.score(q), b.score(q))
