"""Score functions: DTE posteriors, inverse-gamma mean, noise error, reconstruction."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from adgdm._torch import seeded
from adgdm.diffusion import NoiseSchedule
from adgdm.nets import ResidualMLP
from adgdm.scores import (dte_nonparametric_score, dte_time_grid, elbo_score, expected_time_from_logits,
                          inverse_gamma_mean, noise_error_score, reconstruction_score)

SCHED = NoiseSchedule("linear", n_steps=1000)


# --- DTE, non-parametric -------------------------------------------------------------------------
def _reference_dte(dist, n_features, schedule, max_time=1.0):
    """Posterior mean time with scipy's logsumexp over neighbours, on the same time grid."""
    ts, s2 = dte_time_grid(schedule, max_time)
    d2 = np.asarray(dist, dtype=np.float64) ** 2
    ll = logsumexp(-d2[:, :, None] / (2 * s2[None, None, :]), axis=1) - 0.5 * n_features * np.log(2 * np.pi * s2)
    p = np.exp(ll - ll.max(axis=1, keepdims=True))
    return (p @ ts) / p.sum(axis=1)


def test_time_grid():
    ts, s2 = dte_time_grid(SCHED)
    assert ts[0] == 1 and ts[-1] == 1000
    assert (np.diff(ts) > 0).all() and (np.diff(s2) > 0).all() and (s2 > 0).all()
    ts_half, _ = dte_time_grid(SCHED, max_time=0.5)
    assert ts_half[-1] == 500


def test_dte_np_monotone_in_distance_for_one_neighbour():
    d = np.linspace(0.05, 120, 400)[:, None]
    s = dte_nonparametric_score(d, 4, SCHED)
    assert s.shape == (400,)
    assert (np.diff(s) > 0).all()


def test_dte_np_does_not_saturate():
    s = dte_nonparametric_score(np.array([[50.0], [100.0], [200.0]]), 4, SCHED)
    assert s[1] > s[0] + 1.0 and s[2] > s[1]


def test_dte_np_is_continuous():
    d = np.array([[3.0], [3.0 + 1e-6]])
    s = dte_nonparametric_score(d, 4, SCHED)
    assert 0 < s[1] - s[0] < 1e-3


def test_dte_np_range():
    rng = np.random.default_rng(0)
    d = np.sort(rng.uniform(0, 30, size=(200, 5)), axis=1)
    d[0] = 0.0  # a row on top of its neighbours
    for max_time in (1.0, 0.3):
        s = dte_nonparametric_score(d, 6, SCHED, max_time=max_time)
        assert np.isfinite(s).all()
        assert (s >= 1.0).all() and (s <= max_time * SCHED.n_steps).all()


@pytest.mark.parametrize("n_features", [1, 4, 30])
def test_dte_np_matches_a_logsumexp_reference(n_features):
    rng = np.random.default_rng(1)
    d = np.sort(rng.uniform(0, 20, size=(50, 7)), axis=1)
    np.testing.assert_allclose(dte_nonparametric_score(d, n_features, SCHED), _reference_dte(d, n_features, SCHED),
                               rtol=1e-9)


def test_dte_np_chunking_does_not_change_scores():
    rng = np.random.default_rng(2)
    d = np.sort(rng.uniform(0, 20, size=(37, 3)), axis=1)
    np.testing.assert_allclose(dte_nonparametric_score(d, 4, SCHED, chunk=5), dte_nonparametric_score(d, 4, SCHED),
                               rtol=1e-13)


def test_dte_np_neighbour_order_does_not_matter():
    """The likelihood is a sum over neighbours, so their order cannot change it."""
    d = np.array([[0.5, 2.0, 8.0], [1.0, 1.5, 30.0]])
    shuffled = d[:, ::-1].copy()
    np.testing.assert_allclose(dte_nonparametric_score(shuffled, 4, SCHED), dte_nonparametric_score(d, 4, SCHED),
                               rtol=1e-9)


