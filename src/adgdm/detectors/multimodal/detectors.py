"""Multimodal detectors: records with several named modalities (images, texts, numbers), a score per
record (input format: :mod:`adgdm.modalities.multimodal`).

* ``mm-cross``: cross-modal conditional diffusion (learned): flags a record whose parts are each
  normal but do not go together (an image and a caption of different things);
* ``mm-late``: the tabular ``diffusion`` detector per modality, robust z-scores summed;
* ``mm-early``: the tabular ``diffusion`` detector on the concatenated embeddings;
* ``multimodal``: the recommended default; ``strategy`` sums the robust z-scores of any of the
  three. Default ``"cross"`` (= ``mm-cross``), chosen without test labels among cross, late, early
  and cross+late on synthetic anomalies built from training records (captions shuffled, images
  noised): ``benchmarks/results/multimodal_digits_captions.md``.

Every detector embeds each modality (:mod:`.embed`), fits its models and the embedding's
reduction on ``1 - cal_fraction`` of the training records and calibrates on the rest: the
z-scores' centres and scales, and ``threshold_`` (the calibration scores cross-fitted: each record
scored with z-scales set by the other calibration records' folds). ``predict_result(X).parts`` holds a part per model and modality
(``"cross:text"``, ``"late:image"``, ...), in z-score units; ``explain`` credits each modality with
the positive parts it appears in.

Example
-------
>>> rng = np.random.default_rng(0)
>>> a = rng.normal(size=(300, 4)); b = a @ rng.normal(size=(4, 4)) + 0.1 * rng.normal(size=(300, 4))
>>> det = make_detector("mm-cross", max_steps=300, random_state=0).fit({"a": a, "b": b})   # doctest: +SKIP
>>> det.decision_function({"a": a[:5], "b": b[::-1][:5]})                                   # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from ..._params import RENAMED
from ..._torch import seed_of
from ...scores import RobustZ
from ..base import BaseDetector, cross_fitted
from .embed import Embedder
from .models import CrossModel, EarlyModel, LateModel

__all__ = ["MultimodalBase", "MMCross", "MMLate", "MMEarly", "MultimodalDefault", "STRATEGIES"]

STRATEGIES = ("cross", "late", "early", "cross+late", "cross+early", "cross+late+early")


class MultimodalBase(BaseDetector):
    """Shared machinery: embed, split off the calibration records, fit the models, fuse."""

    modality = "multimodal"
    strategy = "cross"

    def _init_common(self, image_encoder, text_encoder, image_size, n_components, cal_fraction, contamination,
                     random_state):
        self.image_encoder, self.text_encoder, self.image_size = image_encoder, text_encoder, image_size
        self.n_components, self.cal_fraction = n_components, cal_fraction
        self.contamination, self.random_state = contamination, random_state

    def _strategy(self) -> str:
        return self.strategy

    def _check_params(self) -> None:
        super()._check_params()
        if not 0.05 <= float(self.cal_fraction) <= 0.5:
            raise ValueError(f"cal_fraction must lie in [0.05, 0.5], got {self.cal_fraction}")
        if self._strategy() not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self._strategy()!r}")

    def _cross_params(self) -> dict:
        keys = ("width", "depth", "max_steps", "batch_size", "lr", "cond_drop", "noise_levels", "n_repeats", "scoring")
        return {k: getattr(self, k) for k in keys if hasattr(self, k)}

    def _build(self, seed: int) -> list:
        models = []
        for kind in self._strategy().split("+"):
            if kind == "cross":
                models.append(CrossModel(**self._cross_params(), seed=seed))
            elif kind == "late":
                models.append(LateModel(**dict(getattr(self, "late_params", None) or {})))
            else:
                models.append(EarlyModel(**dict(getattr(self, "early_params", None) or {})))
        return models

    def _embedder(self) -> Embedder:
        emb = getattr(self, "embedder_", None)
        if emb is None:
            emb = self.embedder_ = Embedder(self.image_encoder, self.text_encoder, int(self.image_size),
                                            int(self.n_components))
        return emb

    def _fit(self, rec):
        """Embed, fit the models on the fit records only (the embedding's reduction too) and set the
        z-scales on the calibration records, cross-fitted (:func:`adgdm.detectors.base.cross_fitted`,
        by text group): no calibration score comes from a record the model or its scales fitted on."""
        self.seed_ = seed_of(self.random_state)
        if rec.n < 10:
            raise ValueError(f"{self.name} needs at least 10 training records, got {rec.n}")
        cal, fit, group = self._split(rec)
        self.embedder_ = None
        E = self._embedder().fit(rec.take(fit)).transform(rec)
        self.models_ = self._build(self.seed_)
        for m in self.models_:
            m.fit({k: v[fit] for k, v in E.items()})
        Ecal = {k: v[cal] for k, v in E.items()}

        def fit_stats(idx):
            sub = {k: v[idx] for k, v in Ecal.items()}
            for m in self.models_:
                m.calibrate(sub)
            self.model_z_ = {} if len(self.models_) == 1 else {
                m.kind: RobustZ.fit(sum(m.parts(sub).values()), std_fallback=True) for m in self.models_}

        score = lambda idx: self._fused({k: v[idx] for k, v in Ecal.items()})[0]  # noqa: E731
        self._cal_scores = np.asarray(cross_fitted(len(cal), fit_stats, score, groups=group[cal]), dtype=np.float64)
        return self._fused(E)[0]

    def _split(self, rec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(calibration, fit)`` record indices and each record's text group. Records are grouped by
        their texts: when texts repeat (captions from a few templates) the calibration records' texts
        are unseen at fit, so the calibration scores are those of new content, as at test time; else a
        plain random split (each record its own group)."""
        rng = np.random.default_rng(self.seed_)
        texts = [n for n, k in rec.kinds.items() if k == "text"]
        keys = ["\x00".join(rec.columns[n][i] for n in texts) for i in range(rec.n)] if texts else list(range(rec.n))
        uniq, group = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
        if len(uniq) >= 10 and len(uniq) < rec.n:
            held = rng.permutation(len(uniq))[: max(2, int(round(float(self.cal_fraction) * len(uniq))))]
            is_cal = np.isin(group, held)
            if 5 <= is_cal.sum() <= rec.n - 5:
                return np.flatnonzero(is_cal), np.flatnonzero(~is_cal), group
        perm = rng.permutation(rec.n)
        n_cal = max(5, int(round(float(self.cal_fraction) * rec.n)))
        return np.sort(perm[:n_cal]), np.sort(perm[n_cal:]), np.arange(rec.n)

    def _calibration_scores(self, data, train_scores):
        """The calibration records' cross-fitted scores (``_fit``)."""
        return self.__dict__.pop("_cal_scores")

    def _fused(self, E: dict) -> tuple[np.ndarray, dict]:
        parts, total = {}, 0.0
        for m in self.models_:
            p = m.parts(E)
            parts.update(p)
            s = sum(p.values())
            total = total + (self.model_z_[m.kind](s) if self.model_z_ else s)
        return np.asarray(total, dtype=np.float64), parts

    def _score(self, rec):
        return self._fused(self._embedder().transform(rec))[0]

    def _score_extras(self, rec):
        score, parts = self._fused(self._embedder().transform(rec))
        return score, {"parts": parts}

    def _explain_model(self, rec) -> np.ndarray:
        """``(n, n_modalities)``: per modality (fitted order), the positive parts it appears in."""
        _, parts = self._fused(self._embedder().transform(rec))
        names = [n for n, _, _ in self.modalities_]
        out = np.zeros((rec.n, len(names)))
        for key, v in parts.items():
            target = key.split(":", 1)[1]
            cols = range(len(names)) if target == "all" else [names.index(target)]
            for j in cols:
                out[:, j] += np.maximum(np.asarray(v, dtype=np.float64), 0.0) / (len(names) if target == "all" else 1)
        return out

    # --- persistence ------------------------------------------------------------------------------
    def _get_state(self):
        meta, arrays = self._embedder().state()
        meta["seed_"] = int(self.seed_)
        meta["model_z"] = {k: [float(z.center), float(z.scale)] for k, z in self.model_z_.items()}
        meta["models"] = {}
        for m in self.models_:
            mm, ma = m.state(f"model.{m.kind}")
            meta["models"][m.kind] = mm
            arrays.update(ma)
        return meta, arrays

    def _set_state(self, meta, arrays):
        self.seed_ = int(meta["seed_"])
        self.embedder_ = None
        self._embedder().restore(meta, arrays)
        self.model_z_ = {k: RobustZ(float(c), float(s)) for k, (c, s) in meta["model_z"].items()}
        self.models_ = self._build(self.seed_)
        for m in self.models_:
            m.restore(meta["models"][m.kind], arrays, f"model.{m.kind}")


_COMMON_DOC = """
    Common parameters: ``image_encoder`` (``"efficientnet"`` or ``"pixels"``), ``text_encoder``
    (``"minilm"`` or ``"hash"``), ``image_size`` (the extractor's input side), ``n_components``
    (numbers per modality after the fitted reduction), ``cal_fraction`` (training records held out
    to calibrate), ``contamination``, ``random_state``."""


class MMCross(MultimodalBase):
    """``mm-cross``: cross-modal conditional diffusion (see :class:`.models.CrossModel`).

    Per modality a ``ResidualMLP`` denoiser of its embedding conditioned on the others', trained
    classifier-free (``cond_drop``); part = conditional noise-prediction error (``scoring="cond"``),
    its excess over the unconditional one (``"gap"``) or both (``"cond+gap"``, the default: the
    conditional error sees a corrupted part, the gap a mismatch), averaged over ``noise_levels`` and
    ``n_repeats`` fixed noise draws; parts z-scored on held-out normal records and summed (both
    directions: image | text and text | image).

    Example
    -------
    >>> det = MMCross(max_steps=300, random_state=0).fit({"image": imgs, "text": captions})  # doctest: +SKIP
    >>> det.predict_result({"image": imgs[:3], "text": captions[::-1][:3]}).parts.keys()    # doctest: +SKIP
    dict_keys(['cross:image', 'cross-gap:image', 'cross:text', 'cross-gap:text'])
    """ + _COMMON_DOC

    name = "mm-cross"
    strategy = "cross"
    _renamed_params = RENAMED  # ``score`` -> ``scoring`` (the old name hid ``score()`` from scikit-learn)

    def __init__(self, width: int = 128, depth: int = 2, max_steps: int = 1500, batch_size: int = 128, lr: float = 2e-3,
                 cond_drop: float = 0.2, noise_levels: tuple = (0.05, 0.1, 0.2, 0.3), n_repeats: int = 2,
                 scoring: str = "cond+gap", image_encoder: str = "efficientnet", text_encoder: str = "minilm",
                 image_size: int = 64, n_components: int = 64, cal_fraction: float = 0.2,
                 contamination: float = 0.1, random_state=None):
        self.width, self.depth, self.max_steps, self.batch_size, self.lr = width, depth, max_steps, batch_size, lr
        self.cond_drop, self.noise_levels, self.n_repeats, self.scoring = cond_drop, noise_levels, n_repeats, scoring
        self._init_common(image_encoder, text_encoder, image_size, n_components, cal_fraction, contamination,
                          random_state)


class MMLate(MultimodalBase):
    """``mm-late``: late fusion, the tabular ``diffusion`` detector per modality (``late_params``
    are its parameters), robust z-scores calibrated on held-out normal records, summed.

    Example
    -------
    >>> MMLate(text_encoder="hash").fit({"x": np.random.rand(50, 3), "t": ["a b"] * 50}).threshold_  # doctest: +SKIP
    """ + _COMMON_DOC

    name = "mm-late"
    strategy = "late"

    def __init__(self, late_params: dict | None = None, image_encoder: str = "efficientnet",
                 text_encoder: str = "minilm", image_size: int = 64, n_components: int = 64,
                 cal_fraction: float = 0.2, contamination: float = 0.1, random_state=None):
        self.late_params = late_params
        self._init_common(image_encoder, text_encoder, image_size, n_components, cal_fraction, contamination,
                          random_state)


class MMEarly(MultimodalBase):
    """``mm-early``: early fusion, the tabular ``diffusion`` detector (``early_params``) on the
    concatenated embeddings, each modality's block weighted equally.

    Example
    -------
    >>> MMEarly(text_encoder="hash").fit({"x": np.random.rand(50, 3), "t": ["a b"] * 50}).threshold_  # doctest: +SKIP
    """ + _COMMON_DOC

    name = "mm-early"
    strategy = "early"

    def __init__(self, early_params: dict | None = None, image_encoder: str = "efficientnet",
                 text_encoder: str = "minilm", image_size: int = 64, n_components: int = 64,
                 cal_fraction: float = 0.2, contamination: float = 0.1, random_state=None):
        self.early_params = early_params
        self._init_common(image_encoder, text_encoder, image_size, n_components, cal_fraction, contamination,
                          random_state)


class MultimodalDefault(MultimodalBase):
    """``multimodal``: the recommended default. ``strategy`` names the models whose robust
    z-scores (on held-out normal records) are added: ``"cross"`` by default (selected without
    test labels, see the module docstring); ``"cross"``, ``"late"``, ``"early"`` and other sums of
    them (:data:`STRATEGIES`) are there too. The cross-modal model's parameters are ``mm-cross``'s.

    Example
    -------
    >>> det = MultimodalDefault(random_state=0).fit({"image": imgs, "text": captions})  # doctest: +SKIP
    >>> det.predict_result({"image": imgs[:3], "text": captions[:3]}).parts.keys()     # doctest: +SKIP
    dict_keys(['cross:image', 'cross-gap:image', 'cross:text', 'cross-gap:text'])
    """ + _COMMON_DOC

    name = "multimodal"
    _renamed_params = RENAMED  # ``score`` -> ``scoring`` (the old name hid ``score()`` from scikit-learn)

    def __init__(self, strategy: str = "cross", width: int = 128, depth: int = 2, max_steps: int = 1500,
                 batch_size: int = 128, lr: float = 2e-3, cond_drop: float = 0.2,
                 noise_levels: tuple = (0.05, 0.1, 0.2, 0.3), n_repeats: int = 2, scoring: str = "cond+gap",
                 late_params: dict | None = None, early_params: dict | None = None,
                 image_encoder: str = "efficientnet", text_encoder: str = "minilm", image_size: int = 64,
                 n_components: int = 64, cal_fraction: float = 0.2, contamination: float = 0.1, random_state=None):
        self.strategy = strategy
        self.width, self.depth, self.max_steps, self.batch_size, self.lr = width, depth, max_steps, batch_size, lr
        self.cond_drop, self.noise_levels, self.n_repeats, self.scoring = cond_drop, noise_levels, n_repeats, scoring
        self.late_params, self.early_params = late_params, early_params
        self._init_common(image_encoder, text_encoder, image_size, n_components, cal_fraction, contamination,
                          random_state)
