"""Robust z-scores and their weighted fusion: how detectors put scores of different units (an
evidence, a classifier's log-odds, a branch's image score) on one footing and add them up.

Example
-------
>>> ref = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
>>> z = RobustZ.fit(ref)
>>> z.center, z.scale, z(np.array([3.0, 7.0])).tolist()
(3.0, 2.0, [0.0, 2.0])
>>> fuse({"a": np.array([1.0]), "b": np.array([2.0])}, {"a": 1.0, "b": 0.5}).tolist()
[2.0]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

__all__ = ["RobustZ", "fuse"]


@dataclass(frozen=True)
class RobustZ:
    """``(v - center) / scale`` with a median centre and an interquartile scale.

    ``center`` and ``scale`` are floats (fitted on 1-D scores) or arrays (one per column of 2-D
    scores). Build one with :meth:`fit`, or from stored values with ``RobustZ(center, scale)``.
    """

    center: float | np.ndarray
    scale: float | np.ndarray

    @classmethod
    def fit(cls, ref, iqr_divisor: float = 1.0, std_fallback: bool = False) -> "RobustZ":
        """Median and ``IQR / iqr_divisor`` of ``ref`` (per column when 2-D). A spread ``<= 1e-12``
        (constant scores) falls back to the standard deviation when ``std_fallback``, else to 1.

        ``iqr_divisor=1.349`` makes the scale the standard deviation of a normal distribution."""
        ref = np.asarray(ref)
        center = np.median(ref, axis=0)
        spread = np.subtract(*np.percentile(ref, [75, 25], axis=0))
        if iqr_divisor != 1.0:
            spread = spread / float(iqr_divisor)
        if std_fallback:
            spread = np.where(spread > 1e-12, spread, np.std(ref, axis=0))
        scale = np.where(spread > 1e-12, spread, 1.0)
        if ref.ndim == 1:
            return cls(float(center), float(scale))
        return cls(center, scale)

    def __call__(self, v) -> np.ndarray:
        """The z-scores of ``v``."""
        return (np.asarray(v) - self.center) / self.scale

    transform = __call__

    def params(self) -> tuple:
        """``(center, scale)``, e.g. to store."""
        return self.center, self.scale


def fuse(parts: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None,
         z: Mapping[str, RobustZ] | None = None) -> np.ndarray:
    """One score from several parts: ``sum_k weights[k] * part_k``, in the order of ``weights``.

    ``weights=None`` gives the plain mean of the parts. With ``z``, each part is raw and z-scored
    here as ``weights[k] * (part_k - center) / scale`` (the weight multiplies before the scale
    divides: the arithmetic the cycle detectors were fitted and saved with).

    Example
    -------
    >>> fuse({"a": np.array([1.0, 3.0]), "b": np.array([3.0, 5.0])}).tolist()
    [2.0, 4.0]
    >>> fuse({"x": np.array([4.0])}, {"x": 2.0}, z={"x": RobustZ(2.0, 4.0)}).tolist()
    [1.0]
    """
    if weights is None:
        return np.mean([parts[k] if z is None else z[k](parts[k]) for k in parts], axis=0)
    total = None
    for k, w in weights.items():
        if z is None:
            term = w * np.asarray(parts[k])
        else:
            term = w * (np.asarray(parts[k]) - z[k].center) / z[k].scale
        total = term if total is None else total + term
    if total is None:
        raise ValueError("fuse needs at least one weighted part")
    return total