def test_dte_np_more_close_neighbours_mean_less_time():
    one = dte_nonparametric_score(np.array([[2.0, 9.0, 9.0]]), 3, SCHED)
    three = dte_nonparametric_score(np.array([[2.0, 2.0, 2.0]]), 3, SCHED)
    assert three[0] <= one[0]


# --- DTE, parametric heads -------------------------------------------------------------------------
def test_expected_time_from_one_hot_logits_is_the_bin_time():
    bins = torch.tensor([5.0, 15.0, 25.0, 35.0])
    logits = torch.full((4, 4), -1e4)
    logits[torch.arange(4), torch.tensor([2, 0, 3, 1])] = 50.0
    torch.testing.assert_close(expected_time_from_logits(logits, bins), torch.tensor([25.0, 5.0, 35.0, 15.0]))


def test_expected_time_uses_a_single_softmax():
    logits = torch.tensor([[0.0, float(np.log(3.0))]], dtype=torch.float64)
    out = expected_time_from_logits(logits, torch.tensor([0.0, 1.0]))
    assert out.dtype == torch.float64
    assert out.item() == pytest.approx(0.75)  # softmax = (1/4, 3/4)


def test_inverse_gamma_mean():
    g = torch.Generator().manual_seed(0)
    alpha = 1.0 + torch.rand(100, generator=g) * 5 + 1e-3
    beta = torch.rand(100, generator=g) * 10
    m = inverse_gamma_mean(alpha, beta)
    assert (m >= 0).all()
    torch.testing.assert_close(m, beta / (alpha - 1))
    assert inverse_gamma_mean(torch.tensor(3.0), torch.tensor(4.0)).item() == pytest.approx(2.0)


def test_dte_ig_head_never_gives_a_negative_mean():
    from adgdm.detectors import DTEInverseGamma

    out = torch.linspace(-60, 60, 121)
    out = torch.stack(torch.meshgrid(out, out, indexing="ij"), -1).reshape(-1, 2)
    alpha, beta = DTEInverseGamma()._params(out)
    assert (alpha > 1).all() and (beta > 0).all()
    m = inverse_gamma_mean(alpha, beta)
    assert torch.isfinite(m).all() and (m >= 0).all()


# --- noise error, ELBO and reconstruction (network-based) ------------------------------------------
S100 = NoiseSchedule("linear", n_steps=100)


@pytest.fixture(scope="module")
def net():
    with seeded(0):
        return ResidualMLP(4, width=16, depth=1).eval()


@pytest.fixture(scope="module")
def X():
    return torch.randn(12, 4, generator=torch.Generator().manual_seed(0))


def _gen(seed=11):
    return torch.Generator().manual_seed(seed)


SCORERS = {
    "noise": lambda m, x, g: noise_error_score(m, S100, x, [10, 50], n_repeats=2, generator=g),
    "elbo": lambda m, x, g: elbo_score(m, S100, x, [0, 30, 90], n_repeats=1, generator=g),
    "reconstruction-ddim": lambda m, x, g: reconstruction_score(m, S100, x, [20, 40], steps=4, sampler="ddim",
                                                                n_repeats=2, generator=g),
    "reconstruction-ddpm": lambda m, x, g: reconstruction_score(m, S100, x, [20, 40], steps=4, sampler="ddpm",
                                                                n_repeats=2, generator=g),
}


@pytest.mark.parametrize("kind", list(SCORERS))
def test_score_shape_and_sign(net, X, kind):
    s = SCORERS[kind](net, X, _gen())
    assert s.shape == (12,) and s.dtype == torch.float64
    assert torch.isfinite(s).all() and (s >= 0).all()
    assert s.std() > 0, "every row got the same score"


