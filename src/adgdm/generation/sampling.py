"""Sampling from fitted diffusion models, and the reverse loop every generator kind shares.

``reverse`` runs :func:`adgdm.diffusion.reverse` from any timestep with three optional twists: a
per-feature scaling of the predicted noise (``eps_scale``: 1 = the model, 0 = no pull towards the
data, negative = pushed away), known entries held to the data at every step (RePaint-style
inpainting), and a gradient nudge from a differentiable score (guidance).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .._torch import seed_of
from ..diffusion import NoiseSchedule, reverse as diffusion_reverse, score_gradient

__all__ = ["reverse", "sample", "to_model_space", "from_model_space", "eps_function", "is_mixed"]


def _check_generator_model(model) -> None:
    if not hasattr(model, "net_") or not hasattr(model, "schedule_"):
        raise TypeError(f"{type(model).__name__} is not a fitted diffusion model (it needs a trained network: "
                        "fit a 'ddpm' detector, a ConditionalDiffusion, or a series-recon|impute|forecast detector)")


def is_mixed(model) -> bool:
    """True for a mixed-type model (``tabddpm``): numeric and categorical columns in one chain,
    sampled and perturbed through its own methods."""
    return hasattr(model, "multinomial_") and hasattr(model, "perturb")


def to_model_space(model, X: np.ndarray) -> np.ndarray:
    """Original units -> the standardised space the model's network works in."""
    return model._transform(np.asarray(X, dtype=np.float64)) if hasattr(model, "_transform") else X


def from_model_space(model, Z: np.ndarray, clip: bool = True, raw_columns=None) -> np.ndarray:
    """The model's space -> original units (the inverse of :func:`to_model_space`). With a feature
    map, discrete columns are snapped to their levels; ``clip`` keeps values in the training range
    (normal samples, not anomalies); ``raw_columns`` (a bool per column) are neither snapped nor
    clipped (``FeatureMap.inverse``)."""
    fm = getattr(model, "featuremap_", None)
    own = hasattr(model, "standardize") and getattr(model, "preprocess", "standard") != "quantile"
    if fm is not None and not own:  # the model space is the feature map's
        return fm.inverse(Z, clip=clip, raw=raw_columns)
    X = Z * model.scale_ + model.center_ if getattr(model, "standardize", False) else Z
    if fm is None:
        return X
    # the model's own scaling (or none, standardize=False) first, then the map's snapping and range
    return fm.inverse((X - fm.mean_) / fm.std_, clip=clip, raw=raw_columns)


def eps_function(model, label: int | None = None, guidance_scale: float = 0.0) -> Callable:
    """``eps(x, t)`` of a fitted model; with a class-conditional network and ``label``, classifier-free
    guidance ``(1 + w) eps(x, t, label) - w eps(x, t, none)``."""
    net = model.net_
    null = getattr(model, "null_label_", None)
    if label is None:
        if null is not None:  # a conditional network run unconditionally: the "no label" token
            return lambda x, t: net(x, t, torch.full((x.shape[0],), int(null), dtype=torch.long, device=x.device))
        return lambda x, t: net(x, t)
    if null is None:
        raise ValueError(f"{type(model).__name__} is not class-conditional; label= needs a ConditionalDiffusion")
    w = float(guidance_scale)

    def eps(x, t):
        c = torch.full((x.shape[0],), int(label), dtype=torch.long, device=x.device)
        e_c = net(x, t, c)
        if w == 0.0:
            return e_c
        e_u = net(x, t, torch.full_like(c, int(null)))
        return (1 + w) * e_c - w * e_u

    return eps


