"""Seeded synthetic normal series for pretraining a series model (issue 18): many periods, shapes,
noise levels and scales, so that a model trained on them knows what "a regular series" looks like
without ever seeing a benchmark series.

A series is a sum of parts drawn at random: one to three seasonal components (sine, square,
sawtooth, triangle, a daily-like pulse or a random smooth periodic shape; periods 4..400 steps,
log-uniform), optional amplitude modulation, a trend, an AR(1) or random-walk component, Gaussian
or heavy-tailed noise; sometimes rectified (counts, CPU use) or quantised. No anomalies are put in.

Example
-------
>>> x = synthetic_series(500, np.random.default_rng(0))
>>> x.shape, bool(np.isfinite(x).all())
((500,), True)
>>> a = synthetic_collection(3, 200, seed=1); b = synthetic_collection(3, 200, seed=1)
>>> bool(np.array_equal(a, b))
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["synthetic_series", "synthetic_collection", "SHAPES"]

SHAPES = ("sine", "square", "sawtooth", "triangle", "pulse", "fourier")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _seasonal(t: np.ndarray, period: float, shape: str, rng: np.random.Generator) -> np.ndarray:
    phase = (t / period + rng.uniform()) % 1.0
    if shape == "sine":
        return np.sin(2 * np.pi * phase)
    if shape == "square":
        duty = rng.uniform(0.2, 0.8)
        return np.where(phase < duty, 1.0, -1.0)
    if shape == "sawtooth":
        return 2.0 * phase - 1.0
    if shape == "triangle":
        return 2.0 * np.abs(2.0 * phase - 1.0) - 1.0
    if shape == "pulse":  # a busy part of each period (a day's traffic), smooth edges
        width = rng.uniform(0.1, 0.5)
        return np.exp(-0.5 * ((phase - 0.5) / (width / 2.5)) ** 2)
    k = int(rng.integers(2, 6))  # "fourier": a random smooth periodic shape
    a, b = rng.normal(size=k) / np.arange(1, k + 1), rng.normal(size=k) / np.arange(1, k + 1)
    n = np.arange(1, k + 1)[:, None]
    out = (a[:, None] * np.sin(2 * np.pi * n * phase) + b[:, None] * np.cos(2 * np.pi * n * phase)).sum(axis=0)
    return out / (np.abs(out).max() + 1e-9)


def synthetic_series(length: int, rng: np.random.Generator) -> np.ndarray:
    """One normal series of ``length`` steps (float64) drawn with ``rng``."""
    length = int(length)
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")
    t = np.arange(length, dtype=np.float64)
    x = np.zeros(length)
    n_seasonal = int(rng.choice([0, 1, 1, 1, 2, 2, 3]))
    for _ in range(n_seasonal):
        period = _log_uniform(rng, 4.0, 400.0)
        part = _seasonal(t, period, SHAPES[int(rng.integers(len(SHAPES)))], rng) * _log_uniform(rng, 0.2, 2.0)
        if rng.uniform() < 0.25:  # slow amplitude modulation
            part *= 1.0 + 0.5 * np.sin(2 * np.pi * t / _log_uniform(rng, 200.0, 5000.0) + rng.uniform(0, 6.3))
        x += part
    if rng.uniform() < 0.4:
        x += rng.normal() * t / length * _log_uniform(rng, 0.1, 3.0)
    u = rng.uniform()
    if u < 0.3:  # AR(1)
        phi, e = rng.uniform(0.3, 0.99), rng.normal(size=length) * _log_uniform(rng, 0.05, 1.0)
        ar = np.zeros(length)
        for i in range(1, length):
            ar[i] = phi * ar[i - 1] + e[i]
        x += ar
    elif u < 0.45:  # random walk
        x += np.cumsum(rng.normal(size=length)) * _log_uniform(rng, 0.01, 0.3)
    noise = _log_uniform(rng, 0.005, 1.0) * (1.0 if n_seasonal else 2.0)
    if rng.uniform() < 0.25:
        x += noise * rng.standard_t(4, size=length) / np.sqrt(2.0)
    else:
        x += noise * rng.normal(size=length)
    if rng.uniform() < 0.15:  # rectified: counts, utilisation
        x = np.maximum(x, np.quantile(x, rng.uniform(0.0, 0.3)))
    if rng.uniform() < 0.1:  # quantised readings
        step = np.std(x) * _log_uniform(rng, 0.02, 0.3)
        if step > 0:
            x = np.round(x / step) * step
    return x * _log_uniform(rng, 0.01, 100.0) + rng.normal() * 10.0


def synthetic_collection(n_series: int, length: int, seed: int = 0) -> np.ndarray:
    """``(n_series, length)`` series from :func:`synthetic_series`, reproducible from ``seed``."""
    if int(n_series) < 1:
        raise ValueError(f"n_series must be >= 1, got {n_series}")
    rng = np.random.default_rng(int(seed))
    return np.stack([synthetic_series(length, rng) for _ in range(int(n_series))])
