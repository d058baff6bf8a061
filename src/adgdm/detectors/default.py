"""``diffusion``: the recommended default, an ensemble of diffusion scores of different kinds."""
from __future__ import annotations

import numpy as np

from .base import BaseDetector
from .registry import make_detector


def _normalise(scores: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Put one member's scores on a common scale: log, then robust z-score against its training scores."""
    ls, lr = np.log(np.maximum(scores, 0) + 1e-12), np.log(np.maximum(ref, 0) + 1e-12)
    med = np.median(lr)
    spread = np.subtract(*np.percentile(lr, [75, 25]))
    return (ls - med) / (spread if spread > 1e-12 else 1.0)


class DiffusionDetector(BaseDetector):
    """Recommended default: averages normalised scores of ``members`` (detector spec strings).

    By default it combines a local, non-parametric view (``dte-np``: diffusion time from the nearest
    normal rows) with a learned one (``ddpm`` noise-prediction error), which err on different rows.

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> det = DiffusionDetector(random_state=0).fit(X[y == 1])          # doctest: +SKIP
    >>> det.decision_function(X[y == 0]).mean() > det.threshold_        # doctest: +SKIP
    True
    """

    name = "diffusion"

    def __init__(self, members: tuple = ("dte-np", "ddpm:score=noise"), weights: tuple | None = None,
                 standardize: bool = True, contamination: float = 0.1, device: str = "cpu",
                 random_state=None, verbose: bool = False):
        self.members = members
        self.weights = weights
        self.standardize = standardize
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        super()._check_params()
        if isinstance(self.members, str) or not len(self.members):
            raise ValueError(f"members must be a non-empty sequence of detector specs, got {self.members!r}")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ValueError(f"weights has {len(self.weights)} values for {len(self.members)} members")

    def _make_members(self):
        common = dict(contamination=self.contamination, device=self.device, random_state=self.random_state,
                      verbose=self.verbose, standardize=False)  # rows arrive standardised already
        return [make_detector(spec, **common) for spec in self.members]

    def _fit(self, X):
        self.members_ = [m.fit(X) for m in self._make_members()]
        return self._combine([m.decision_scores_ for m in self.members_])

    def _combine(self, member_scores):
        w = np.ones(len(member_scores)) if self.weights is None else np.asarray(self.weights, dtype=float)
        z = [_normalise(s, m.decision_scores_) for s, m in zip(member_scores, self.members_)]
        return np.tensordot(w / w.sum(), np.stack(z), axes=1)

    def _score(self, X):
        return self._combine([m._score(X) for m in self.members_])

    def _get_state(self):
        meta, arrays = {"members": []}, {}
        for i, m in enumerate(self.members_):
            m_meta, m_arrays = m._get_state()
            m_meta = dict(m_meta, n_features_in_=m.n_features_in_, threshold_=m.threshold_)
            meta["members"].append({"detector": m.name, "params": m.get_params(), "fitted": m_meta})
            arrays.update({f"m{i}.{k}": v for k, v in m_arrays.items()})
            arrays[f"m{i}.decision_scores_"] = m.decision_scores_
        return meta, arrays

    def _set_state(self, meta, arrays):
        from .registry import detector_class

        self.members_ = []
        for i, spec in enumerate(meta["members"]):
            sub = {k[len(f"m{i}."):]: v for k, v in arrays.items() if k.startswith(f"m{i}.")}
            cfg = {"params": spec["params"], "fitted": spec["fitted"]}
            self.members_.append(detector_class(spec["detector"])._from_saved(cfg, sub))
