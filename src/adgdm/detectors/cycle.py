"""``cycle``: the detection-generation cycle as one detector.

1. fit the unsupervised ``diffusion`` detector and a ``ddpm`` generator on the normal rows;
2. synthesise anomalies (``local``, ``masked``, ``dependency``; with real anomalies in ``y``, also
   ``conditional`` few-shot samples from a label-conditioned model) and keep those the detector
   scores above the ``band`` quantile of normal rows (the rest look normal: label noise);
3. train a gradient-boosted classifier on normals vs kept anomalies (+ the real ones);
4. score = robust z of the diffusion score + ``weight`` x robust z of the classifier's log-odds,
   both against normal rows (the classifier's from out-of-fold predictions);
5. optional further ``rounds``: the combined detector filters a new batch of generated anomalies
   (the hard ones, inside the normal score band's tail) and the classifier is retrained.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold

from .._torch import seed_of
from .._validation import check_tabular
from ._neural import store_params
from .base import BaseDetector
from .ddpm import DDPMDetector
from .default import DiffusionDetector


def _robust(ref: np.ndarray):
    med = float(np.median(ref))
    iqr = float(np.subtract(*np.percentile(ref, [75, 25])))
    return med, (iqr if iqr > 1e-12 else 1.0)


class CycleDetector(BaseDetector):
    """Diffusion score + a classifier trained on diffusion-generated anomalies (zero- or few-shot).

    Parameters
    ----------
    n_generated : anomalies synthesised per round (``"auto"``: as many as normal rows used by the
        classifier, at least 500).
    severity : range of severities drawn for ``local`` and ``masked`` samples.
    band : lower quantile of the normal diffusion scores a generated row must exceed to be kept.
    weight : weight of the classifier's z-score in the sum.
    rounds : generation rounds; from the second on the combined detector keeps the hard samples.
    max_classifier_rows : cap on the normal rows the classifier sees (a random subset).
    generator_steps : training steps of the ``ddpm`` generator (and the conditional one).

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> y = 1 - y                                           # malignant = anomaly
    >>> det = CycleDetector(generator_steps=200, n_generated=300, random_state=0).fit(X[y == 0][:250])
    >>> s = det.decision_function(X[250:])
    >>> bool(s[y[250:] == 1].mean() > s[y[250:] == 0].mean())
    True
    """

    name = "cycle"

    def __init__(self, n_generated="auto", kinds: tuple = ("local", "masked", "dependency"),
                 severity: tuple = (0.5, 1.5), band: float = 0.9, weight: float = 1.0, rounds: int = 1,
                 max_classifier_rows: int = 10_000, generator_steps: int = 1500, generator_width: int = 128,
                 guidance_scale: float = 2.0, contamination: float = 0.1, random_state=None):
        store_params(self, locals())

    def _check_params(self):
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if int(self.rounds) < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if not 0.0 <= float(self.band) < 1.0:
            raise ValueError(f"band must be a quantile in [0, 1), got {self.band}")
        from ..generation import TABULAR_KINDS

        bad = [k for k in self.kinds if k not in ("local", "masked", "dependency", "global", "clustered")]
        if bad or not len(self.kinds):
            raise ValueError(f"kinds must be a non-empty subset of local, masked, dependency, global, clustered; "
                             f"got {self.kinds} (all kinds: {TABULAR_KINDS})")
        lo, hi = self.severity
        if not 0 <= float(lo) <= float(hi):
            raise ValueError(f"severity must be a range (low, high) with 0 <= low <= high, got {self.severity}")

    # ---------------------------------------------------------------------------------------------
    def fit(self, X, y=None, base=None, generator=None):
        """Fit on normal rows ``X``; rows with ``y == 1`` are real anomalies (few-shot), the rest normal.

        ``base`` (a fitted ``diffusion`` detector) and ``generator`` (a fitted ``ddpm`` detector) are
        reused when given; both must have been fitted on the normal rows of ``X``."""
        self._check_params()
        for name in ("conditional_",):
            self.__dict__.pop(name, None)
        arr, names = check_tabular(X)
        if y is None:
            y = np.zeros(len(arr), dtype=int)
        y = np.asarray(y).astype(int).ravel()
        if y.shape != (len(arr),) or not set(np.unique(y)) <= {0, 1}:
            raise ValueError(f"y must be 0/1 per row of X ({len(arr)} rows)")
        self.n_features_in_ = arr.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        Xn, Xa = arr[y == 0], arr[y == 1]
        if len(Xn) < 10:
            raise ValueError(f"cycle needs at least 10 normal rows, got {len(Xn)}")
        seed = seed_of(self.random_state)
        rng = np.random.default_rng(seed)
        self.base_ = base if base is not None else DiffusionDetector(contamination=self.contamination).fit(Xn)
        self.generator_ = generator if generator is not None else DDPMDetector(
            max_steps=int(self.generator_steps), width=int(self.generator_width), random_state=seed).fit(Xn)
        for name, part in (("base", self.base_), ("generator", self.generator_)):
            if getattr(part, "n_features_in_", None) != arr.shape[1]:
                raise ValueError(f"{name} must be fitted on the normal rows of X ({arr.shape[1]} features)")
        self.base_center_, self.base_scale_ = _robust(self.base_.decision_scores_)
        cls_rows = Xn if len(Xn) <= self.max_classifier_rows else Xn[rng.choice(len(Xn), self.max_classifier_rows,
                                                                              replace=False)]
        n_gen = max(500, len(cls_rows)) if self.n_generated == "auto" else int(self.n_generated)
        self.n_real_anomalies_ = len(Xa)
        self.generation_report_ = []
        pool = self._generate(Xn, Xa, n_gen, rng, seed, combined=False)
        for r in range(1, int(self.rounds)):
            self._train_classifier(cls_rows, pool, Xa, seed)
            self.decision_scores_ = self._combine(self.base_.decision_scores_, self._oof_logit_full(Xn, cls_rows))
            self._set_threshold()
            more = self._generate(Xn, Xa, n_gen, rng, seed + r, combined=True)
            pool = np.vstack([pool, more])
        self._train_classifier(cls_rows, pool, Xa, seed)
        self.decision_scores_ = self._combine(self.base_.decision_scores_, self._oof_logit_full(Xn, cls_rows))
        self._set_threshold()
        return self

    def _generate(self, Xn, Xa, n_gen, rng, seed, combined: bool) -> np.ndarray:
        from ..generation import filter_by_detector, generate_anomalies

        kinds = list(self.kinds) + (["conditional"] if len(Xa) else [])
        per = int(np.ceil(n_gen / len(kinds)))
        lo, hi = (float(v) for v in self.severity)
        parts = []
        for j, kind in enumerate(kinds):
            s = seed * 31 + j
            if kind in ("local", "masked"):
                sev = rng.uniform(lo, hi, size=per)
                part = np.vstack([generate_anomalies(self.generator_, Xn, len(idx), kind=kind, severity=float(v),
                                                     random_state=s + i)
                                  for i, (v, idx) in enumerate(_groups(sev))])
            elif kind == "conditional":
                if not hasattr(self, "conditional_"):
                    from ..generation import ConditionalDiffusion

                    self.conditional_ = ConditionalDiffusion(width=int(self.generator_width), depth=2,
                                                             max_steps=int(self.generator_steps), random_state=seed)
                    self.conditional_.fit(np.vstack([Xn, Xa]), np.r_[np.zeros(len(Xn)), np.ones(len(Xa))])
                part = generate_anomalies(self.conditional_, Xn, per, kind="conditional",
                                          guidance_scale=self.guidance_scale, random_state=s)
            else:
                part = generate_anomalies(None, Xn, per, kind=kind, severity=float(rng.uniform(lo, hi)), random_state=s)
            parts.append(part)
        G = np.vstack(parts)
        judge = self if combined else self.base_
        res = filter_by_detector(judge, G, band=(float(self.band), None))
        self.generation_report_.append({"round": len(self.generation_report_) + 1, "judge": judge.name,
                                        "generated": res.n_generated, "kept": res.n_kept})
        if res.n_kept < 10:  # nothing passed: keep the farthest tenth rather than train on nothing
            keep = np.argsort(res.scores)[-max(10, len(G) // 10):]
            return G[keep]
        return res.X

    def _train_classifier(self, normals, pool, Xa, seed):
        # real anomalies repeated to weigh as much, together, as the generated ones (repetition,
        # not sample weights: weighted binning is slow in scikit-learn's boosted trees)
        reps = max(1, len(pool) // len(Xa)) if len(Xa) else 0
        Xc = np.vstack([normals, pool] + ([np.repeat(Xa, reps, axis=0)] if reps else []))
        yc = np.r_[np.zeros(len(normals)), np.ones(len(Xc) - len(normals))]
        clf = lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=31,  # noqa: E731
                                                     l2_regularization=1.0,
                                                     random_state=seed)
        self.classifier_ = clf().fit(Xc, yc)
        # out-of-fold log-odds of the normal rows: how the classifier scores normals it did not see
        oof = np.empty(len(normals))
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        for tr, te in folds.split(Xc, yc):
            m = clf().fit(Xc[tr], yc[tr])
            te_n = te[te < len(normals)]
            oof[te_n] = self._logit(m, Xc[te_n])
        self.clf_center_, self.clf_scale_ = _robust(oof)
        self._oof_normals_ = oof

    @staticmethod
    def _logit(clf, X) -> np.ndarray:
        p = np.clip(clf.predict_proba(X)[:, 1], 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))

    def _oof_logit_full(self, Xn, cls_rows) -> np.ndarray:
        """Classifier log-odds for every training normal: out-of-fold where the row was in the
        classifier's training set, direct otherwise."""
        if len(cls_rows) == len(Xn):
            return self._oof_normals_
        # the subset used by the classifier is a random sample: score all rows directly, then put
        # the out-of-fold values in place for those that were trained on
        out = self._logit(self.classifier_, Xn)
        pos = {r.tobytes(): i for i, r in enumerate(cls_rows)}
        for i, r in enumerate(Xn):
            j = pos.get(r.tobytes())
            if j is not None:
                out[i] = self._oof_normals_[j]
        return out

    def _combine(self, base_scores, logits) -> np.ndarray:
        zb = (np.asarray(base_scores) - self.base_center_) / self.base_scale_
        zc = (np.asarray(logits) - self.clf_center_) / self.clf_scale_
        return zb + float(self.weight) * zc

    def _score(self, X):
        return self._combine(self.base_.decision_function(X), self._logit(self.classifier_, X))

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per row, higher = more anomalous."""
        self._check_fitted()
        arr, _ = check_tabular(X, self.n_features_in_, getattr(self, "feature_names_in_", None))
        return np.asarray(self._score(arr), dtype=np.float64)

    def _get_state(self):
        raise NotImplementedError("cycle detectors cannot be saved yet (the classifier has no safe weight format); "
                                  "refit from the data")


def _groups(sev: np.ndarray):
    """(severity, indices) groups on a grid of 0.05, so rows with one severity share a chain."""
    g = np.round(sev / 0.05) * 0.05
    for v in np.unique(g):
        yield v, np.flatnonzero(g == v)
