"""Multinomial diffusion for categorical columns (Hoogeboom et al. 2021, "Argmax flows and
multinomial diffusion"; the categorical half of TabDDPM, Kotelnikov et al. 2023), and the mixed
Gaussian + multinomial loss and reverse loop of a table with numeric and categorical columns.

A row's categorical part is the concatenation of one-hot blocks, one per column with ``K_j``
levels. With the :class:`NoiseSchedule`'s ``abar_t`` (and ``a = abar_t / abar_s`` between two
steps ``s < t``):

* forward: ``q(x_t | x_0) = Cat(abar_t x_0 + (1 - abar_t) / K)`` (``t = 0`` is nearly ``x_0``,
  the last step nearly uniform);
* posterior: ``q(x_s | x_t, x_0) ∝ (a x_t + (1 - a) / K) * (abar_s x_0 + (1 - abar_s) / K)``
  (``s = t - 1`` for the full chain, any ``s < t`` for a respaced one; ``x_0`` itself at ``s < 0``);
* loss: ``KL(q(x_{t-1} | x_t, x_0) || q(x_{t-1} | x_t, x0_hat))`` with ``x0_hat`` the network's
  predicted level probabilities (softmax of its logits per block); at ``t = 0`` the decoder's
  negative log-likelihood ``-log x0_hat[x_0]``;
* reverse step: ``x_s`` drawn from the posterior with the predicted ``x0_hat`` in place of ``x_0``
  (at the last step, ``x_0`` drawn from ``x0_hat``).

Everything works on probabilities in log space, one block per column; the network knows nothing
of the schedule (it receives integer timesteps and returns logits).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .samplers import DDPMSampler
from .schedules import NoiseSchedule

__all__ = ["MultinomialDiffusion", "mixed_loss", "mixed_reverse"]

_TINY = 1e-30


class MultinomialDiffusion:
    """Multinomial diffusion over one-hot blocks of sizes ``sizes`` with ``schedule``'s ``abar_t``.

    Example
    -------
    >>> s = NoiseSchedule("cosine", n_steps=100)
    >>> m = MultinomialDiffusion(s, sizes=[3, 2])
    >>> x0 = m.onehot(torch.tensor([[2, 0]]))
    >>> x0.tolist()
    [[0.0, 0.0, 1.0, 1.0, 0.0]]
    >>> p = m.q_probs(x0, torch.tensor([99]))        # the last step: nearly uniform per block
    >>> [round(v, 2) for v in p[0].tolist()]
    [0.33, 0.33, 0.33, 0.5, 0.5]
    """

    def __init__(self, schedule: NoiseSchedule, sizes: Sequence[int]):
        sizes = [int(k) for k in sizes]
        if any(k < 1 for k in sizes):
            raise ValueError(f"every categorical column needs at least 1 level, got sizes {sizes}")
        self.schedule = schedule
        self.sizes = sizes
        self.n_blocks = len(sizes)
        self.width = int(sum(sizes))
        kmax = max(sizes) if sizes else 1
        # flat column -> block; padded view (blocks, kmax) -> flat column (self.width = padding)
        self.group = torch.repeat_interleave(torch.arange(self.n_blocks), torch.tensor(sizes, dtype=torch.long)) \
            if sizes else torch.zeros(0, dtype=torch.long)
        pad = torch.full((self.n_blocks, kmax), self.width, dtype=torch.long)
        start = 0
        for b, k in enumerate(sizes):
            pad[b, :k] = torch.arange(start, start + k)
            start += k
        self._pad = pad
        self._sizes = torch.tensor(sizes, dtype=torch.long)
        self._valid = pad < self.width
        self._k_pad = torch.tensor(sizes, dtype=torch.float64).reshape(-1, 1) if sizes else torch.ones(0, 1, dtype=torch.float64)
        self.k_col = torch.tensor(sizes, dtype=torch.float64)[self.group] if sizes else torch.zeros(0, dtype=torch.float64)
        self.offsets = torch.tensor([0] + sizes[:-1], dtype=torch.long).cumsum(0) if sizes else torch.zeros(0, dtype=torch.long)

    # --- block helpers -------------------------------------------------------------------------
    def _padded(self, flat: torch.Tensor, fill: float) -> torch.Tensor:
        """``(n, width)`` -> ``(n, blocks, kmax)``, padding entries set to ``fill``."""
        ext = torch.cat([flat, torch.full((flat.shape[0], 1), fill, dtype=flat.dtype, device=flat.device)], dim=1)
        return ext[:, self._pad.to(flat.device)]

    def _flat(self, padded: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`_padded` (padding dropped)."""
        return padded[:, self._valid.to(padded.device)]

    def log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Per-block log-softmax of ``(n, width)`` logits (``-inf`` entries stay impossible)."""
        return self._flat(self._log_softmax_p(self._padded(logits, float("-inf"))))

    def _log_softmax_p(self, padded: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(padded, dim=-1).masked_fill(~self._valid.to(padded.device), float("-inf"))

    def onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """``(n, blocks)`` integer levels -> ``(n, width)`` one-hot blocks (float32)."""
        codes = torch.as_tensor(codes).long()
        if codes.ndim != 2 or codes.shape[1] != self.n_blocks:
            raise ValueError(f"codes must have shape (n, {self.n_blocks}), got {tuple(codes.shape)}")
        if codes.numel() and ((codes < 0).any() or (codes >= self._sizes).any()):
            raise ValueError("a level code lies outside its column's levels")
        out = torch.zeros(codes.shape[0], self.width)
        if self.n_blocks:
            out.scatter_(1, codes + self.offsets[None], 1.0)
        return out

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, width)`` one-hot (or probabilities) -> ``(n, blocks)`` most likely level."""
        return self._padded(x, float("-inf")).argmax(dim=-1)

    def _coef(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values[torch.as_tensor(t).long().cpu()].reshape(-1, 1).to(like)

    # --- forward process -----------------------------------------------------------------------
    def q_probs(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``q(x_t | x_0)`` probabilities ``abar_t x_0 + (1 - abar_t) / K`` (``x0`` one-hot or probabilities)."""
        ab = self._coef(self.schedule.alpha_bars, t, x0)
        return ab * x0 + (1 - ab) / self.k_col.to(x0)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None,
                 u: torch.Tensor | None = None) -> torch.Tensor:
        """A one-hot draw of ``x_t ~ q(x_t | x_0)`` (``u``: the uniforms, see :meth:`sample`)."""
        return self.sample(torch.log(self.q_probs(x0, t).clamp(min=_TINY)), generator, u)

    def _coefs(self, t, s, n: int, like: torch.Tensor):
        t = torch.as_tensor(t).long().reshape(-1).expand(n).cpu()
        s = t - 1 if s is None else torch.as_tensor(s).long().reshape(-1).expand(n).cpu()
        ab_t = self.schedule.alpha_bars[t]
        ab_s = torch.where(s >= 0, self.schedule.alpha_bars[s.clamp(min=0)], torch.ones_like(ab_t))
        shape = (-1,) + (1,) * (like.ndim - 1)
        return (ab_t / ab_s).reshape(shape).to(like), ab_s.reshape(shape).to(like), (s < 0).reshape(shape).to(like.device)

    def _log_posterior_p(self, xt: torch.Tensor, x0: torch.Tensor, t, s=None) -> torch.Tensor:
        """:meth:`log_posterior` on padded ``(n, blocks, kmax)`` tensors (padding 0 in, ``-inf`` out)."""
        a, ab_s, end = self._coefs(t, s, xt.shape[0], xt)
        k = self._k_pad.to(xt)
        valid = self._valid.to(xt.device)
        log_theta = torch.log(a * xt + (1 - a) / k) + torch.log((ab_s * x0 + (1 - ab_s) / k).clamp(min=_TINY))
        post = self._log_softmax_p(log_theta.masked_fill(~valid, float("-inf")))
        return torch.where(end, torch.log(x0.clamp(min=_TINY)).masked_fill(~valid, float("-inf")), post)

    def log_posterior(self, xt: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
        """``log q(x_s | x_t, x_0)`` per block (``s = t - 1`` by default, ``s < t``); ``x0`` one-hot
        or predicted probabilities. Rows with ``s < 0`` get ``log x_0`` (the chain's end)."""
        return self._flat(self._log_posterior_p(self._padded(xt, 0.0), self._padded(x0, 0.0), t, s))

    # --- loss and reverse step -----------------------------------------------------------------
    def kl(self, x0: torch.Tensor, xt: torch.Tensor, logits: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Per-row, per-block ``KL(q(x_{t-1} | x_t, x_0) || q(x_{t-1} | x_t, softmax(logits)))``,
        shape ``(n, blocks)``; at ``t = 0`` the decoder NLL ``-log softmax(logits)[x_0]``.

        Example
        -------
        >>> m = MultinomialDiffusion(NoiseSchedule(n_steps=10), sizes=[3])
        >>> x0 = m.onehot(torch.tensor([[1]])); xt = m.onehot(torch.tensor([[0]]))
        >>> float(m.kl(x0, xt, torch.log(x0.clamp(min=1e-12)), torch.tensor([4])).abs().max()) < 1e-6
        True
        """
        t = torch.as_tensor(t).long().reshape(-1).expand(x0.shape[0])
        x0p, xtp = self._padded(x0, 0.0), self._padded(xt, 0.0)
        log_p0 = self._log_softmax_p(self._padded(logits, float("-inf")))
        log_q = self._log_posterior_p(xtp, x0p, t)
        log_p = self._log_posterior_p(xtp, log_p0.exp(), t)
        off = torch.isinf(log_q)
        kl = (log_q.exp() * (log_q - log_p).masked_fill(off, 0.0)).sum(-1)
        nll = -(x0p * log_p0.masked_fill(~self._valid.to(x0.device), 0.0).clamp(min=-1e4)).sum(-1)
        return torch.where((t == 0).to(kl.device).reshape(-1, 1), nll, kl)

    def sample(self, log_probs: torch.Tensor, generator: torch.Generator | None = None,
               u: torch.Tensor | None = None) -> torch.Tensor:
        """One-hot draw per block from (unnormalised) log-probabilities (Gumbel-max); ``u``
        (uniforms broadcastable to ``log_probs``) replaces the draw, e.g. one row shared by all."""
        lp = self._padded(log_probs, float("-inf"))
        return self._sample_p(lp, generator, None if u is None else self._padded(u.expand_as(log_probs), 0.5))

    def nll(self, x0: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Per-row, per-block ``-log softmax(logits)[x_0]`` (the x_0 prediction's cross-entropy)."""
        log_p0 = self._log_softmax_p(self._padded(logits, float("-inf")))
        return -(self._padded(x0, 0.0) * log_p0.masked_fill(~self._valid.to(x0.device), 0.0).clamp(min=-1e4)).sum(-1)

    def _sample_p(self, lp: torch.Tensor, generator, u=None) -> torch.Tensor:
        if u is None:
            u = torch.rand(lp.shape, generator=generator, dtype=torch.float64)
        g = lp.double() - torch.log(-torch.log(u.to(lp.device, torch.float64).clamp(min=1e-300)))
        return self.onehot(g.argmax(dim=-1).cpu()).to(lp.device, lp.dtype)

    def step(self, logits: torch.Tensor, xt: torch.Tensor, t: int, s: int,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One reverse step from ``t`` to ``s`` (< ``t``): ``x_s`` drawn from
        ``q(x_s | x_t, x0_hat)`` with ``x0_hat = softmax(logits)``; at ``s < 0`` ``x_0 ~ x0_hat``."""
        log_p0 = self._log_softmax_p(self._padded(logits, float("-inf")))
        if s < 0:
            return self._sample_p(log_p0, generator)
        n = xt.shape[0]
        tt, ss = torch.full((n,), int(t), dtype=torch.long), torch.full((n,), int(s), dtype=torch.long)
        return self._sample_p(self._log_posterior_p(self._padded(xt, 0.0), log_p0.exp(), tt, ss), generator)


# ------------------------------------------------------------------------------------------------
# a table with numeric (Gaussian) and categorical (multinomial) columns in one network
# ------------------------------------------------------------------------------------------------
def mixed_loss(net: Callable, schedule: NoiseSchedule, mult: MultinomialDiffusion, x_num: torch.Tensor,
               observed: torch.Tensor | None, x_cat: torch.Tensor, generator: torch.Generator,
               t: torch.Tensor | None = None, reduce: bool | str = True, eps: torch.Tensor | None = None,
               u: torch.Tensor | None = None, ce_weight: float = 0.0) -> torch.Tensor:
    """TabDDPM's loss: the Gaussian noise-prediction MSE over the numeric columns plus the mean
    multinomial KL over the categorical ones, one timestep per row. ``net(x, t)`` takes
    ``[numeric x_t, one-hot x_t]`` and returns ``[eps for numeric, logits per level]``.

    ``observed`` (bool, like ``x_num``; None = all): a False cell is missing: the network sees a
    placeholder 0 noised there (whatever ``x_num`` holds, NaN included) and its squared error is
    multiplied out, so it never influences the loss. ``t`` fixes the timesteps (else uniform);
    ``ce_weight`` > 0 adds that weight times the cross-entropy of the predicted ``x_0`` (D3PM's
    hybrid loss, Austin et al. 2021: a direct signal the per-step KL lacks early in training).
    ``reduce=False`` returns one loss per row (the anomaly score's building block), ``"cells"``
    the pair (squared errors per numeric cell, KL per categorical block); ``eps`` and
    ``u`` (the uniforms of the categorical draw) replace the random draws (scoring shares one
    draw across rows, so a row's score depends on that row alone).

    Example
    -------
    >>> s = NoiseSchedule(n_steps=10); m = MultinomialDiffusion(s, [2])
    >>> net = lambda x, t: torch.zeros(x.shape[0], 3)
    >>> loss = mixed_loss(net, s, m, torch.zeros(8, 1), None, m.onehot(torch.zeros(8, 1, dtype=torch.long)),
    ...                   torch.Generator().manual_seed(0))
    >>> loss.ndim
    0
    """
    n, d_num = x_num.shape
    if t is None:
        t = torch.randint(0, schedule.n_steps, (n,), generator=generator)
    t = torch.as_tensor(t).long().reshape(-1).expand(n).to(x_num.device)
    if eps is None:
        eps = torch.randn(x_num.shape, generator=generator)
    eps = eps.to(x_num).expand_as(x_num)
    if observed is None:
        observed = torch.ones_like(x_num, dtype=torch.bool)
    x0 = torch.where(observed, x_num, torch.zeros_like(x_num))
    xt_num = schedule.add_noise(x0, eps, t)
    xt_cat = mult.q_sample(x_cat, t, generator, u) if mult.n_blocks else x_cat
    out = net(torch.cat([xt_num, xt_cat], dim=1), t)
    eps_hat, logits = out[:, :d_num], out[:, d_num:]
    sq = torch.where(observed, (eps_hat - eps) ** 2, torch.zeros_like(eps))
    obs = observed.to(x_num.dtype)
    kl = mult.kl(x_cat, xt_cat, logits, t) if mult.n_blocks else torch.zeros(n, 0).to(x_num)
    if ce_weight and mult.n_blocks:  # D3PM's hybrid loss: + weight * -log x0_hat[x_0] (a direct x_0 signal)
        kl = kl + float(ce_weight) * mult.nll(x_cat, logits)
    if reduce == "cells":  # the parts: squared errors (0 at missing cells) and per-block KL
        return sq, kl
    if not reduce:
        mse_row = sq.sum(1) / obs.sum(1).clamp(min=1.0) if d_num else torch.zeros(n).to(x_num)
        return mse_row + (kl.mean(1) if mult.n_blocks else 0.0)
    mse = sq.sum() / obs.sum().clamp(min=1.0) if d_num else torch.zeros((), dtype=x_num.dtype)
    return mse + (kl.mean() if mult.n_blocks else 0.0)


def mixed_reverse(net: Callable, schedule: NoiseSchedule, mult: MultinomialDiffusion, x_num: torch.Tensor,
                  x_cat: torch.Tensor, t_start: int, steps: int, generator: torch.Generator | None = None, *,
                  eps_scale: float | torch.Tensor = 1.0, logit_scale: float | torch.Tensor = 1.0,
                  forbid: torch.Tensor | None = None, known_num: torch.Tensor | None = None,
                  keep_num: torch.Tensor | None = None, known_cat: torch.Tensor | None = None,
                  keep_cat: torch.Tensor | None = None, clip: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The mixed reverse chain from ``t_start`` in ``steps`` (respaced) ancestral steps: DDPM steps
    for the numeric part, posterior draws for the one-hot part; returns ``(x0_num, x0_cat)``.

    ``eps_scale`` / ``logit_scale`` (scalars or per-row/per-entry tensors) perturb the prediction
    (1 = the model; 0 = no pull to the data; anomaly synthesis); ``forbid`` (bool, ``(width,)``)
    marks levels never drawn (e.g. a blank level); ``known_*`` / ``keep_*`` (True = keep, per
    numeric entry and per categorical block) hold entries to the data noised to each new level
    (RePaint-style inpainting).

    Example
    -------
    >>> s = NoiseSchedule(n_steps=20); m = MultinomialDiffusion(s, [3])
    >>> net = lambda x, t: torch.zeros(x.shape[0], 4)
    >>> xn, xc = mixed_reverse(net, s, m, torch.randn(5, 1), m.q_sample(m.onehot(torch.zeros(5, 1, dtype=torch.long)),
    ...                        torch.tensor([19])), 19, 20, torch.Generator().manual_seed(0))
    >>> xn.shape, xc.shape, float(xc.sum(1).max())
    (torch.Size([5, 1]), torch.Size([5, 3]), 1.0)
    """
    smp = DDPMSampler(schedule, clip=clip)
    smp.set_timesteps(steps, start=t_start)
    d_num = x_num.shape[1]
    n = x_num.shape[0]
    keep_flat = None
    if keep_cat is not None and mult.n_blocks:
        keep_flat = keep_cat[:, mult.group.to(keep_cat.device)]
    for i, t in enumerate(smp.timesteps.tolist()):
        tt = torch.full((n,), t, dtype=torch.long, device=x_num.device)
        with torch.no_grad():
            out = net(torch.cat([x_num, x_cat], dim=1), tt)
            eps, logits = out[:, :d_num] * eps_scale, out[:, d_num:]
            if mult.n_blocks:
                logits = mult.log_softmax(logits) * logit_scale
                if forbid is not None:
                    logits = logits.masked_fill(forbid.to(logits.device)[None], float("-inf"))
            s = smp.prev_timestep(i)
            x_num, _ = smp.step(eps, i, x_num, generator)
            if mult.n_blocks:
                x_cat = mult.step(logits, x_cat, t, s, generator)
            if known_num is not None:
                if s >= 0:
                    noise = torch.randn(known_num.shape, generator=generator).to(known_num)
                    ref = schedule.add_noise(known_num, noise, torch.full((n,), s, dtype=torch.long))
                else:
                    ref = known_num
                x_num = torch.where(keep_num, ref, x_num)
            if keep_flat is not None:
                ref = mult.q_sample(known_cat, torch.full((n,), s, dtype=torch.long), generator) if s >= 0 else known_cat
                x_cat = torch.where(keep_flat, ref, x_cat)
    return x_num.detach(), x_cat.detach()
