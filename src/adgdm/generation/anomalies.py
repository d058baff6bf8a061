"""Anomaly synthesis for tables: one entry point, seven kinds.

Model-based kinds work in the model's standardised space and return original units:

* ``local``: real normals noised to a level and denoised by a perturbed reverse process: the
  predicted noise is scaled by ``1 - severity`` (0: ordinary reconstruction, 1: no pull back to
  the data, 2: pushed away), from a level that grows with ``severity``;
* ``masked``: the same, but only a subset of features is regenerated, conditioned on the rest
  (inpainting: the kept features are held to the data at every step);
* ``conditional``: a label-conditioned model fitted on the normals and ``k`` real anomalies,
  sampled for class 1 with classifier-free guidance ``guidance_scale`` (few-shot);
* ``guided``: ``local`` samples steered into a band of a detector's scores: by the gradient of a
  differentiable ``score_fn`` when given, and by rejection with adaptive severity always.

Model-free kinds follow ADBench's synthetic anomaly types:

* ``global``: uniform in the data's bounding box widened by ``0.1 + 0.2 * severity`` of its range,
  kept only when farther from every normal than normals are from each other;
* ``dependency``: every feature drawn independently from its normal marginal (dependence broken);
* ``clustered``: a compact group (spread ``0.1``) shifted ``(0.5 + 0.5 * severity) * sqrt(d)``
  standard deviations away from a normal row.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from .._torch import seed_of
from .._validation import check_tabular
from .conditional import ConditionalDiffusion
from .feedback import score_band
from .sampling import eps_function, from_model_space, is_mixed, reverse, sample, to_model_space

__all__ = ["TABULAR_KINDS", "generate_anomalies"]

TABULAR_KINDS = ("local", "global", "dependency", "clustered", "masked", "conditional", "guided")
MODEL_KINDS = ("local", "masked", "guided")  # kinds that run a trained network
_MODEL_KINDS = MODEL_KINDS


def _feature_mask(n: int, d: int, features, feature_fraction: float, rng: np.random.Generator,
                  groups=None) -> np.ndarray:
    """``(n, d)`` cells a ``masked`` anomaly regenerates: the given ``features`` in every row, or a
    random ``feature_fraction`` of the features per row (of the ``groups`` of columns, when given:
    a group is regenerated whole)."""
    mask = np.zeros((n, d), dtype=bool)
    if features is not None:
        idx = np.atleast_1d(np.asarray(features, dtype=int))
        if idx.size == 0 or idx.min() < 0 or idx.max() >= d:
            raise ValueError(f"features must be indices in [0, {d - 1}], got {features}")
        mask[:, idx] = True
        return mask
    groups = _check_groups(groups, d)
    k = max(1, int(round(float(feature_fraction) * len(groups))))
    for i in range(n):
        for g in rng.choice(len(groups), k, replace=False):
            mask[i, groups[g]] = True
    return mask


def _check_groups(groups, d: int) -> list:
    """``groups`` (lists of column indices covering each column once) checked; None: one per column."""
    if groups is None:
        return [[j] for j in range(d)]
    out = [[int(j) for j in g] for g in groups]
    flat = sorted(j for g in out for j in g)
    if flat != list(range(d)) or any(not g for g in out):
        raise ValueError(f"groups must cover each of the {d} columns exactly once, got {groups}")
    return out

def _level(severity: float, base: float, slope: float) -> float:
    return float(min(base + slope * severity, 0.95))


def _local(model, Z: np.ndarray, severity: np.ndarray, gen: torch.Generator, steps: int,
           mask: np.ndarray | None = None, score_fn=None, guidance: float = 0.0) -> np.ndarray:
    """Rows of ``Z`` (model space) re-generated with per-row ``severity``; ``mask`` (True =
    regenerate) restricts the change to some features."""
    sched = model.schedule_
    eps = eps_function(model)
    clip = float(max(5.0, 2.0 * np.abs(Z).max()))
    out = np.empty_like(Z)
    base, slope = (0.3, 0.2) if mask is not None else (0.15, 0.15)
    # rows with the same severity share one chain; severities are rounded to a grid of 0.05
    sev = np.round(np.asarray(severity, dtype=np.float64) / 0.05) * 0.05
    for s in np.unique(sev):
        rows = np.flatnonzero(sev == s)
        x0 = torch.as_tensor(Z[rows], dtype=torch.float32)
        t0 = sched.t_from_fraction(_level(s, base, slope))
        noise = torch.randn(x0.shape, generator=gen)
        xt = sched.add_noise(x0, noise, torch.full((len(rows),), t0, dtype=torch.long))
        scale: float | torch.Tensor = 1.0 - float(s)
        known = keep = None
        if mask is not None:
            m = torch.as_tensor(mask[rows])
            scale = torch.where(m, torch.tensor(1.0 - float(s)), torch.tensor(1.0))
            known, keep = x0, ~m
        x = reverse(eps, sched, xt, t0, steps, gen, eps_scale=scale, known=known, known_mask=keep, clip=clip,
                    score_fn=score_fn, guidance=guidance)
        out[rows] = x.numpy()
    return out


def _standardiser(X: np.ndarray):
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (X - mu) / sd, (lambda Z: Z * sd + mu)


def _global(X: np.ndarray, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    Z, back = _standardiser(X)
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    pad = (0.1 + 0.2 * severity) * (hi - lo)
    nn = NearestNeighbors(n_neighbors=2).fit(Z)
    ref = np.quantile(nn.kneighbors(Z[: min(len(Z), 2000)])[0][:, 1], 0.99)
    found = []
    for _ in range(50):
        cand = rng.uniform(lo - pad, hi + pad, size=(4 * n, Z.shape[1]))
        found.append(cand[nn.kneighbors(cand, n_neighbors=1)[0][:, 0] > ref])
        if sum(len(f) for f in found) >= n:
            break
    got = np.concatenate(found)
    if len(got) < n:
        raise ValueError(f"global: only {len(got)} of {n} uniform draws fell outside the normal data; "
                         "raise severity")
    return back(got[:n])


def _dependency(X: np.ndarray, n: int, rng: np.random.Generator, groups=None) -> np.ndarray:
    out = np.empty((n, X.shape[1]))
    for g in _check_groups(groups, X.shape[1]):  # a group (one table column's one-hot cells) from one row
        out[:, g] = X[rng.integers(0, len(X), size=n)][:, g]
    return out


def _clustered(X: np.ndarray, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    Z, back = _standardiser(X)
    d = Z.shape[1]
    u = rng.normal(size=d)
    center = Z[rng.integers(len(Z))] + u / np.linalg.norm(u) * (0.5 + 0.5 * severity) * np.sqrt(d)
    members = Z[rng.integers(0, len(Z), size=n)]
    return back(center + 0.1 * (members - Z.mean(axis=0)))


def _guided(model, Z, n, severity, rng, gen, steps, detector, band, score_fn, guidance, max_rounds, raw=None):
    if detector is None:
        raise ValueError("kind='guided' needs detector= (a fitted detector whose scores steer generation)")
    low, high = score_band(detector, band)
    kept, s_max = [], 2.0 * max(float(severity), 0.05)
    for _ in range(int(max_rounds)):
        m = 2 * n
        rows = Z[rng.integers(0, len(Z), size=m)]
        sev = rng.uniform(0.0, s_max, size=m)
        cand = from_model_space(model, _local(model, rows, sev, gen, steps, score_fn=score_fn, guidance=guidance),
                                clip=False, raw_columns=raw)
        s = detector.decision_function(cand)
        ok = (s >= low) & (s <= high)
        kept.append(cand[ok])
        if sum(len(k) for k in kept) >= n:
            break
        # adapt: too many still look normal -> stronger; too many overshoot -> gentler
        below, above = (s < low).mean(), (s > high).mean()
        s_max = s_max * 1.5 if below > above else s_max / 1.5
    got = np.concatenate(kept)
    if len(got) < n:
        raise ValueError(f"guided: only {len(got)} of {n} samples reached the score band [{low:.4g}, {high:.4g}] "
                         f"after {max_rounds} rounds; widen band or raise max_rounds")
    return got[:n]


def _rows(X, idx):
    return X.iloc[idx].reset_index(drop=True) if hasattr(X, "iloc") else np.asarray(X)[idx]


def _mixed(model, X, n, kind, severity, rng, seed, steps, features, feature_fraction, detector, band, score_fn,
           max_rounds, raw=None, groups=None):
    """``local`` / ``masked`` / ``guided`` with a mixed-type model (``tabddpm``): its ``perturb``
    regenerates rows (numeric and categorical cells) in its own space; rows in the user's columns."""
    if score_fn is not None:
        raise ValueError("score_fn guidance needs a numeric 'ddpm' model; a tabddpm model steers by rejection only")
    m = len(X)
    d = int(model.n_features_in_)
    kw = {} if raw is None else {"raw_columns": raw}
    if kind == "local":
        return model.perturb(_rows(X, rng.integers(0, m, size=n)), severity, random_state=seed, steps=steps, **kw)
    if kind == "masked":
        mask = _feature_mask(n, d, features, feature_fraction, rng, groups)
        return model.perturb(_rows(X, rng.integers(0, m, size=n)), severity, random_state=seed, steps=steps, mask=mask,
                             **kw)
    if detector is None:
        raise ValueError("kind='guided' needs detector= (a fitted detector whose scores steer generation)")
    low, high = score_band(detector, band)
    kept, s_max = [], 2.0 * max(float(severity), 0.05)
    for r in range(int(max_rounds)):
        sev = rng.uniform(0.0, s_max, size=2 * n)
        cand = model.perturb(_rows(X, rng.integers(0, m, size=2 * n)), sev, random_state=seed + r, steps=steps, **kw)
        s = detector.decision_function(cand)
        ok = (s >= low) & (s <= high)
        kept.append(_rows(cand, np.flatnonzero(ok)))
        if sum(len(k) for k in kept) >= n:
            break
        below, above = (s < low).mean(), (s > high).mean()
        s_max = s_max * 1.5 if below > above else s_max / 1.5
    got = sum(len(k) for k in kept)
    if got < n:
        raise ValueError(f"guided: only {got} of {n} samples reached the score band [{low:.4g}, {high:.4g}] "
                         f"after {max_rounds} rounds; widen band or raise max_rounds")
    if hasattr(kept[0], "iloc"):
        import pandas as pd

        return pd.concat(kept, ignore_index=True).iloc[:n]
    return np.concatenate(kept)[:n]


