"""The diffusion core: schedules, forward process, DDPM/DDIM samplers, training loop, EMA."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from adgdm._torch import seeded
from adgdm.diffusion import (EMA, DDIMSampler, DDPMSampler, NoiseSchedule, TrainConfig, denoise, denoising_loss,
                             make_betas, make_sampler, train)
from adgdm.nets import ResidualMLP

KINDS = ["linear", "cosine"]
RANKS = [2, 3, 4, 5]
F64 = torch.float64


def _shape(rank, batch=4):
    return (batch, 3, 2, 2, 2)[:rank]


def _x0(rank, seed=0):
    return torch.randn(_shape(rank), generator=torch.Generator().manual_seed(seed), dtype=F64)


# --- schedules -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_steps", [10, 100, 1000])
def test_betas_in_unit_interval_and_alpha_bars_decreasing(kind, n_steps):
    s = NoiseSchedule(kind, n_steps=n_steps)
    assert s.betas.shape == (n_steps,) and s.betas.dtype == F64
    assert ((s.betas > 0) & (s.betas < 1)).all()
    torch.testing.assert_close(s.alphas, 1 - s.betas)
    torch.testing.assert_close(s.alpha_bars, torch.cumprod(1 - s.betas, 0))
    assert (torch.diff(s.alpha_bars) < 0).all()
    assert 0 < s.alpha_bars[-1] < 1e-3 < 0.9 < s.alpha_bars[0] < 1  # from nearly clean to nearly pure noise


def test_linear_betas_values():
    b = make_betas("linear", 1000)
    assert b[0].item() == pytest.approx(1e-4) and b[-1].item() == pytest.approx(0.02)
    torch.testing.assert_close(torch.diff(b), torch.full((999,), (0.02 - 1e-4) / 999, dtype=F64))
    # fewer steps: betas scaled so the chain still ends in (nearly) pure noise
    assert make_betas("linear", 100)[0].item() == pytest.approx(1e-3)


def test_cosine_alpha_bars_follow_the_cosine():
    s = NoiseSchedule("cosine", n_steps=1000)
    t = torch.arange(1, 1001, dtype=F64) / 1000
    f = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    torch.testing.assert_close(s.alpha_bars[:-1], f[:-1])  # the last beta is clipped at 0.999


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="unknown schedule 'quadratic'"):
        make_betas("quadratic", 10)
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        NoiseSchedule("linear", n_steps=0)
    with pytest.raises(ValueError, match=r"noise fraction must lie in \[0, 1\]"):
        NoiseSchedule().t_from_fraction(1.5)


def test_t_from_fraction():
    s = NoiseSchedule(n_steps=1000)
    assert [s.t_from_fraction(f) for f in (0.0, 0.1, 0.25, 1.0)] == [0, 99, 249, 999]


# --- forward process -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rank", RANKS)
def test_add_noise_closed_form_per_sample(kind, rank):
    s = NoiseSchedule(kind, n_steps=100)
    x0, eps = _x0(rank, 0), _x0(rank, 1)
    t = torch.tensor([0, 10, 50, 99])
    xt = s.add_noise(x0, eps, t)
    assert xt.shape == x0.shape and xt.dtype == F64
    for i in range(4):
        ab = s.alpha_bars[t[i]]
        torch.testing.assert_close(xt[i], ab.sqrt() * x0[i] + (1 - ab).sqrt() * eps[i])
    # a scalar timestep noises the whole batch to one level
    ab = s.alpha_bars[37]
    torch.testing.assert_close(s.add_noise(x0, eps, torch.tensor(37)), ab.sqrt() * x0 + (1 - ab).sqrt() * eps)
    # float32 in, float32 out
    assert s.add_noise(x0.float(), eps.float(), t).dtype == torch.float32


def test_add_noise_rejects_mismatched_noise():
    s = NoiseSchedule(n_steps=10)
    with pytest.raises(ValueError, match="noise shape"):
        s.add_noise(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rank", RANKS)
def test_predict_x0_and_predict_eps_invert_add_noise(kind, rank):
    s = NoiseSchedule(kind, n_steps=100)
    x0, eps = _x0(rank, 0), _x0(rank, 1)
    t = torch.tensor([0, 33, 66, 98])
    xt = s.add_noise(x0, eps, t)
    torch.testing.assert_close(s.predict_x0(xt, eps, t), x0)
    torch.testing.assert_close(s.predict_eps(xt, x0, t), eps)


def test_sigma_ve_matches_the_variance_exploding_view():
    s = NoiseSchedule(n_steps=100)
    x0, eps = _x0(2, 0), _x0(2, 1)
    t = torch.tensor([5, 20, 60, 90])
    xt = s.add_noise(x0, eps, t)
    ab = s.alpha_bars[t][:, None]
    torch.testing.assert_close(xt / ab.sqrt(), x0 + s.sigma_ve(t)[:, None] * eps)


# --- samplers --------------------------------------------------------------------------------------
def test_default_timesteps_are_the_full_chain():
    s = NoiseSchedule(n_steps=50)
    for sampler in (DDIMSampler(s), DDPMSampler(s)):
        assert sampler.timesteps.tolist() == list(range(49, -1, -1))


@pytest.mark.parametrize("n, start", [(10, 49), (10, None), (7, 99), (1, 30), (100, 99), (3, 0), (25, 60)])
def test_set_timesteps(n, start):
    s = NoiseSchedule(n_steps=100)
    sampler = DDIMSampler(s)
    sampler.set_timesteps(n, start=start)
    ts = sampler.timesteps.tolist()
    first = 99 if start is None else start
    assert len(ts) == min(n, first + 1)
    assert ts[0] == first
    assert all(a > b for a, b in zip(ts, ts[1:])), ts
    assert 0 <= ts[-1] <= math.ceil(first / len(ts)), ts  # the last step lands near 0
    gaps = np.diff(ts)
    assert gaps.max() - gaps.min() <= 1 if len(gaps) else True  # evenly spaced


def test_set_timesteps_rejects_bad_start():
    sampler = DDIMSampler(NoiseSchedule(n_steps=10))
    for start in (-1, 10):
        with pytest.raises(ValueError, match=r"start must be in \[0, 9\]"):
            sampler.set_timesteps(5, start=start)


def test_make_sampler():
    s = NoiseSchedule(n_steps=10)
    assert type(make_sampler("ddpm", s)) is DDPMSampler
    ddim = make_sampler("ddim", s, eta=0.3)
    assert type(ddim) is DDIMSampler and ddim.eta == 0.3
    with pytest.raises(ValueError, match="unknown sampler 'euler'"):
        make_sampler("euler", s)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("n, start", [(100, 99), (10, 99), (7, 60), (3, 5), (1, 40)])
def test_ddim_with_oracle_eps_recovers_x0(kind, rank, n, start):
    """With the true noise, deterministic DDIM stays on the same noise path at every step and ends
    exactly at x0."""
    s = NoiseSchedule(kind, n_steps=100)
    x0, eps0 = _x0(rank, 0), _x0(rank, 1)
    oracle = lambda xt, t: s.predict_eps(xt, x0, t)  # noqa: E731
    sampler = DDIMSampler(s, eta=0.0)
    sampler.set_timesteps(n, start=start)
    xt = s.add_noise(x0, eps0, torch.full((x0.shape[0],), start))
    x = xt
    for i, t in enumerate(sampler.timesteps.tolist()):
        x, x0_pred = sampler.step(oracle(x, torch.full((x.shape[0],), t)), i, x)
        torch.testing.assert_close(x0_pred, x0, rtol=1e-7, atol=1e-7)
        t_prev = sampler.prev_timestep(i)
        expected = x0 if t_prev < 0 else s.add_noise(x0, eps0, torch.full((x.shape[0],), t_prev))
        torch.testing.assert_close(x, expected, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(denoise(oracle, sampler, xt), x0, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rank", [2, 4])
@pytest.mark.parametrize("n_inference", [None, 10])
def test_ddim_eta1_equals_ddpm_step_by_step(kind, rank, n_inference):
    s = NoiseSchedule(kind, n_steps=50)
    ddim, ddpm = DDIMSampler(s, eta=1.0), DDPMSampler(s)
    if n_inference:
        ddim.set_timesteps(n_inference)
        ddpm.set_timesteps(n_inference)
    assert ddim.timesteps.tolist() == ddpm.timesteps.tolist()
    g = torch.Generator().manual_seed(123)
    n_stochastic = 0
    for i in range(len(ddim.timesteps)):
        xt = torch.randn(_shape(rank), generator=g, dtype=F64)
        eps = torch.randn(_shape(rank), generator=g, dtype=F64)
        a, _ = ddim.step(eps, i, xt, torch.Generator().manual_seed(0))
        b, _ = ddpm.step(eps, i, xt, torch.Generator().manual_seed(0))
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
        if ddim.prev_timestep(i) >= 0:  # every step but the last draws noise
            c, _ = ddpm.step(eps, i, xt, torch.Generator().manual_seed(1))
            assert not torch.allclose(b, c)
            n_stochastic += 1
    assert n_stochastic == len(ddim.timesteps) - 1 > 0


def test_ddpm_step_is_the_gaussian_posterior():
    """Mean and variance of q(x_{t-1} | x_t, x_0) from Ho et al. (2020), eq. 7."""
    s = NoiseSchedule(n_steps=50)
    ddpm = DDPMSampler(s)
    i, t = 10, int(ddpm.timesteps[10])
    x0, eps = _x0(2, 0), _x0(2, 1)
    xt = s.add_noise(x0, eps, torch.full((4,), t))
    beta, ab, ab_prev = s.betas[t], s.alpha_bars[t], s.alpha_bars[t - 1]
    mean = ab_prev.sqrt() * beta / (1 - ab) * x0 + (1 - beta).sqrt() * (1 - ab_prev) / (1 - ab) * xt
    var = beta * (1 - ab_prev) / (1 - ab)
    z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5), dtype=F64)
    out, _ = ddpm.step(eps, i, xt, torch.Generator().manual_seed(5))
    torch.testing.assert_close(out, mean + var.sqrt() * z)


def test_ddim_clip_bounds_the_x0_estimate():
    s = NoiseSchedule(n_steps=50)
    sampler = DDIMSampler(s, clip=1.0)
    sampler.set_timesteps(1, start=20)  # a single step straight to x0
    xt = torch.full((3, 2), 50.0, dtype=F64)
    out, x0 = sampler.step(torch.zeros_like(xt), 0, xt)
    assert out.abs().max().item() == pytest.approx(1.0)
    assert torch.equal(out, x0)


# --- training --------------------------------------------------------------------------------------
def _gaussian(n=256, mean=(3.0, -2.0), std=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g) * std + torch.tensor(mean)


def _net(seed=0, width=32, depth=1):
    with seeded(seed):
        return ResidualMLP(2, width=width, depth=depth)


def test_training_reduces_the_denoising_loss():
    s = NoiseSchedule(n_steps=100)
    cfg = TrainConfig(epochs=10_000, max_steps=300, batch_size=128, lr=2e-3, eval_every=50)
    model, res = train(_net(), [_gaussian()], denoising_loss(s), cfg, seed=0)
    assert res.steps == 300
    assert len(res.train_losses) == 300 // 2  # one entry per epoch (2 batches) when epochs are shorter
    assert not res.stopped_early and res.val_losses == []
    first, last = np.mean(res.train_losses[:5]), np.mean(res.train_losses[-5:])
    assert last < 0.6 * first
    assert not model.training


def test_epochs_bound_the_step_count():
    cfg = TrainConfig(epochs=3, max_steps=1000, batch_size=100)
    _, res = train(_net(), [_gaussian(250)], denoising_loss(NoiseSchedule(n_steps=50)), cfg, seed=0)
    assert res.steps == 3 * 3  # ceil(250 / 100) batches per epoch


def test_early_stopping():
    s = NoiseSchedule(n_steps=50)
    cfg = TrainConfig(epochs=100_000, max_steps=5000, batch_size=16, val_fraction=0.25, patience=1, eval_every=1)
    _, res = train(_net(), [_gaussian(40)], denoising_loss(s), cfg, seed=0)
    assert res.stopped_early
    assert 1 <= len(res.val_losses) < 100
    assert len(res.train_losses) == len(res.val_losses)
    # patience=1: the run ends at the first evaluation that does not improve on the best one
    assert res.val_losses[-1] >= min(res.val_losses[:-1]) - 1e-6
    assert all(b < a for a, b in zip(res.val_losses[:-2], res.val_losses[1:-1]))
    # steps reports the optimiser steps actually taken (one evaluation per step here)
    assert res.steps == len(res.train_losses)
    assert res.steps < cfg.max_steps


def test_early_stopping_restores_the_best_weights():
    """The returned model is the one of the best held-out evaluation, not the last one."""
    s = NoiseSchedule(n_steps=50)
    cfg = TrainConfig(epochs=100_000, max_steps=40, batch_size=16, val_fraction=0.25, patience=100, lr=0.05)
    data = _gaussian(40)
    model, res = train(_net(), [data], denoising_loss(s), cfg, seed=0)
    best = int(np.argmin(res.val_losses))
    assert best < len(res.val_losses) - 1, "pick settings where the last evaluation is not the best"
    # replay the split and the evaluation noise the loop uses
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(40, generator=gen)
    val = [data[perm[:10]]]
    from adgdm.diffusion.training import _eval

    assert _eval(model, val, denoising_loss(s), 1, 16) == pytest.approx(min(res.val_losses), rel=1e-5)


def test_training_is_deterministic_for_a_seed():
    s = NoiseSchedule(n_steps=50)
    cfg = TrainConfig(epochs=10_000, max_steps=40, batch_size=64)
    m1, r1 = train(_net(), [_gaussian()], denoising_loss(s), cfg, seed=3)
    m2, r2 = train(_net(), [_gaussian()], denoising_loss(s), cfg, seed=3)
    m3, _ = train(_net(), [_gaussian()], denoising_loss(s), cfg, seed=4)
    assert r1.train_losses == r2.train_losses
    for (k, a), b, c in zip(m1.state_dict().items(), m2.state_dict().values(), m3.state_dict().values()):
        assert torch.equal(a, b), k
    assert any(not torch.equal(a, c) for a, c in zip(m1.state_dict().values(), m3.state_dict().values()))


def test_training_with_ema_returns_the_averaged_model():
    s = NoiseSchedule(n_steps=50)
    net = _net()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = TrainConfig(epochs=10_000, max_steps=30, batch_size=64, ema_decay=0.9)
    model, res = train(net, [_gaussian()], denoising_loss(s), cfg, seed=0)
    assert model is not net and isinstance(model, ResidualMLP)
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    assert res.steps == 30
    ema, raw = model.state_dict(), net.state_dict()
    key = "inp.weight"
    assert not torch.equal(ema[key], raw[key]) and not torch.equal(ema[key], init[key])
    # the average lies between the start and the trained weights (decay 0.9 over 30 steps)
    assert (ema[key] - raw[key]).norm() < (init[key] - raw[key]).norm()
    x = _gaussian(8)
    assert model(x, torch.zeros(8, dtype=torch.long)).shape == (8, 2)


def test_ema_update_rule():
    lin = nn.Linear(2, 2)
    ema = EMA(lin, decay=0.75)
    old = ema.shadow.weight.detach().clone()
    with torch.no_grad():
        lin.weight.add_(1.0)
    ema.update(lin)
    torch.testing.assert_close(ema.shadow.weight, 0.75 * old + 0.25 * lin.weight.detach())
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"EMA decay must lie in \(0, 1\)"):
            EMA(lin, bad)


def test_train_rejects_empty_data():
    with pytest.raises(ValueError, match="cannot train on empty data"):
        train(_net(), [torch.zeros(0, 2)], denoising_loss(NoiseSchedule(n_steps=10)))


def test_conditional_denoising_loss_with_label_dropout():
    s = NoiseSchedule(n_steps=20)
    with seeded(0):
        net = ResidualMLP(2, width=16, depth=1, n_classes=3)
    x, y = _gaussian(64), torch.arange(64) % 3
    loss_fn = denoising_loss(s, cond_drop=0.5, null_label=3)
    loss = loss_fn(net, [x, y], torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    model, res = train(net, [x, y], loss_fn, TrainConfig(epochs=10_000, max_steps=20, batch_size=32), seed=0)
    assert res.steps == 20


# --- sampling from a trained model -----------------------------------------------------------------
def test_ddim_samples_from_a_trained_model_match_the_data_mean():
    target = torch.tensor([3.0, -2.0])
    # a shorter noise range (beta_end 0.01) keeps the high-noise x0 estimates of a small net in check
    s = NoiseSchedule("linear", n_steps=100, beta_end=0.01)
    cfg = TrainConfig(epochs=100_000, max_steps=500, batch_size=256, lr=2e-3)
    model, _ = train(_net(0), [_gaussian(512)], denoising_loss(s), cfg, seed=0)
    sampler = DDIMSampler(s)
    sampler.set_timesteps(20)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(1000, 2, generator=g)
    samples = denoise(lambda x, t: model(x, t), sampler, noise)
    assert samples.shape == (1000, 2) and torch.isfinite(samples).all()
    assert (noise.mean(0) - target).abs().max() > 1.5  # the start is far from the data
    assert (samples.mean(0) - target).abs().max() < 0.5
    assert (samples.median(0).values - target).abs().max() < 0.3


# --- the reverse loop's hooks, step's x0, the loss, saving a network ---------------------------------
@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_step_returns_the_x0_consistent_with_eps(sampler):
    s = NoiseSchedule(n_steps=50)
    smp = make_sampler(sampler, s)
    smp.set_timesteps(5, start=30)
    xt, eps = _x0(3, 0), _x0(3, 1)
    for i, t in enumerate(smp.timesteps.tolist()):
        _, x0 = smp.step(eps, i, xt, torch.Generator().manual_seed(0))
        tt = torch.full((xt.shape[0],), t)
        torch.testing.assert_close(x0, s.predict_x0(xt, eps, tt))
        torch.testing.assert_close(s.predict_eps(xt, x0, tt), eps)


def test_known_region_is_the_renoised_input_at_every_step_and_exact_at_the_end():
    from adgdm.diffusion import reverse

    s = NoiseSchedule(n_steps=40)
    known = _x0(2, 0)
    mask = torch.zeros(known.shape, dtype=torch.bool)
    mask[:, 0] = True
    seen = []
    eps_fn = lambda x, t: (seen.append((x.clone(), int(t[0]))), torch.zeros_like(x))[1]  # noqa: E731
    g = torch.Generator().manual_seed(3)
    x0 = reverse(eps_fn, s, torch.randn(known.shape, generator=g, dtype=F64), 39, 4, g, sampler="ddpm",
                 known=known, known_mask=mask)
    assert torch.equal(x0[:, 0], known[:, 0]) and not torch.equal(x0[:, 1:], known[:, 1:])
    # replay the chain with the same generator: every step after the first starts from the known
    # column re-noised to the step's level with fresh noise
    g = torch.Generator().manual_seed(3)
    x = torch.randn(known.shape, generator=g, dtype=F64)
    smp = make_sampler("ddpm", s)
    smp.set_timesteps(4, start=39)
    for i, t in enumerate(smp.timesteps.tolist()):
        x, _ = smp.step(torch.zeros_like(x), i, x, g)
        t_prev = smp.prev_timestep(i)
        if t_prev >= 0:
            ref = s.add_noise(known, torch.randn(known.shape, generator=g, dtype=F64),
                              torch.full((known.shape[0],), t_prev))
            x = torch.where(mask, ref, x)
            assert torch.equal(seen[i + 1][0][:, 0], ref[:, 0])


def test_guidance_and_eps_transform_hooks():
    from adgdm.diffusion import reverse, score_gradient, towards_input

    s = NoiseSchedule(n_steps=50)
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    x_t, y = torch.zeros(2, 3), torch.ones(2, 3)
    plain = reverse(zero, s, x_t, 30, 3)
    pulled = reverse(zero, s, x_t, 30, 3, guide=towards_input(y), guidance=2.0)
    assert (pulled - y).abs().mean() < (plain - y).abs().mean()
    up = reverse(zero, s, x_t, 30, 3, guide=score_gradient(lambda x0: x0.sum(1)), guidance=1.0)
    assert (up > plain).all()
    assert torch.equal(reverse(zero, s, x_t, 30, 3, guide=towards_input(y), guidance=0.0), plain)
    # a transform of the noise estimate: doubling the model's eps equals a model predicting 2 eps
    one = lambda x, t: torch.ones_like(x)  # noqa: E731
    assert torch.equal(reverse(one, s, x_t, 30, 3, eps_transform=lambda e: 2 * e),
                       reverse(lambda x, t: 2 * torch.ones_like(x), s, x_t, 30, 3))


def test_noise_loss_ignores_masked_out_positions():
    from adgdm.diffusion import noise_loss

    s = NoiseSchedule(n_steps=20)
    x0 = _gaussian(16)
    mask = torch.tensor([[1.0, 0.0]])
    seen = {}

    def model(xt, t, cond=None):
        seen["x"] = xt
        out = torch.zeros_like(xt)
        out[:, 1] = 1e6  # wildly wrong where the mask is 0
        return out

    loss = noise_loss(model, s, x0, torch.Generator().manual_seed(0), mask=mask)
    eps = torch.randn(x0.shape, generator=_after_t(x0.shape[0], s.n_steps, 0))
    assert loss.item() == pytest.approx((eps[:, 0] ** 2).mean().item(), rel=1e-6)
    assert (seen["x"][:, 1] == 0).all()  # the network does not see the hidden positions
    # custom noise and a timestep bound
    loss2 = noise_loss(lambda xt, t, c=None: torch.zeros_like(xt), s, x0, torch.Generator().manual_seed(0),
                       t_max=3, noise=lambda shape, g: torch.full(shape, 2.0))
    assert loss2.item() == pytest.approx(4.0)


def _after_t(n, n_steps, seed):
    g = torch.Generator().manual_seed(seed)
    torch.randint(0, n_steps, (n,), generator=g)
    return g


def test_net_state_round_trip_gives_identical_outputs():
    from adgdm.diffusion import net_state, restore_net

    with seeded(0):
        net = ResidualMLP(3, width=8, depth=1)
    meta, arrays = net_state(net, NoiseSchedule("cosine", n_steps=30))
    assert set(meta) == {"net", "schedule"} and all(k.startswith("net.") for k in arrays)
    net2, sched = restore_net(meta, arrays)
    assert sched.config() == NoiseSchedule("cosine", n_steps=30).config()
    x, t = torch.randn(5, 3), torch.arange(5)
    assert torch.equal(net.eval()(x, t), net2(x, t))
    with pytest.raises(ValueError, match="expected a UNet"):
        restore_net(meta, arrays, expect="UNet")


def test_train_with_a_loss_that_draws_its_own_batch_and_cosine_lr():
    with seeded(0):
        net = nn.Linear(2, 1)
    calls = []

    def loss(model, batch, gen):
        calls.append(batch)
        return model(torch.randn(8, 2, generator=gen)).pow(2).mean()

    cfg = TrainConfig(max_steps=7, eval_every=3, lr_schedule="cosine")
    _, res = train(net, None, loss, cfg, seed=0)
    assert res.steps == 7 and calls == [None] * 7 and len(res.train_losses) == 3
    with pytest.raises(ValueError, match="lr_schedule"):
        train(net, None, loss, TrainConfig(max_steps=2, lr_schedule="step"))
