"""``cycle``: the detection-generation cycle as one detector.

1. fit the unsupervised ``diffusion`` detector and a ``ddpm`` generator on the normal rows;
2. synthesise anomalies (``local``, ``masked``, ``dependency``) and keep those the detector scores
   above the ``band`` quantile of normal rows (the rest look normal: label noise);
3. train a gradient-boosted "generic" classifier on normals vs the kept anomalies;
4. with real anomalies in ``y`` (few-shot): fit a label-conditioned diffusion model, sample
   anomalies like them with classifier-free guidance, and train a "few-shot" classifier on
   normals vs real + conditional anomalies;
5. score = robust z of the diffusion score + weighted robust z of each classifier's log-odds, all
   against normal rows (classifiers' from out-of-fold predictions). Weights: 1 and 0 zero-shot;
   few-shot, the pair whose out-of-fold scores best separate the real anomalies from normals;
6. optional further ``rounds``: the combined detector judges a new batch of generated anomalies
   and the generic classifier is retrained on all of them.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from ..._torch import seed_of
from ..._params import store_params
from ...scores.fusion import RobustZ, fuse
from ..trees import ExportedTrees
from ..base import BaseDetector, nested_state, restore_nested
from .ddpm import DDPMDetector
from .diffusion import DiffusionDetector


GENERATOR_KINDS = ("ddpm", "tabddpm")


def make_generator(steps: int = 1500, width: int = 128, seed=None, kind: str = "ddpm"):
    """The generator ``cycle`` trains: ``steps`` optimiser steps whatever the data size.
    ``kind="ddpm"``: Gaussian diffusion over every column, quantile-normal continuous columns
    (TabDDPM's preprocessing), discrete columns snapped to their levels after sampling;
    ``"tabddpm"``: the mixed-type model (its defaults: multinomial diffusion for declared /
    text columns, Gaussian for numeric ones, EMA weights).

    Example
    -------
    >>> type(make_generator(100, kind="tabddpm")).__name__
    'TabDDPMDetector'
    """
    if kind == "ddpm":
        return DDPMDetector(max_steps=steps, epochs=1_000_000, width=width, preprocess="quantile", random_state=seed)
    if kind == "tabddpm":
        from .tabddpm import TabDDPMDetector

        return TabDDPMDetector(max_steps=steps, width=width, random_state=seed)
    raise ValueError(f"unknown generator kind {kind!r}; choose one of {', '.join(GENERATOR_KINDS)}")


def log_odds(clf, X) -> np.ndarray:
    """A binary classifier's log-odds of class 1, clipped away from 0 and 1."""
    p = np.clip(clf.predict_proba(X)[:, 1], 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


class CycleDetector(BaseDetector):
    """Diffusion score + a classifier trained on diffusion-generated anomalies (zero- or few-shot).

    Parameters
    ----------
    n_generated : anomalies synthesised per round (``"auto"``: as many as normal rows used by the
        classifier, at least 500).
    severity : range of severities drawn for ``local`` and ``masked`` samples.
    band : lower quantile of the normal diffusion scores a generated row must exceed to be kept.
    weight : weight of the classifiers' z-scores in the sum (``"auto"``: see step 5 above).
    rounds : generation rounds; from the second on the combined detector keeps the hard samples.
    max_classifier_rows : cap on the normal rows the classifier sees (a random subset).
    generator_steps : training steps of the ``ddpm`` generator (and the conditional one).
    generator_kind : ``"ddpm"`` or ``"tabddpm"`` (mixed-type: categorical columns through
        multinomial diffusion), see :func:`make_generator`.

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
    training_scores = "leave-one-out (diffusion) and out-of-fold (classifier)"

    def __init__(self, n_generated="auto", kinds: tuple = ("local", "masked", "dependency"),
                 severity: tuple = (0.5, 1.5), band: float = 0.9, weight="auto", rounds: int = 1,
                 max_classifier_rows: int = 10_000, generator_steps: int = 1500, generator_width: int = 128,
                 guidance_scale: float = 2.0, contamination: float = 0.1, generator_kind: str = "ddpm",
                 random_state=None):
        store_params(self, locals())

    def _check_params(self):
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if self.weight != "auto" and not float(self.weight) >= 0:
            raise ValueError(f"weight must be 'auto' or a number >= 0, got {self.weight}")
        if self.generator_kind not in GENERATOR_KINDS:
            raise ValueError(f"generator_kind must be one of {', '.join(GENERATOR_KINDS)}, got {self.generator_kind!r}")
        if int(self.rounds) < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if not 0.0 <= float(self.band) < 1.0:
            raise ValueError(f"band must be a quantile in [0, 1), got {self.band}")
        from ...generation import TABULAR_KINDS

        bad = [k for k in self.kinds if k not in ("local", "masked", "dependency", "global", "clustered")]
        if bad or not len(self.kinds):
            raise ValueError(f"kinds must be a non-empty subset of local, masked, dependency, global, clustered; "
                             f"got {self.kinds} (all kinds: {TABULAR_KINDS})")
        lo, hi = self.severity
        if not 0 <= float(lo) <= float(hi):
            raise ValueError(f"severity must be a range (low, high) with 0 <= low <= high, got {self.severity}")

    # ---------------------------------------------------------------------------------------------
    _fit_takes_y = True  # fit(X, y): rows with y == 1 are real anomalies (few-shot), the rest normal

    def fit_reusing(self, X, y=None, base=None, generator=None, reuse=None):
        """``fit(X, y)`` reusing fitted parts: ``base`` (a fitted ``diffusion`` detector) and
        ``generator`` (a fitted ``ddpm`` or ``tabddpm`` detector), both fitted on the normal rows of
        ``X``; or ``reuse``, a ``cycle`` fitted on the same normal rows with the same settings, which
        lends its generic stage (base, generator, generated anomalies and their classifier): only
        the few-shot stage runs."""
        if reuse is not None:
            base, generator = reuse.base_, reuse.generator_
        self._reuse = (base, generator, reuse)
        try:
            return self.fit(X, y)
        finally:
            self.__dict__.pop("_reuse", None)

    def _fit(self, arr, y=None):
        """Fit on normal rows ``arr``; rows with ``y == 1`` are real anomalies (few-shot), the rest
        normal (``fit(X, y)``)."""
        base, generator, reuse = self.__dict__.pop("_reuse", (None, None, None))
        for name in ("conditional_",):
            self.__dict__.pop(name, None)
        if y is None:
            y = np.zeros(len(arr), dtype=int)
        y = np.asarray(y).astype(int).ravel()
        if y.shape != (len(arr),) or not set(np.unique(y)) <= {0, 1}:
            raise ValueError(f"y must be 0/1 per row of X ({len(arr)} rows)")
        Xn, Xa = arr[y == 0], arr[y == 1]
        self.feature_median_ = np.median(Xn, axis=0)  # occlusion's neutral values: those of the normal rows
        if len(Xn) < 10:
            raise ValueError(f"cycle needs at least 10 normal rows, got {len(Xn)} (n_samples={len(arr)})")
        seed = seed_of(self.random_state)
        rng = np.random.default_rng(seed)
        if base is None:  # the base's scores are used, not its threshold: no cross-fitted calibration
            base = DiffusionDetector(contamination=self.contamination, calibration="train").fit(Xn)
        self.base_ = base
        self.generator_ = generator if generator is not None else make_generator(
            int(self.generator_steps), int(self.generator_width), seed, kind=self.generator_kind).fit(Xn)
        for name, part in (("base", self.base_), ("generator", self.generator_)):
            if getattr(part, "n_features_in_", None) != arr.shape[1]:
                raise ValueError(f"{name} must be fitted on the normal rows of X ({arr.shape[1]} features)")
        self.base_center_, self.base_scale_ = RobustZ.fit(self.base_.decision_scores_).params()
        cls_idx = np.arange(len(Xn)) if len(Xn) <= self.max_classifier_rows else np.sort(
            rng.choice(len(Xn), int(self.max_classifier_rows), replace=False))
        self._cls_idx = cls_idx
        n_gen = max(500, len(cls_idx)) if self.n_generated == "auto" else int(self.n_generated)
        self.n_real_anomalies_ = len(Xa)
        self.generation_report_ = []
        self.weights_ = {"generic": 1.0 if self.weight == "auto" else float(self.weight), "few_shot": 0.0}
        self.heads_ = {}
        if reuse is not None:
            if not np.array_equal(reuse._cls_idx, cls_idx) or reuse.get_params() != self.get_params():
                raise ValueError("reuse= must be a cycle fitted on the same normal rows with the same parameters")
            self.heads_["generic"] = reuse.heads_["generic"]
            self.generation_report_ = [r for r in reuse.generation_report_ if r["source"] == "generic"]
        else:
            pool = self._generate(Xn, n_gen, rng, seed, judge=self.base_)
            for r in range(1, int(self.rounds)):
                self.heads_["generic"] = self._head(Xn[cls_idx], pool, None, seed)
                self._refresh(Xn)
                pool = np.vstack([pool, self._generate(Xn, n_gen, rng, seed + r, judge=self)])
            self.heads_["generic"] = self._head(Xn[cls_idx], pool, None, seed)
        if len(Xa):
            cond = self._conditional(Xn, Xa, n_gen, seed)
            self.heads_["few_shot"] = self._head(Xn[cls_idx], cond, Xa, seed)
            self._choose_weights(Xa)
        return self._train_scores(Xn)

    def _train_scores(self, Xn) -> np.ndarray:
        return self._combine(self.base_.decision_scores_, {k: self._normal_logits(k, Xn) for k in self.heads_})

    def _refresh(self, Xn):
        """Between generation rounds: the combined detector so far judges the next round's samples."""
        self._finish_fit(self._train_scores(Xn))

    def _generate(self, Xn, n_gen, rng, seed, judge) -> np.ndarray:
        from ...generation import generate_anomalies

        per = int(np.ceil(n_gen / len(self.kinds)))
        lo, hi = (float(v) for v in self.severity)
        parts = []
        for j, kind in enumerate(self.kinds):
            s = seed * 31 + j
            if kind in ("local", "masked"):
                sev = rng.uniform(lo, hi, size=per)
                part = np.vstack([generate_anomalies(self.generator_, Xn, len(idx), kind=kind, severity=float(v),
                                                     random_state=s + i)
                                  for i, (v, idx) in enumerate(_groups(sev))])
            else:
                part = generate_anomalies(None, Xn, per, kind=kind, severity=float(rng.uniform(lo, hi)), random_state=s)
            parts.append(part)
        return self._keep(np.vstack(parts), judge)

    def _keep(self, G, judge, source: str = "generic") -> np.ndarray:
        from ...generation import filter_by_detector

        res = filter_by_detector(judge, G, band=(float(self.band), None))
        self.generation_report_.append({"source": source, "judge": judge.name, "generated": res.n_generated,
                                        "kept": res.n_kept})
        if res.n_kept < 10:  # nothing passed: keep the farthest tenth rather than train on nothing
            return G[np.argsort(res.scores)[-max(10, len(G) // 10):]]
        return res.X

    def _conditional(self, Xn, Xa, n_gen, seed) -> np.ndarray:
        """Few-shot: anomalies like the real ones, from a label-conditioned model (guided)."""
        from ...generation import ConditionalDiffusion, generate_anomalies

        self.conditional_ = ConditionalDiffusion(width=int(self.generator_width), depth=2,
                                                 max_steps=int(self.generator_steps), random_state=seed)
        self.conditional_.fit(np.vstack([Xn, Xa]), np.r_[np.zeros(len(Xn)), np.ones(len(Xa))])
        G = generate_anomalies(self.conditional_, Xn, max(len(Xa), n_gen // 2), kind="conditional",
                               guidance_scale=self.guidance_scale, random_state=seed + 17)
        return self._keep(G, self.base_, source="conditional")

    def _head(self, normals, generated, Xa, seed) -> dict:
        """A boosted-tree classifier of normals vs anomalies, with out-of-fold log-odds of the
        normal rows and of each real anomaly (every copy of a real anomaly shares one fold, so it
        is never scored by a model that saw it). Real anomalies are repeated to weigh as much,
        together, as the generated ones (repetition, not sample weights: weighted binning is slow
        in scikit-learn's boosted trees)."""
        k = 0 if Xa is None else len(Xa)
        reps = max(1, len(generated) // k) if k else 0
        Xc = np.vstack([normals, generated] + ([np.repeat(Xa, reps, axis=0)] if k else []))
        yc = np.r_[np.zeros(len(normals)), np.ones(len(Xc) - len(normals))]
        make = lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=31,  # noqa: E731
                                                      l2_regularization=1.0, random_state=seed)
        model = ExportedTrees.from_sklearn(make().fit(Xc, yc))  # scores exactly as a saved and loaded cycle
        fold = np.random.default_rng(seed).integers(0, 5, size=len(Xc))
        if k:
            fold[len(normals) + len(generated):] = np.repeat(np.arange(k) % 5, reps)
        oof = np.empty(len(Xc))
        for f in range(5):
            te = fold == f
            if te.any() and len(np.unique(yc[~te])) == 2:
                oof[te] = log_odds(make().fit(Xc[~te], yc[~te]), Xc[te])
            else:
                oof[te] = log_odds(model, Xc[te])
        center, scale = RobustZ.fit(oof[: len(normals)]).params()
        return {"model": model, "oof_normals": oof[: len(normals)], "center": center, "scale": scale,
                "oof_real": oof[len(normals) + len(generated):][::reps] if k else None}

    def _choose_weights(self, Xa) -> None:
        """With real anomalies: the weights of the two classifier z-scores (small grids) whose
        out-of-fold scores best separate the real anomalies from the normal rows. The diffusion
        score saw neither (leave-one-out for normals); the generic head never saw real anomalies."""
        if self.weight != "auto":
            self.weights_["few_shot"] = float(self.weight)
            return
        idx = self._cls_idx
        zb = RobustZ(self.base_center_, self.base_scale_)(np.r_[self.base_.decision_scores_[idx],
                                                                self.base_.decision_function(Xa)])
        g, f = self.heads_["generic"], self.heads_["few_shot"]
        zg = RobustZ(g["center"], g["scale"])(np.r_[g["oof_normals"], log_odds(g["model"], Xa)])
        zf = RobustZ(f["center"], f["scale"])(np.r_[f["oof_normals"], f["oof_real"]])
        lab = np.r_[np.zeros(len(idx)), np.ones(len(Xa))]
        best, self.weight_scores_ = None, {}
        for wg in (0.0, 0.5, 1.0):
            for wf in (0.0, 0.5, 1.0, 2.0, 4.0, 16.0):
                auc = roc_auc_score(lab, fuse({"base": zb, "generic": zg, "few_shot": zf},
                                              {"base": 1.0, "generic": wg, "few_shot": wf}))
                self.weight_scores_[(wg, wf)] = round(float(auc), 4)
                if best is None or auc > best[0] + 1e-9:
                    best = (auc, wg, wf)
        self.weights_ = {"generic": best[1], "few_shot": best[2]}

    def _normal_logits(self, head: str, Xn) -> np.ndarray:
        """A head's log-odds for every training normal: out-of-fold where the row was in its
        training set, direct otherwise."""
        h = self.heads_[head]
        if len(self._cls_idx) == len(Xn):
            return h["oof_normals"]
        out = log_odds(h["model"], Xn)
        out[self._cls_idx] = h["oof_normals"]
        return out

    def _combine(self, base_scores, logits: dict) -> np.ndarray:
        parts = dict(logits, base=base_scores)
        z = {name: RobustZ(h["center"], h["scale"]) for name, h in self.heads_.items()}
        z["base"] = RobustZ(self.base_center_, self.base_scale_)
        # a fixed order: a loaded model sums exactly as the fitted one
        weights = dict({"base": 1.0}, **{name: self.weights_[name] for name in sorted(logits)})
        return fuse(parts, weights, z=z)

    def _score(self, X):
        return self._combine(self.base_.decision_function(X),
                             {k: log_odds(h["model"], X) for k, h in self.heads_.items()})

    # --- persistence: the scoring parts (diffusion detector, classifier trees, scales, weights) ---
    def _get_state(self):
        bmeta, arrays = nested_state(self.base_, "base")
        meta = {"base": dict(bmeta, params=self.base_.get_params()),
                "base_center_": self.base_center_, "base_scale_": self.base_scale_,
                "weights_": self.weights_, "heads": {k: {"center": h["center"], "scale": h["scale"]}
                                                     for k, h in self.heads_.items()},
                "generation_report_": self.generation_report_, "n_real_anomalies_": self.n_real_anomalies_}
        for name, h in self.heads_.items():
            arrays.update({f"head.{name}.{k}": v for k, v in h["model"].arrays.items()})
        return meta, arrays

    def _set_state(self, meta, arrays):
        self.base_ = restore_nested(DiffusionDetector, meta["base"]["params"], meta["base"], arrays, "base")
        self.base_center_, self.base_scale_ = float(meta["base_center_"]), float(meta["base_scale_"])
        self.weights_ = {k: float(v) for k, v in meta["weights_"].items()}
        self.generation_report_ = list(meta.get("generation_report_", []))
        self.n_real_anomalies_ = int(meta.get("n_real_anomalies_", 0))
        self.heads_ = {}
        for name, h in meta["heads"].items():
            pre = f"head.{name}."
            trees = ExportedTrees({k[len(pre):]: v for k, v in arrays.items() if k.startswith(pre)})
            if int(trees.arrays["n_features"][0]) != self.base_.n_features_in_:
                raise ValueError(f"classifier {name!r} expects {int(trees.arrays['n_features'][0])} features")
            self.heads_[name] = {"model": trees, "center": float(h["center"]), "scale": float(h["scale"])}
        if self.base_.n_features_in_ != self.n_features_in_:
            raise ValueError("the diffusion detector's feature count differs from the cycle's")


def _groups(sev: np.ndarray):
    """(severity, indices) groups on a grid of 0.05, so rows with one severity share a chain."""
    g = np.round(sev / 0.05) * 0.05
    for v in np.unique(g):
        yield v, np.flatnonzero(g == v)