def generate_anomalies(model, X_normal, n: int, kind: str = "local", severity: float = 1.0, random_state=None, *,
                       steps: int = 20, features=None, feature_fraction: float = 0.3, X_anomaly=None,
                       guidance_scale: float = 2.0, detector=None, band: tuple = (0.9, 0.999),
                       score_fn=None, guidance: float = 0.0, max_rounds: int = 10, groups=None,
                       raw_columns=None) -> np.ndarray:
    """``n`` synthetic anomalies of one ``kind`` (see the module docstring), in original units.

    Parameters
    ----------
    model : a fitted diffusion model (a ``ddpm`` or ``tabddpm`` detector, or a ``ConditionalDiffusion`` for
        ``conditional``); ``None`` for the model-free kinds and for ``conditional`` (then fitted
        here on ``X_normal`` and ``X_anomaly``). With ``tabddpm`` the model kinds take and return
        tables as it was fitted on (a DataFrame with text columns stays one): categorical cells
        are regenerated by the multinomial chain with the log-probabilities scaled by
        ``1 - severity`` (0: uniform; below 0: rare levels favoured).
    X_normal : normal rows: the starting points of ``local``/``masked``/``guided`` and the
        reference of the model-free kinds.
    severity : how far from normal, >= 0 (1 = clearly anomalous for most data).
    features, feature_fraction : ``masked``: the feature indices to regenerate, else a random
        ``feature_fraction`` of them per row.
    X_anomaly, guidance_scale : ``conditional``: the ``k >= 1`` real anomalies and the
        classifier-free guidance weight.
    detector, band, score_fn, guidance, max_rounds : ``guided``: keep samples whose score under
        ``detector`` lies in the quantile ``band`` of its training scores; ``score_fn`` (torch, on
        model-space rows, differentiable) with ``guidance`` adds gradient steering.
    groups : lists of column indices that belong together (the one-hot columns of one table
        column): ``dependency`` draws a group from one row, ``masked`` regenerates whole groups.
    raw_columns : a bool per column: model outputs given back neither snapped to their levels nor
        clipped (scores a decoder reads, e.g. one-hot columns: ``adgdm.generation.tables``).

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from adgdm import DDPMDetector
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = DDPMDetector(max_steps=200, random_state=0).fit(X[y == 1])
    >>> A = generate_anomalies(model, X[y == 1], 50, kind="local", severity=1.0, random_state=0)
    >>> A.shape
    (50, 30)
    """
    if kind not in TABULAR_KINDS:
        raise ValueError(f"unknown kind {kind!r}; tables take {', '.join(TABULAR_KINDS)} "
                         "(series kinds: adgdm.generation.inject_series_anomalies)")
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not float(severity) >= 0:
        raise ValueError(f"severity must be >= 0, got {severity}")
    n = int(n)
    seed = seed_of(random_state)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    if kind in _MODEL_KINDS and model is not None and is_mixed(model):
        return _mixed(model, X_normal, n, kind, float(severity), rng, seed, steps, features, feature_fraction,
                      detector, band, score_fn, max_rounds, raw_columns, groups)
    d_model = getattr(model, "n_features_in_", None)
    X, _ = check_tabular(X_normal, d_model, what="X_normal")
    if kind in _MODEL_KINDS:
        if model is None or not hasattr(model, "net_"):
            raise ValueError(f"kind={kind!r} needs a fitted diffusion model (e.g. DDPMDetector().fit(X_normal))")
        Z = to_model_space(model, X)
        if kind == "local":
            rows = Z[rng.integers(0, len(Z), size=n)]
            return from_model_space(model, _local(model, rows, np.full(n, float(severity)), gen, steps), clip=False,
                                    raw_columns=raw_columns)
        if kind == "masked":
            d = Z.shape[1]
            mask = _feature_mask(n, d, features, feature_fraction, rng, groups)
            pick = rng.integers(0, len(Z), size=n)
            rows, X_rows = Z[pick], X[pick]
            out = from_model_space(model, _local(model, rows, np.full(n, float(severity)), gen, steps, mask=mask),
                                   clip=False, raw_columns=raw_columns)
            return np.where(mask, out, X_rows)  # kept features exactly as the data
        return _guided(model, Z, n, float(severity), rng, gen, steps, detector, band, score_fn, guidance,
                       max_rounds, raw_columns)
    if kind == "conditional":
        if not isinstance(model, ConditionalDiffusion):
            if X_anomaly is None or len(X_anomaly) == 0:
                raise ValueError("kind='conditional' needs X_anomaly with k >= 1 real anomalies (few-shot)")
            A, _ = check_tabular(X_anomaly, X.shape[1], what="X_anomaly")
            model = ConditionalDiffusion(random_state=seed).fit(np.vstack([X, A]), np.r_[np.zeros(len(X)), np.ones(len(A))])
        return sample(model, n, steps=max(int(steps), 20), label=1, guidance_scale=guidance_scale, random_state=seed)
    if kind == "global":
        return _global(X, n, float(severity), rng)
    if kind == "dependency":
        return _dependency(X, n, rng, groups)
    return _clustered(X, n, float(severity), rng)
