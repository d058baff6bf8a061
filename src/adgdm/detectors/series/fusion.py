"""``series-fuse``: several series detectors' evidence on one footing, added up.

Why a detector may combine evidence: the ideal denoiser of the training windows (``series``)
knows this series' own shapes exactly but nothing beyond its few hundred training steps; the
pretrained diffusion model (``series-pre``) knows how regular series continue in general but
not this one's quirks; a subspace score (``tsb-subpca``) sees departures from the training
windows' main directions. Their errors are not the same, so a weighted sum of their robust
z-scores can beat each. Which parts and weights: chosen by the leave-one-group-out protocol
(``adgdm bench series --protocol loco``), never on the labels reported.
"""
from __future__ import annotations

import numpy as np

from ..._params import store_params
from ...scores.fusion import RobustZ
from ..registry import parts_state, restore_parts
from .base import SeriesBase

__all__ = ["SeriesFusion"]


def _parse(parts: str, weights) -> tuple[list[str], list[float]]:
    # a part's own options are joined by "&" ("series-pre:align=center&smooth=200"): a "," would end
    # the fusion's parameter in a spec string
    specs = [p.strip().replace("&", ",") for p in str(parts).split("+") if p.strip()]
    if len(specs) < 2:
        raise ValueError(f"parts must name two or more detector specs joined by '+', got {parts!r}")
    if weights is None:
        w = [1.0] * len(specs)
    else:
        w = [float(v) for v in (str(weights).split("/") if isinstance(weights, str) else weights)]
    if len(w) != len(specs) or any(not np.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
        raise ValueError(f"weights must be {len(specs)} non-negative numbers (not all 0) joined by '/', got {weights!r}")
    return specs, w


class SeriesFusion(SeriesBase):
    """Weighted sum of the robust z-scores of several series detectors.

    Parameters
    ----------
    parts : detector specs joined by ``+`` (e.g. ``"series+series-pre"``); ``:`` options allowed,
        several joined by ``&`` (``"series:window=96+series-pre:align=center&smooth=200"``).
    weights : one weight per part joined by ``/`` (``"1/0.5"``) or a sequence; default equal.
    contamination : share of the fused training scores above ``threshold_``.
    alarm, alarm_depth, alarm_absorb : how ``predict`` flags steps: ``"static"`` (score above
        ``threshold_``) or ``"drift"`` (the drift-aware rule, see ``SeriesDiffusion``).

    Each part is fitted on the series; its training scores (out-of-sample for ``series``,
    cross-fitted, and ``series-pre``, zero-shot) give the median and interquartile range its
    scores are z-scored with.

    Example
    -------
    >>> t = np.arange(2000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=2000)
    >>> x[1800:1805] += 3.0
    >>> det = SeriesFusion("series:window=32+tsb-subpca:window=32").fit(x[:1500])
    >>> s = det.decision_function(x)
    >>> bool(s[1800:1805].max() > det.threshold_)
    True
    """

    name = "series-fuse"
    training_scores = "its parts' training scores, fused"

    def __init__(self, parts: str = "series+series-pre", weights=None, contamination: float = 0.01,
                 alarm: str = "static", alarm_depth: int = 100, alarm_absorb: int | None = 400, random_state=None):
        store_params(self, locals())

    def _check_params(self):
        _parse(self.parts, self.weights)
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        self._drift_rule()

    def _fit(self, arr):
        """Fit every part on the validated series ``(T, channels)``."""
        from ..registry import make_detector

        specs, _ = _parse(self.parts, self.weights)
        self.parts_ = [make_detector(s, random_state=self.random_state).fit(arr) for s in specs]
        self.z_ = [RobustZ.fit(p.decision_scores_, std_fallback=True) for p in self.parts_]
        return self._fuse([p.decision_scores_ for p in self.parts_])

    def _fuse(self, scores: list) -> np.ndarray:
        _, w = _parse(self.parts, self.weights)
        return sum(wi * z(s) for wi, z, s in zip(w, self.z_, scores)) / sum(w)

    def _input(self, X, fitting: bool):
        return self._series(X, fitting)

    def _score(self, arr):
        return self._fuse([p.decision_function(arr) for p in self.parts_])

    def _explain_model(self, arr):
        _, w = _parse(self.parts, self.weights)
        return sum(wi / z.scale * p.explain(arr) for wi, z, p in zip(w, self.z_, self.parts_)) / sum(w)

    def stream(self):
        """Not available: a fusion scores whole series (its parts stream with different delays)."""
        raise NotImplementedError("series-fuse scores whole series only; stream one of its parts "
                                  "(e.g. make_detector('series').fit(x).stream())")

    def _get_state(self):
        parts, arrays = parts_state(self.parts_)
        return {"z": [[z.center, z.scale] for z in self.z_], "parts": parts}, arrays

    def _set_state(self, f: dict, arrays: dict) -> None:
        self.z_ = [RobustZ(float(c), float(s)) for c, s in f["z"]]
        self.parts_ = restore_parts(f["parts"], arrays)
