"""Noise schedules and the forward (noising) process.

A :class:`NoiseSchedule` is a small math object in the style of diffusers' schedulers: it holds
``betas`` and the cumulative products, and knows how to noise a clean tensor of any rank.
Networks never see it; they only receive integer timesteps.
"""
from __future__ import annotations

import math

import torch

__all__ = ["NoiseSchedule", "make_betas"]


def make_betas(kind: str, n_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Return ``betas`` (float64, shape ``(n_steps,)``) for a ``"linear"`` or ``"cosine"`` schedule."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if kind == "linear":
        # Scaled so that the total noise matches the 1000-step DDPM schedule for any n_steps.
        scale = 1000.0 / n_steps
        return torch.linspace(beta_start * scale, beta_end * scale, n_steps, dtype=torch.float64).clamp(max=0.999)
    if kind == "cosine":
        s = 0.008
        t = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown schedule {kind!r}; choose 'linear' or 'cosine'")


class NoiseSchedule:
    """Variance-preserving diffusion: ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``.

    Timesteps are integers ``0 .. n_steps - 1``; step ``t`` has noise level ``abar_t``.

    Example
    -------
    >>> s = NoiseSchedule("cosine", n_steps=100)
    >>> x0 = torch.zeros(4, 3, 8, 8)
    >>> xt = s.add_noise(x0, torch.randn_like(x0), torch.tensor([0, 10, 50, 99]))
    >>> xt.shape
    torch.Size([4, 3, 8, 8])
    """

    def __init__(self, kind: str = "linear", n_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        self.kind = kind
        self.n_steps = int(n_steps)
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.betas = make_betas(kind, self.n_steps, beta_start, beta_end)
        self.alphas = 1.0 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)

    def config(self) -> dict:
        return {"kind": self.kind, "n_steps": self.n_steps, "beta_start": self.beta_start, "beta_end": self.beta_end}

    # --- helpers -------------------------------------------------------------------------------
    def _gather(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` shaped to broadcast against ``like`` (batch first, any rank)."""
        t = torch.as_tensor(t, device=values.device).long()
        out = values[t].to(device=like.device, dtype=like.dtype)
        if out.ndim == 0:
            return out
        return out.reshape(-1, *([1] * (like.ndim - 1)))

    def sigma_ve(self, t) -> torch.Tensor:
        """Noise scale of the equivalent variance-exploding process ``x_0 + sigma_t eps``.

        ``x_t / sqrt(abar_t) = x_0 + sqrt((1 - abar_t) / abar_t) eps``; diffusion-time estimation
        reads a clean test point as such a noisy sample.
        """
        ab = self.alpha_bars[torch.as_tensor(t).long()]
        return torch.sqrt((1 - ab) / ab)

    # --- forward process -----------------------------------------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Noise ``x0`` (batch first, any rank) to the timesteps ``t`` (shape ``(batch,)`` or scalar)."""
        if noise.shape != x0.shape:
            raise ValueError(f"noise shape {tuple(noise.shape)} differs from x0 shape {tuple(x0.shape)}")
        ab = self._gather(self.alpha_bars, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, xt: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Invert the forward process given a noise estimate."""
        ab = self._gather(self.alpha_bars, t, xt)
        return (xt - (1 - ab).sqrt() * eps) / ab.sqrt()

    def predict_eps(self, xt: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self._gather(self.alpha_bars, t, xt)
        return (xt - ab.sqrt() * x0) / (1 - ab).sqrt()

    def elbo_weights(self) -> torch.Tensor:
        """Per-step weight that turns ``||eps - eps_hat||^2`` into the DDPM variational-bound term.

        ``L_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - abar_t)) ||eps - eps_hat||^2`` with
        ``sigma_t^2`` the posterior variance (``beta_t`` at ``t = 0``).
        """
        ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars[:-1]])
        post_var = self.betas * (1 - ab_prev) / (1 - self.alpha_bars)
        post_var[0] = self.betas[0]
        return self.betas**2 / (2 * post_var * self.alphas * (1 - self.alpha_bars))

    def t_from_sigma(self, sigma: float) -> int:
        """Timestep whose variance-exploding noise scale :meth:`sigma_ve` is nearest ``sigma`` (a
        clean point plus noise of standard deviation ``sigma``, in the data's units).

        Example
        -------
        >>> s = NoiseSchedule("linear", 1000)
        >>> t = s.t_from_sigma(0.1); abs(float(s.sigma_ve(t)) - 0.1) < 0.005
        True
        """
        if not float(sigma) > 0:
            raise ValueError(f"noise sigma must be > 0, got {sigma}")
        sig = torch.sqrt((1 - self.alpha_bars) / self.alpha_bars)
        return int(torch.argmin((sig - float(sigma)).abs()))

    def t_from_fraction(self, fraction: float) -> int:
        """Timestep at a fraction of the chain (``0.25`` -> a quarter of the way to pure noise)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"noise fraction must lie in [0, 1], got {fraction}")
        return min(self.n_steps - 1, max(0, round(fraction * self.n_steps) - 1))
