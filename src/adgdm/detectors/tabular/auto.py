"""``auto`` for tables and ``table-fuse`` (issue 32): see :mod:`adgdm.detectors.auto`.

The anomaly kinds are model-free, so choosing costs the candidates' fits and no generator:

* ``local``: a normal row moved by Gaussian noise three times the spread of its 10 nearest
  neighbours, per feature (ADBench's local anomalies: a normal component with a wider covariance);
* ``global``: uniform draws in the range of the data, widened, away from every normal row;
* ``dependency``: each column from a different normal row (the marginals kept, the relations broken);
* ``clustered``: a tight group of rows shifted together away from the data;
* ``masked``: a normal row with a random 30 % of its columns taken from another normal row.
"""
from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from ..._params import store_params
from ...scores.fusion import RobustZ
from ..auto import AutoBase
from ..base import BaseDetector
from ..registry import parts_state, restore_parts

__all__ = ["TableAuto", "TableFusion"]


def _local(ref: np.ndarray, base: np.ndarray, n: int, rng) -> np.ndarray:
    k = min(10, len(ref) - 1)
    rows = base[rng.integers(0, len(base), n)]
    nn = NearestNeighbors(n_neighbors=k).fit(ref)
    idx = nn.kneighbors(rows, return_distance=False)
    spread = ref[idx].std(axis=1) + 1e-3 * (ref.std(axis=0) + 1e-12)
    return rows + 3.0 * spread * rng.normal(size=rows.shape)


def _masked(base: np.ndarray, n: int, rng, fraction: float = 0.3) -> np.ndarray:
    rows = base[rng.integers(0, len(base), n)].copy()
    donors = base[rng.integers(0, len(base), n)]
    d = base.shape[1]
    m = max(1, int(round(fraction * d)))
    for i in range(n):
        cols = rng.choice(d, m, replace=False)
        rows[i, cols] = donors[i, cols]
    return rows


class TableAuto(AutoBase):
    """``auto`` for tables: chooses among ``diffusion``, ``dte-np``, ``pyod-knn``,
    ``pyod-iforest`` (and their fusion) on anomalies generated out of the normal rows.

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> det = TableAuto(random_state=0, n_anomalies=100).fit(X[y == 1])
    >>> det.chosen_ in det.selection_["table"]
    True
    >>> print(det.selection_table())                                    # doctest: +SKIP
    """

    name = "auto"
    default_candidates = ("diffusion", "dte-np", "pyod-knn", "pyod-iforest")
    kinds_all = ("local", "global", "dependency", "clustered", "masked")

    def _anomalies(self, ref, base, kind, n, rng):
        from ...generation.anomalies import _clustered, _dependency, _global

        if kind == "local":
            return _local(ref, base, n, rng)
        if kind == "global":
            return _global(base, n, 1.0, rng)
        if kind == "dependency":
            return _dependency(base, n, rng)
        if kind == "clustered":
            return _clustered(base, n, 1.0, rng)
        return _masked(base, n, rng)

    def _fuse_spec(self, parts):
        return "table-fuse:parts=" + "+".join(p.replace(",", "&") for p in parts)

    def _fit(self, data):
        self._clean = {}  # the held-out normal rows' scores, once per candidate (not once per kind)
        try:
            return super()._fit(data)
        finally:
            del self._clean

    def _judge(self, spec, det, X_eval, y, kind, fit_part=None):
        n0 = int((y == 0).sum())  # _evaluation puts the clean rows first
        if spec not in self._clean:
            self._clean[spec] = det.decision_function(X_eval[:n0])
        return np.concatenate([self._clean[spec], det.decision_function(X_eval[n0:])])


class TableFusion(BaseDetector):
    """``table-fuse``: the mean of the robust z-scores of several table detectors (their training
    scores set each z-scale).

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> det = TableFusion("diffusion+pyod-knn").fit(X[y == 1])
    >>> det.decision_function(X[:3]).shape
    (3,)
    """

    name = "table-fuse"
    training_scores = "its parts' training scores, fused"

    def __init__(self, parts: str = "diffusion+dte-np", contamination: float = 0.1, random_state=None):
        store_params(self, locals())

    def _specs(self) -> list[str]:
        specs = [p.strip().replace("&", ",") for p in str(self.parts).split("+") if p.strip()]
        if len(specs) < 2:
            raise ValueError(f"parts must name two or more table detector specs joined by '+', got {self.parts!r}")
        return specs

    def _check_params(self):
        super()._check_params()
        self._specs()

    def _fit(self, X):
        from ..registry import make_detector

        self.parts_ = [make_detector(s, random_state=self.random_state).fit(X) for s in self._specs()]
        self.z_ = [RobustZ.fit(p.decision_scores_, std_fallback=True) for p in self.parts_]
        return self._fuse([p.decision_scores_ for p in self.parts_])

    def _fuse(self, scores):
        return sum(z(s) for z, s in zip(self.z_, scores)) / len(scores)

    def _score(self, X):
        return self._fuse([p.decision_function(X) for p in self.parts_])

    def _get_state(self):
        parts, arrays = parts_state(self.parts_)
        return {"z": [[z.center, z.scale] for z in self.z_], "parts": parts}, arrays

    def _set_state(self, f, arrays):
        self.z_ = [RobustZ(float(c), float(s)) for c, s in f["z"]]
        self.parts_ = restore_parts(f["parts"], arrays)