@pytest.mark.parametrize("kind", list(SCORERS))
def test_scores_are_row_independent(net, X, kind):
    """A row's score depends on that row alone: not on its batch neighbours or its position."""
    fn = SCORERS[kind]
    full = fn(net, X, _gen())
    torch.testing.assert_close(fn(net, X[:5], _gen()), full[:5], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(fn(net, X[7:8], _gen()), full[7:8], rtol=1e-5, atol=1e-7)
    perm = torch.randperm(12, generator=_gen(3))
    torch.testing.assert_close(fn(net, X[perm], _gen()), full[perm], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", list(SCORERS))
def test_scores_are_reproducible_for_a_generator_seed(net, X, kind):
    fn = SCORERS[kind]
    torch.testing.assert_close(fn(net, X, _gen()), fn(net, X, _gen()), rtol=0, atol=0)
    assert not torch.equal(fn(net, X, _gen(1)), fn(net, X, _gen(2)))


def test_noise_error_matches_a_direct_computation(net, X):
    g = _gen()
    expected = torch.zeros(12, dtype=torch.float64)
    with torch.no_grad():
        for t in (10, 50):
            tt = torch.full((12,), t)
            for _ in range(2):
                eps = torch.randn((1, 4), generator=g).expand(12, 4)
                expected += ((net(S100.add_noise(X, eps, tt), tt) - eps) ** 2).sum(1).double()
    torch.testing.assert_close(SCORERS["noise"](net, X, _gen()), expected / 4)


def test_elbo_weights_the_noise_error(net, X):
    ts = [0, 30, 90]
    w = S100.elbo_weights()
    # each timestep draws one shared noise from the same generator stream, in order
    g = _gen()
    manual = torch.zeros(12, dtype=torch.float64)
    for k, t in enumerate(ts):
        manual += w[t] * noise_error_score(net, S100, X, [t], 1, g)
    torch.testing.assert_close(elbo_score(net, S100, X, ts, 1, _gen()), manual / 3)
    # the bound's weights are positive and finite
    assert (w > 0).all() and torch.isfinite(w).all()


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_reconstruction_with_the_true_noise_is_exact(X, sampler):
    """An oracle that knows the clean rows predicts the true noise: the reconstruction error is 0."""
    Xd = X.double()
    oracle = lambda xt, t, cond=None: S100.predict_eps(xt, Xd, t)  # noqa: E731
    s = reconstruction_score(oracle, S100, Xd, [10, 60, 99], steps=5, sampler=sampler, generator=_gen())
    assert s.abs().max().item() < 1e-12


def test_reconstruction_error_grows_with_a_bad_denoiser(X):
    """A model that predicts zero noise reconstructs x_t / sqrt(abar) and gets a positive error."""
    zero = lambda xt, t, cond=None: torch.zeros_like(xt)  # noqa: E731
    s = reconstruction_score(zero, S100, X, [30], steps=3, generator=_gen())
    assert (s > 0).all()


# --- exact kNN on tables with duplicate rows (used by dte-np and the default detector) --------------
def _table_with_duplicates():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    return np.vstack([X, X[:10], X[:3]])  # rows 0-2 three times, rows 3-9 twice


def _brute(X, Q, k, leave_one_out=False):
    d = np.sqrt(((Q[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    if leave_one_out:
        np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, :k]


@pytest.mark.parametrize("k", [1, 2, 3, 5, 20, 42])
def test_dedup_knn_query_matches_brute_force(k):
    from adgdm.scores.knn import DedupKNN

    X = _table_with_duplicates()
    Q = np.vstack([X[:5], np.random.default_rng(5).normal(size=(6, 3)), X[:2]])
    knn = DedupKNN(X)
    assert len(knn.unique) == 30 and knn.counts.sum() == len(X)
    np.testing.assert_allclose(knn.query(Q, k), _brute(X, Q, k), atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 20, 42])
def test_dedup_knn_leave_one_out_matches_brute_force(k):
    """A training row is not its own neighbour, but its duplicates are (distance 0)."""
    from adgdm.scores.knn import DedupKNN

    X = _table_with_duplicates()
    np.testing.assert_allclose(DedupKNN(X).query_train(k), _brute(X, X, k, leave_one_out=True), atol=1e-12)


def _ideal_error_brute(x, rows, sigma2):
    d2 = ((x[None, :] - rows) ** 2).sum(1)
    w = np.exp(-(d2 - d2.min()) / (2 * sigma2))
    x_hat = (w[:, None] * rows).sum(0) / w.sum()
    return ((x - x_hat) ** 2).sum()


@pytest.mark.parametrize("sigma2", [0.01, 0.5, 4.0, 1e4])
def test_ideal_denoiser_error_matches_brute_force(sigma2):
    from adgdm.scores import ideal_denoiser_error

    rng = np.random.default_rng(6)
    rows = rng.normal(size=(25, 3))
    x = rng.normal(size=(4, 3)) * 2
    dist = np.sqrt(((x[:, None] - rows[None]) ** 2).sum(-1))
    got = ideal_denoiser_error(x, dist, np.broadcast_to(np.arange(25), (4, 25)), np.ones((4, 25)), rows, sigma2)
    np.testing.assert_allclose(got, [_ideal_error_brute(xi, rows, sigma2) for xi in x], rtol=1e-9)
    # a multiplicity of 2 is the same as listing the row twice
    w = np.ones((4, 25))
    w[:, 0] = 2
    dup = np.vstack([rows, rows[:1]])
    got2 = ideal_denoiser_error(x, dist, np.broadcast_to(np.arange(25), (4, 25)), w, rows, sigma2)
    np.testing.assert_allclose(got2, [_ideal_error_brute(xi, dup, sigma2) for xi in x], rtol=1e-9)


def test_ideal_denoiser_error_limits():
    from adgdm.scores import ideal_denoiser_error

    rows = np.array([[0.0, 0.0], [4.0, 0.0]])
    x = np.array([[1.0, 1.0]])
    dist = np.sqrt(((x[:, None] - rows[None]) ** 2).sum(-1))
    nb = np.array([[0, 1]])
    # tiny noise: the ideal denoiser snaps to the nearest row
    assert ideal_denoiser_error(x, dist, nb, np.ones((1, 2)), rows, 1e-6)[0] == pytest.approx(2.0)
    # huge noise: it returns the mean of the rows
    assert ideal_denoiser_error(x, dist, nb, np.ones((1, 2)), rows, 1e8)[0] == pytest.approx(1.0 + 1.0, rel=1e-6)



def _kde_nll(train, q, sigma):
    d = q[:, None] - train[None, :]
    return -np.log(np.exp(-0.5 * (d / sigma) ** 2).sum(axis=1) / (len(train) * np.sqrt(2 * np.pi) * sigma))


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_marginal_nll_matches_a_direct_kernel_density(sigma):
    from adgdm.scores import MarginalSmoothedNLL

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), rng.exponential(size=300)])
    Q = np.column_stack([rng.normal(size=50), rng.exponential(size=50)])
    got = MarginalSmoothedNLL(X, sigma).nll(Q)
    for j in range(2):
        np.testing.assert_allclose(got[:, j], _kde_nll(X[:, j], Q[:, j], sigma), atol=0.005)


def test_marginal_nll_leave_one_out_removes_the_own_kernel():
    from adgdm.scores import MarginalSmoothedNLL

    X = np.array([[0.0], [0.02], [3.0]])
    got = MarginalSmoothedNLL(X, 0.1).nll(X, leave_one_out=True)[:, 0]
    for i in range(3):
        want = _kde_nll(np.delete(X[:, 0], i), X[i:i + 1, 0], 0.1)[0] if i < 2 else None
        if want is not None:
            assert got[i] == pytest.approx(want, abs=0.02)
    # the isolated row has no other row near it: far less likely than the pair
    assert got[2] > got[0] + 50


def test_marginal_nll_grows_beyond_the_training_range():
    from adgdm.scores import MarginalSmoothedNLL

    X = np.random.default_rng(1).normal(size=(200, 1))
    m = MarginalSmoothedNLL(X, 0.2)
    far = m.nll(np.array([[X.max() + 0.5], [X.max() + 2.0], [X.max() + 10.0], [X.min() - 10.0]]))[:, 0]
    assert far[0] < far[1] < far[2]
    assert np.isfinite(far).all() and far[3] > far[1]