def reverse(eps_fn: Callable, schedule: NoiseSchedule, x_t: torch.Tensor, start: int, steps: int,
            generator: torch.Generator, *, sampler: str = "ddim", eta: float = 0.0,
            eps_scale: float | torch.Tensor = 1.0, known: torch.Tensor | None = None,
            known_mask: torch.Tensor | None = None, clip: float | None = None,
            score_fn: Callable | None = None, guidance: float = 0.0) -> torch.Tensor:
    """Reverse chain from timestep ``start`` in ``steps`` steps; returns ``x_0``
    (:func:`adgdm.diffusion.reverse` with the generators' hooks).

    ``known``/``known_mask`` (True = keep): after every step the kept entries are replaced by the
    data noised to the new level, so the rest is generated conditioned on them. ``score_fn(x0)``
    (differentiable, per row) with ``guidance`` > 0 pushes each step's clean estimate up the score
    (down with ``guidance`` < 0).
    """
    return diffusion_reverse(eps_fn, schedule, x_t, start, steps, generator, sampler=sampler, eta=eta, clip=clip,
                             eps_transform=lambda eps: eps * eps_scale,
                             guide=None if score_fn is None else score_gradient(score_fn), guidance=guidance,
                             known=known, known_mask=known_mask)


def sample(model, n: int, steps: int | None = None, sampler: str = "ddpm", eta: float = 0.0, label: int | None = None,
           guidance_scale: float = 0.0, random_state=None, batch_size: int = 4096, clip: float | None = 10.0,
           raw_columns=None) -> np.ndarray:
    """``n`` new rows from a fitted diffusion model, in the units of its training data.

    By default the ancestral DDPM chain runs over all of the model's timesteps (``steps=None``),
    as TabDDPM samples. A few DDIM steps (``sampler="ddim", steps=50``) are about 20 times faster
    but less faithful: on 8 ADBench tables the classifier two-sample AUC of 50 DDIM steps was
    0.05 higher (worse) than the full DDPM chain's (``benchmarks/results/generation.md``).

    A ``tabddpm`` model (numeric and categorical columns) samples through its own ``sample``
    (complete rows, categorical columns only at their training levels).

    ``label`` (a ``ConditionalDiffusion``'s class) with ``guidance_scale`` ``w`` uses classifier-free
    guidance. ``clip`` bounds each step's clean estimate in the model's standardised space (guided
    steps can overshoot early in the chain). ``raw_columns`` (a bool per column) come back
    neither snapped to their levels nor clipped (:func:`from_model_space`).

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from adgdm import DDPMDetector
    >>> X = load_breast_cancer().data
    >>> model = DDPMDetector(max_steps=200, random_state=0).fit(X)
    >>> sample(model, 5, steps=10, random_state=0).shape
    (5, 30)
    """
    _check_generator_model(model)
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if is_mixed(model):  # tabddpm: Gaussian + multinomial chain, its own decoding
        if label is not None:
            raise ValueError(f"{type(model).__name__} is not class-conditional; label= needs a ConditionalDiffusion")
        if sampler != "ddpm":
            raise ValueError(f"{type(model).__name__} samples with the ancestral chain only (sampler='ddpm'), "
                             f"got {sampler!r}; pass steps= for a shorter (respaced) chain")
        kw = {} if raw_columns is None else {"raw_columns": raw_columns}
        return model.sample(n, steps=steps, random_state=random_state, batch_size=batch_size, **kw)
    sched = model.schedule_
    steps = sched.n_steps if steps is None else steps
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1 (or None for all {sched.n_steps}), got {steps}")
    gen = torch.Generator().manual_seed(seed_of(random_state))
    eps = eps_function(model, label, guidance_scale)
    d = int(model.net_.config["in_dim"])
    out = []
    model.net_.eval()
    for i in range(0, int(n), int(batch_size)):
        m = min(int(batch_size), int(n) - i)
        x_T = torch.randn((m, d), generator=gen)
        out.append(reverse(eps, sched, x_T, sched.n_steps - 1, steps, gen, sampler=sampler, eta=eta, clip=clip).numpy())
    # normal samples stay in the training range; samples of another class (anomalies) need not
    return from_model_space(model, np.concatenate(out).astype(np.float64), clip=label is None or int(label) == 0,
                            raw_columns=raw_columns)
