"""Multinomial diffusion math and the mixed-type ``tabddpm`` model (detector and generator)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

import adgdm
from adgdm.diffusion import MultinomialDiffusion, NoiseSchedule, mixed_loss
from adgdm.detectors import TabDDPMDetector

SIZES = [3, 2, 1, 5]


@pytest.fixture(scope="module")
def mult():
    return MultinomialDiffusion(NoiseSchedule("cosine", 100), SIZES)


def _codes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, k, (n,), generator=g) for k in SIZES], dim=1)


# --- the math -------------------------------------------------------------------------------------
def test_forward_starts_at_the_data_and_ends_uniform(mult):
    x0 = mult.onehot(_codes(6))
    assert torch.allclose(mult.q_probs(x0, torch.zeros(6, dtype=torch.long)), x0, atol=1e-3)
    last = mult.q_probs(x0, torch.full((6,), 99))
    uniform = 1.0 / mult.k_col.float()
    assert torch.allclose(last, uniform.expand_as(last), atol=1e-3)
    # every block of a draw is one-hot
    xt = mult.q_sample(x0, torch.full((6,), 50), torch.Generator().manual_seed(1))
    assert torch.equal(mult._padded(xt, 0.0).sum(-1), torch.ones(6, len(SIZES)))


def test_posterior_is_bayes_rule_and_sums_to_one(mult):
    s = mult.schedule
    x0 = mult.onehot(_codes(4))
    probs = torch.softmax(torch.randn(4, mult.width), dim=1)  # also for predicted (soft) x0
    xt = mult.q_sample(x0, torch.full((4,), 30), torch.Generator().manual_seed(2))
    for t, prev in ((30, None), (30, 10)):
        post = mult.log_posterior(xt, probs, torch.full((4,), t), None if prev is None else torch.full((4,), prev)).exp()
        assert torch.allclose(mult._padded(post, 0.0).sum(-1), torch.ones(4, len(SIZES)), atol=1e-5)
        # brute force for the first block (K = 3): q(x_s | x_t, x0) ∝ q(x_t | x_s) q(x_s | x0)
        sp = t - 1 if prev is None else prev
        a = float(s.alpha_bars[t] / s.alpha_bars[sp])
        trans = a * torch.eye(3, dtype=torch.float64) + (1 - a) / 3  # trans[i, j] = q(x_t = j | x_s = i)
        ab = float(s.alpha_bars[sp])
        prior = ab * probs[:, :3].double() + (1 - ab) / 3
        like = trans[:, xt[:, :3].argmax(1)].T  # (rows, x_s)
        want = prior * like
        want = want / want.sum(1, keepdim=True)
        assert torch.allclose(post[:, :3].double(), want, atol=1e-5)
    # the chain's end: x_0 itself
    end = mult.log_posterior(xt, x0, torch.zeros(4, dtype=torch.long)).exp()
    assert torch.allclose(end, x0, atol=1e-6)


def test_kl_is_zero_for_the_true_posterior_and_positive_otherwise(mult):
    x0 = mult.onehot(_codes(8))
    t = torch.tensor([0, 1, 5, 20, 40, 60, 80, 99])
    xt = mult.q_sample(x0, t, torch.Generator().manual_seed(3))
    exact = mult.kl(x0, xt, torch.log(x0.clamp(min=1e-20)), t)
    assert exact.shape == (8, len(SIZES))
    assert exact.abs().max() < 1e-5
    wrong = mult.kl(x0, xt, torch.randn(8, mult.width, generator=torch.Generator().manual_seed(4)), t)
    assert (wrong >= -1e-6).all()
    assert wrong[:, [0, 1, 3]].sum() > 0.1  # the one-level block has nothing to get wrong
    assert wrong[:, 2].abs().max() < 1e-6
    # t = 0: the decoder's negative log-likelihood
    logits = torch.randn(1, mult.width)
    nll = -(mult.log_softmax(logits) * x0[:1]).reshape(-1)
    got = mult.kl(x0[:1], xt[:1], logits, torch.tensor([0]))
    assert torch.allclose(got[0, 0], nll[:3].sum(), atol=1e-5)


def test_masked_cells_never_influence_the_loss(mult):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3 + mult.width, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3 + mult.width))
    f = lambda x, t: net(x)  # noqa: E731
    x = torch.randn(10, 3)
    obs = torch.rand(10, 3, generator=torch.Generator().manual_seed(5)) > 0.3
    oh = mult.onehot(_codes(10))
    other = torch.where(obs, x, torch.full_like(x, 1e6))
    other[~obs & (torch.arange(3) == 0)] = float("nan")
    res = []
    for xs in (x, other):
        net.zero_grad()
        loss = mixed_loss(f, mult.schedule, mult, xs, obs, oh, torch.Generator().manual_seed(7))
        loss.backward()
        res.append((loss.detach().clone(), [p.grad.clone() for p in net.parameters()]))
    assert torch.isfinite(res[0][0])
    assert torch.equal(res[0][0], res[1][0])
    for a, b in zip(res[0][1], res[1][1]):
        assert torch.equal(a, b)
    # but an observed cell does change it
    moved = x.clone()
    moved[obs] += 1.0
    assert mixed_loss(f, mult.schedule, mult, moved, obs, oh, torch.Generator().manual_seed(7)) != res[0][0]


# --- the model ------------------------------------------------------------------------------------
def _table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    df = pd.DataFrame({
        "x": x,
        "y": 2 * x + 0.3 * rng.normal(size=n),
        "colour": rng.choice(["red", "blue"], n, p=[0.9, 0.1]),
        "k": rng.integers(0, 4, n).astype(float),       # integers, 4 levels: categorical under "auto"
        "const": np.full(n, 7.0),                       # one level
    })
    df.loc[rng.random(n) < 0.2, "y"] = np.nan
    df["colour"] = df["colour"].astype(object)
    df.loc[rng.random(n) < 0.15, "colour"] = None
    return df


FAST = dict(width=64, depth=2, max_steps=400, n_steps=100, noise_levels=(0.1, 0.3), n_repeats=2, discrete="auto",
            random_state=0)


@pytest.fixture(scope="module")
def model():
    return TabDDPMDetector(**FAST).fit(_table())


def test_columns_and_levels(model):
    assert model.kinds_ == ["numeric", "numeric", "categorical", "categorical", "categorical"]
    assert model.levels_[2] == ["blue", "red", "<blank>"]
    assert model.levels_[3] == [0.0, 1.0, 2.0, 3.0]
    assert model.levels_[4] == [7.0]
    assert model.sizes_ == [4, 5, 2]  # + the unseen level


def test_samples_stay_on_training_levels_and_keep_the_skew(model):
    S = model.sample(1000, random_state=0)
    assert isinstance(S, pd.DataFrame) and list(S.columns) == ["x", "y", "colour", "k", "const"]
    assert not S.isna().any().any()  # missing=None: complete rows
    assert set(S["colour"]) <= {"red", "blue"}
    assert set(S["k"]) <= {0.0, 1.0, 2.0, 3.0}
    assert (S["const"] == 7.0).all()
    assert abs((S["colour"] == "red").mean() - 0.9) < 0.08
    assert np.corrcoef(S["x"], S["y"])[0, 1] > 0.6  # the numeric dependence is learnt
    np.testing.assert_array_equal(model.sample(50, random_state=3)["x"], model.sample(50, random_state=3)["x"])


def test_missing_reproduce_matches_training_blank_rates(model):
    df = _table()
    S = model.sample(2000, missing="reproduce", random_state=1)
    rates, train = S.isna().mean(), df.isna().mean()
    assert np.abs(rates - train).max() < 0.04
    assert rates["y"] > 0.1 and rates["colour"] > 0.08 and rates["x"] == 0
    with pytest.raises(ValueError, match="missing must be None or 'reproduce'"):
        model.sample(5, missing="yes")


def test_scores_contract_save_load_and_clone(model, tmp_path):
    df = _table(100, seed=1)
    s = model.decision_function(df)
    assert s.shape == (100,) and np.isfinite(s).all()
    np.testing.assert_allclose(model.decision_function(df.iloc[:7]), s[:7], rtol=1e-5)
    c = model.explain(df.iloc[:10])  # each column's share; a row's shares sum to its score
    assert c.shape == (10, 5) and (c >= 0).all()
    np.testing.assert_allclose(c.sum(1), s[:10], rtol=1e-6)
    assert (c[df.iloc[:10]["y"].isna().to_numpy(), 1] == 0).all()  # a blank cell contributes nothing
    model.save(tmp_path / "m")
    loaded = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.decision_function(df), s)
    pd.testing.assert_frame_equal(loaded.sample(20, random_state=5), model.sample(20, random_state=5))
    assert loaded.threshold_ == model.threshold_
    c = clone(model)
    assert c.get_params() == model.get_params() and not hasattr(c, "net_")
    # a far numeric value and an unseen level score higher than the row itself
    far = df.iloc[:20].copy()
    far["x"] = 50.0
    assert model.decision_function(far).mean() > s[:20].mean()


def test_unseen_levels_and_blanks_score_as_the_unseen_level(model):
    df = _table(30, seed=2)
    df["colour"] = df["colour"].fillna("red")
    base = model.decision_function(df)
    odd = df.copy()
    odd.loc[:, "colour"] = "purple"           # never seen at fit
    odd.loc[:, "k"] = np.nan                  # blank where training had none
    assert (model._input(odd, fitting=False)[:, [2, 3]] == [3, 4]).all()  # both the unseen level
    s = model.decision_function(odd)
    assert np.isfinite(s).all() and s.mean() > base.mean()


def test_declared_and_auto_columns_and_numpy_input():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=200), rng.integers(0, 3, 200), rng.integers(0, 40, 200)].astype(float)
    det = TabDDPMDetector(**dict(FAST, max_steps=50)).fit(X)
    assert det.kinds_ == ["numeric", "categorical", "numeric"]  # 40 levels > max_categories
    det = TabDDPMDetector(**dict(FAST, max_steps=50, discrete=None), categorical=[2]).fit(X)
    assert det.kinds_ == ["numeric", "numeric", "categorical"]
    S = det.sample(30, random_state=0)
    assert isinstance(S, np.ndarray) and S.shape == (30, 3)
    assert set(np.unique(S[:, 2])) <= set(np.unique(X[:, 2]))


def test_bad_input_errors():
    X = np.random.default_rng(0).normal(size=(50, 3))
    fast = dict(FAST, max_steps=20)
    with pytest.raises(ValueError, match="categorical column index 5 is outside 0..2"):
        TabDDPMDetector(categorical=[5], **fast).fit(X)
    with pytest.raises(ValueError, match="categorical column 'zz' is not a column of X"):
        TabDDPMDetector(categorical=["zz"], **fast).fit(pd.DataFrame(X, columns=list("abc")))
    with pytest.raises(ValueError, match="discrete must be 'auto' or None"):
        TabDDPMDetector(**dict(fast, discrete="yes")).fit(X)
    bad = X.copy()
    bad[:, 1] = np.nan
    with pytest.raises(ValueError, match="column '1' is blank in every training row"):
        TabDDPMDetector(**fast).fit(bad)
    bad = X.copy()
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match=r"X contains inf in column '2' \(row 3\)"):
        TabDDPMDetector(**fast).fit(bad)
    det = TabDDPMDetector(**fast).fit(pd.DataFrame(X, columns=list("abc")))
    text = pd.DataFrame(X, columns=list("abc")).astype({"b": object})
    text["b"] = "x"
    with pytest.raises(ValueError, match="column 'b' was numeric at fit but holds text now"):
        det.decision_function(text)
    with pytest.raises(ValueError, match="X has 2 features, but TabDDPMDetector is expecting 3 features as input"):
        det.decision_function(X[:, :2])
    with pytest.raises(ValueError, match="samples with the ancestral chain only"):
        adgdm.generation.sample(det, 5, sampler="ddim")


def test_generation_entry_points_and_cycle():
    from adgdm.detectors import CycleDetector
    from adgdm.generation import generate_anomalies, sample

    df = _table(200)
    det = TabDDPMDetector(**dict(FAST, max_steps=100)).fit(df)
    S = sample(det, 10, steps=20, random_state=0)
    assert len(S) == 10 and set(S["colour"]) <= {"red", "blue"}
    A = generate_anomalies(det, df, 12, kind="local", severity=1.5, random_state=0)
    assert list(A.columns) == list(df.columns) and len(A) == 12
    assert set(A["colour"].dropna()) <= {"red", "blue"}
    M = generate_anomalies(det, df, 8, kind="masked", features=[0], severity=2.0, random_state=0)
    # only column 0 is regenerated (the others are the data's rows, blanks included)
    assert M.shape == (8, 5) and M["x"].notna().all()
    X = np.random.default_rng(0).normal(size=(120, 3))
    X[:, 2] = np.random.default_rng(1).integers(0, 3, 120)
    cyc = CycleDetector(generator_kind="tabddpm", generator_steps=30, generator_width=32, n_generated=100,
                        random_state=0).fit(X)
    assert type(cyc.generator_).__name__ == "TabDDPMDetector"
    assert np.isfinite(cyc.decision_function(X[:5])).all()
    with pytest.raises(ValueError, match="generator_kind must be one of ddpm, tabddpm"):
        CycleDetector(generator_kind="gan").fit(X)
