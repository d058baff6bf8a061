"""The contract every adgdm detector follows, for every modality (PyOD's, on scikit-learn's rules).

``fit(X)``; ``decision_function(X)`` (higher = more anomalous); ``predict(X)`` -> 0/1 through
``threshold_``, the ``1 - contamination`` quantile of the calibration scores (``calibration_scores_``:
training scores that behave like those of new normal data: held out, cross-fitted or leave-one-out,
so that about ``contamination`` of new normal data is flagged); ``predict_proba(X)``; ``labels_``; ``predict_result(X)`` (a typed
:class:`adgdm.results.Prediction`); ``save(path)`` / ``adgdm.load(path)``; ``explain(X)``.
``__init__`` only stores parameters, so ``sklearn.base.clone`` works. ``adgdm.thresholds`` sets
other thresholds (POT for unknown contamination, fixed) on a fitted detector.

What differs between modalities (validating the input, what a unit is, what is saved about the
input, occlusion) is the modality adapter's (``adgdm.modalities``); what differs between
detectors is ``_fit`` / ``_score`` and ``_get_state`` / ``_set_state``.

Example
-------
>>> import numpy as np, adgdm
>>> X = np.random.default_rng(0).normal(size=(200, 3))
>>> det = adgdm.make_detector("dte-np").fit(X)
>>> r = det.predict_result(X[:5])
>>> r.unit, r.score.shape, bool((r.label == det.predict(X[:5])).all())
('row', (5,), True)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .._params import accept_renamed, renamed_params
from .._validation import collect_extremes
from ..explain import check_baseline, check_explain_args
from ..io import ModelFileError, save_detector
from ..modalities import get_modality
from ..results import Prediction
from ..thresholds import _recorded_method, calibrated_proba, calibration_scores

__all__ = ["BaseDetector", "Fitted", "calibration_folds", "cross_fitted"]


class Fitted(NamedTuple):
    """What ``_fit`` may return: the training ``scores`` (``decision_scores_``) and which of them
    calibrate ``threshold_`` (``calibration``: an index or slice; or ``calibration_scores``)."""

    scores: np.ndarray
    calibration: object = None
    calibration_scores: np.ndarray | None = None


def calibration_folds(n: int, groups=None, n_folds: int = 5) -> list[np.ndarray]:
    """Deterministic folds of ``n`` held-out units for :func:`cross_fitted`: ``min(n_folds, n // 2)``
    contiguous blocks of the units, or, with ``groups`` (one key per unit), the groups in order of
    first appearance dealt to ``min(n_folds, number of groups)`` folds in turn (a group stays whole).
    One fold (no cross-fitting) when there are fewer than 2 groups or 4 units.

    >>> [f.tolist() for f in calibration_folds(6, n_folds=3)]
    [[0, 1], [2, 3], [4, 5]]
    >>> [f.tolist() for f in calibration_folds(5, groups=["a", "a", "b", "c", "b"], n_folds=2)]
    [[0, 1, 3], [2, 4]]
    """
    if groups is None:
        k = min(int(n_folds), n // 2)
        return [np.arange(n)] if k < 2 else np.array_split(np.arange(n), k)
    keys = list(groups)
    order = {g: i for i, g in enumerate(dict.fromkeys(keys))}
    k = min(int(n_folds), len(order))
    if k < 2:
        return [np.arange(n)]
    fold = np.array([order[g] % k for g in keys])
    return [np.flatnonzero(fold == j) for j in range(k)]


def cross_fitted(n: int, fit_stats, score, groups=None, n_folds: int = 5) -> list:
    """Scores of ``n`` held-out units whose model sets statistics from those same units (z-scales,
    per-location normalisation), none of them scored with statistics its own unit helped set: each
    fold (:func:`calibration_folds`) is scored after ``fit_stats(the other units' indices)``; then
    ``fit_stats(all indices)`` sets the model's statistics. ``score(indices)`` returns one score (or
    one array of scores) per unit; the result is their list in unit order. With a single fold the
    units are scored in-sample (too few to split). Deterministic: no randomness.

    Why: the held-out units are those ``threshold_`` is set from; a statistic fitted on them fits
    their own quirks (a location's spread inflated by its one outlying frame), so their scores sit
    below those of new normal data and the threshold flags more than ``contamination`` of it.

    >>> mean = {}
    >>> s = cross_fitted(4, lambda idx: mean.update(m=float(np.mean(np.take([1., 2., 3., 4.], idx)))),
    ...                  lambda idx: [float(v - mean["m"]) for v in np.take([1., 2., 3., 4.], idx)])
    >>> s, mean["m"]
    ([-2.5, -1.5, 1.5, 2.5], 2.5)
    """
    folds = calibration_folds(n, groups, n_folds)
    out: list = [None] * n
    everything = np.arange(n)
    if len(folds) > 1:
        for f in folds:
            fit_stats(np.setdiff1d(everything, f))
            for i, v in zip(f, score(f)):
                out[int(i)] = v
    fit_stats(everything)
    if len(folds) == 1:
        out = list(score(everything))
    return out


class BaseDetector(BaseEstimator):
    """Base class of every detector. Subclasses implement ``_fit(data)`` (may return the training
    scores) and ``_score(data)``, where ``data`` is what the modality adapter's ``check`` returns,
    and, to be saved, ``_get_state() -> (meta, arrays)`` / ``_set_state(meta, arrays)``. A detector
    that cannot be saved sets ``save_unsupported`` to the reason. Detectors whose training scores
    do not behave like scores of new data implement ``_calibration_scores`` (``diffusion``: each
    row scored as a new row against the others); those whose fit holds part of the data out for
    calibration override ``fit`` and end it with ``_finish_fit``."""

    name: str = "base"
    modality: str = "tabular"
    save_unsupported: str | None = None   # why this detector cannot be saved (None: it can)
    _proba_method = "linear"              # predict_proba's default: PyOD's for tables
    # how ``decision_scores_`` (one per fitted row or step, in fit order) were obtained: "in-sample"
    # (the fitted units scored by the fitted model, as ``decision_function`` would), "leave-one-out",
    # "cross-fitted", ...; ``adgdm score`` uses them for units of the fitted data (modalities/fingerprint.py)
    training_scores: str = "in-sample"
    # parameters renamed (old -> new): the old name still works with a DeprecationWarning (adgdm._params)
    _renamed_params: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if cls._renamed_params and init is not None and not getattr(init, "_accepts_renamed", False):
            cls.__init__ = accept_renamed(init)

    # --- fit and score ---------------------------------------------------------------------------
    # ``fit``, ``decision_function``, ``predict_result``, ``explain`` and ``_check_fitted`` are defined
    # here only; a detector implements the hooks (``_fit``, ``_score``, ``_score_extras``,
    # ``_calibration_split``, ``_calibration_scores``, ``_explain_model``, ``_fitted_attrs``).
    def fit(self, X, y=None):
        """Fit on (mostly) normal data ``X``; ``y`` is ignored unless the detector takes labels
        (``_fit_takes_y``: ``cycle``'s few-shot real anomalies)."""
        self._check_params()
        data = self._model_space(self._input(X, fitting=True), fitting=True)
        with collect_extremes():  # what inner models clip was said once, of this input, above
            return self._fit_checked(data, y)

    def _fit_checked(self, data, y):
        labels = {"y": y} if self._fit_takes_y else {}
        split = self._calibration_split(data)
        if split is not None:  # fit on one part, calibrate on the held-out part
            fit_part, held_out = split
            out = self._fit(fit_part, held_out, **labels)
            self._finish_fit(self._score(held_out) if out is None else out)
            return self
        out = self._fit(data, **labels)
        if isinstance(out, Fitted):
            self._finish_fit(out.scores, out.calibration, out.calibration_scores)
            return self
        scores = out if out is not None else self._score(data)
        self._finish_fit(scores, calibration_scores=self._calibration_scores(data, scores))
        return self

    _fit_takes_y = False  # True: ``_fit(data, y=...)`` gets fit's ``y``

    def _fit(self, data, *args, **kwargs):
        """Fit on validated ``data`` (model space). Returns None (the training scores are then
        ``_score(data)``), the training scores, or a :class:`Fitted` (scores with the calibration
        part). After a ``_calibration_split`` it is called as ``_fit(fit_part, held_out)`` and returns
        the held-out scores (None: ``_score(held_out)``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _fit(data)")

    def _score(self, data) -> np.ndarray:
        """One score per unit of validated ``data`` (model space), higher = more anomalous."""
        raise NotImplementedError(f"{type(self).__name__} must implement _score(data)")

    def _calibration_split(self, data):
        """``(fit part, held-out part)`` of validated training ``data`` when the detector holds
        data out for calibration (the held-out scores become ``decision_scores_`` and set
        ``threshold_``); None (default): fit on all of it."""
        return None

    def _calibration_scores(self, data, train_scores: np.ndarray) -> np.ndarray | None:
        """Scores of the training data ``data`` (model space) that behave like those of new normal
        data, to set ``threshold_``; None: the training scores themselves (right when they are
        already out-of-sample, e.g. leave-one-out k-NN distances)."""
        return None

    def _score_extras(self, data) -> tuple[np.ndarray, dict]:
        """``(scores, {"anomaly_map": ..., "parts": {...}})`` of validated ``data`` in one pass;
        modalities with maps or parts override."""
        return self._score(data), {}

    def _checked(self, X, fitted: bool = True):
        """``(validated input, model-space data)`` of new data ``X``: validated once, here."""
        if fitted:
            self._check_fitted()
        checked = self._input(X, fitting=False)
        return checked, self._model_space(checked)

    def _score_input(self, checked) -> np.ndarray:
        """Scores of already validated input (what occlusion scores its modified copies with)."""
        return np.asarray(self._score(self._model_space(checked)), dtype=np.float64)

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per unit (row, step, image), higher = more anomalous."""
        _, data = self._checked(X)
        with collect_extremes():  # inner models (windows, parts) clip quietly: said once, above
            return np.asarray(self._score(data), dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        """0 = normal, 1 = anomaly: score above ``threshold_`` (series detectors with
        ``alarm="drift"``: flagged by their drift-aware rule, see ``SeriesBase``)."""
        return self._flags(self.decision_function(X)).astype(int)

    def _flags(self, scores: np.ndarray) -> np.ndarray:
        """Bool flags of the scores of one input: above ``threshold_``."""
        return np.asarray(scores) > self.threshold_

    def _recalibrated(self) -> None:
        """Hook after ``calibration_scores_`` were replaced by scores of new normal data and
        ``threshold_`` set from them (``Pipeline.calibrate``): whatever else flags units from the
        calibration scores is refitted on them (series: the drift-aware alarm rule, the score of
        unjudged start steps)."""

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    def predict_proba(self, X, method: str | None = None) -> np.ndarray:
        """``(n, 2)`` probabilities of [normal, anomaly]: training scores rescaled to [0, 1]
        (``"linear"``, PyOD's default for tables), by rank among them (``"rank"``, the series
        default), or ``"calibrated"``: a logistic in the score, 0.5 at ``threshold_``, with their
        spread as its scale; "training scores" are the calibration scores ``threshold_`` comes from (:func:`adgdm.thresholds.calibrated_proba`),
        so ``p > 0.5`` exactly when ``predict`` flags the unit.

        Example
        -------
        >>> det.predict_proba(X, method="calibrated")[:, 1]   # doctest: +SKIP
        """
        return self._proba(self.decision_function(X), method)

    def _proba(self, scores: np.ndarray, method: str | None) -> np.ndarray:
        method = self._proba_method if method is None else method
        train = calibration_scores(self)
        if method == "linear":
            lo, hi = train.min(), train.max()
            p = np.clip((scores - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        elif method == "rank":
            p = np.searchsorted(np.sort(train), scores, side="right") / len(train)
        elif method == "calibrated":
            p = calibrated_proba(scores, train, self.threshold_)
        else:
            raise ValueError(f"unknown method {method!r}; choose 'linear', 'rank' or 'calibrated'")
        return np.column_stack([1 - p, p])

    def predict_result(self, X, explain: bool = False) -> Prediction:
        """Everything about ``X`` in one pass: scores, labels, calibrated probabilities and, where
        the modality has them, anomaly maps and per-part scores (``explain=True`` adds the
        contributions of :meth:`explain`). ``X`` is validated once."""
        if explain:
            get_modality(self.modality).check_explain(self, "auto", None)
        checked, data = self._checked(X)
        with collect_extremes():  # inner models (windows, parts) clip quietly: said once, above
            score, extras = self._score_extras(data)
            score = np.asarray(score, dtype=np.float64)
            contributions = self._explain_checked(checked, None, "auto", 65536) if explain else None
        return Prediction(score=score, label=self._flags(score).astype(int),
                          probability=self._proba(score, "calibrated")[:, 1], threshold=float(self.threshold_),
                          unit=get_modality(self.modality).unit, anomaly_map=extras.get("anomaly_map"),
                          parts=extras.get("parts", {}), contributions=contributions)

    # --- explanations -----------------------------------------------------------------------------
    def explain(self, X, baseline=None, method: str = "auto", max_rows: int = 65536) -> np.ndarray:
        """Non-negative contribution of each feature (channel) to each row's (step's) score.

        ``method``: ``"auto"`` (the model's own per-feature evidence where it has one, else
        occlusion), ``"model"`` or ``"occlusion"`` (each feature set to ``baseline``, default its
        training median, and the drop in score taken). See :mod:`adgdm.explain`. Image and video
        detectors explain by their anomaly maps (no occlusion, no baseline).

        Example
        -------
        >>> det.explain(X_test[:5]).shape                      # doctest: +SKIP
        (5, 4)
        """
        get_modality(self.modality).check_explain(self, method, baseline)
        check_explain_args(method, max_rows)
        checked, _ = self._checked(X)
        with collect_extremes():
            return self._explain_checked(checked, baseline, method, max_rows)

    def _explain_checked(self, checked, baseline, method: str, max_rows: int) -> np.ndarray:
        adapter = get_modality(self.modality)
        if method != "occlusion":
            own = self._explain_model(checked)
            if own is not None:
                return own
            if method == "model":
                raise ValueError(f"{type(self).__name__} has no per-{adapter.own_evidence} to explain with; "
                                 f"use method='occlusion'")
        base = check_baseline(baseline, self._occlusion_baseline(), checked.shape[1], adapter.part)
        return adapter.occlude(self, checked, base, int(max_rows))

    def explain_fitted(self, X, train_index) -> np.ndarray:
        """Contributions for units of ``X`` that are the fitted units ``train_index`` (rows or steps,
        in fit order), following the evidence of their training scores ``decision_scores_``.

        Scored anew, a training row is found in its own reference by detectors that compare with
        the fitted data and explains as "nothing unusual"; ``adgdm score`` gives such units their
        training scores (leave-one-out, cross-fitted: ``training_scores``) and this explanation.
        Detectors with in-sample or out-of-sample training scores explain as :meth:`explain`;
        the others use their own leave-one-out evidence (``_explain_training``) or occlusion
        measured from the training score.

        Example
        -------
        >>> det.explain_fitted(X_train[:3], [0, 1, 2]).shape    # doctest: +SKIP
        (3, 4)
        """
        checked, _ = self._checked(X)
        train_index = np.asarray(train_index, dtype=np.int64)
        if len(train_index) != len(checked):
            raise ValueError(f"train_index has {len(train_index)} entries for {len(checked)} units")
        own = self._explain_training(checked, train_index)
        if own is not None:
            return own
        if self.training_scores.startswith(("in-sample", "out-of-sample")):
            return self._explain_checked(checked, None, "auto", 65536)
        adapter = get_modality(self.modality)
        base = check_baseline(None, self._occlusion_baseline(), checked.shape[1], adapter.part)
        reference = np.asarray(self.decision_scores_, dtype=np.float64)[train_index]
        return adapter.occlude(self, checked, base, 65536, reference=reference)

    def _unjudged_lead(self) -> int:
        """How many leading units of a scored input carry no evidence (a series' steps without a
        full window): not calibration units. 0: every unit is judged."""
        return 0

    def _explain_training(self, data, train_index) -> np.ndarray | None:
        """Own per-feature evidence of validated fitted units ``data`` (``train_index`` in fit order)
        as their training scores saw it; None: :meth:`explain_fitted`'s rule."""
        return None

    def _explain_model(self, data) -> np.ndarray | None:
        """The detector's own per-feature evidence for validated ``data`` (None: explain by occlusion)."""
        return None

    def _occlusion_baseline(self):
        neutral = get_modality(self.modality).neutral(self)
        Xt = getattr(self, "X_train_", None)
        # models saved before medians were stored: their training rows, if kept and only standardised
        if neutral is None and isinstance(Xt, np.ndarray) and Xt.ndim == 2 \
                and Xt.shape[1] == getattr(self, "n_features_in_", -1) and type(self)._transform is BaseDetector._transform:
            med = np.median(Xt, axis=0)
            neutral = med * self.scale_ + self.center_ if getattr(self, "standardize", False) else med
        return neutral

    # --- helpers ----------------------------------------------------------------------------------
    def _input(self, X, fitting: bool):
        return get_modality(self.modality).check(self, X, fitting)

    def _model_space(self, data, fitting: bool = False):
        """Validated input -> what the model sees: standardised features for detectors with
        ``standardize=True`` (mean and spread of the training data), else unchanged."""
        if fitting and getattr(self, "standardize", False):
            adapter = get_modality(self.modality)
            stats = _without_extremes(data, *(adapter.bounds(self) if adapter.bound_attrs else (None, None)))
            blank = isinstance(stats, np.ndarray) and stats.dtype.kind == "f" and np.isnan(stats).any()
            self.center_ = np.nanmean(stats, axis=0) if blank else stats.mean(axis=0)  # blanks: detectors that take NaN
            scale = np.nanstd(stats, axis=0) if blank else stats.std(axis=0)
            self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        return self._transform(data)

    def _transform(self, arr: np.ndarray) -> np.ndarray:
        if getattr(self, "standardize", False):
            return (arr - self.center_) / self.scale_
        return arr

    def set_params(self, **params):
        """scikit-learn's ``set_params``; a renamed parameter's old name still works (a DeprecationWarning)."""
        return super().set_params(**renamed_params(type(self), params))

    def _check_params(self) -> None:
        c = getattr(self, "contamination", 0.1)
        if not 0.0 < float(c) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {c}")

    def _finish_fit(self, scores, calibration=None, calibration_scores=None) -> None:
        """Training scores -> ``decision_scores_``; the calibration scores -> ``calibration_scores_``:
        ``calibration_scores`` if given, else ``scores[calibration]`` (all of them by default);
        ``threshold_`` their ``1 - contamination`` quantile; ``labels_`` the training scores above it."""
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.__dict__.pop("threshold_method_", None)  # a threshold set by adgdm.thresholds no longer holds
        if calibration_scores is not None:
            cal = np.asarray(calibration_scores, dtype=np.float64)
        else:
            cal = self.decision_scores_ if calibration is None else self.decision_scores_[calibration]
        self.calibration_scores_ = cal
        self.threshold_ = float(np.quantile(cal, 1.0 - float(getattr(self, "contamination", 0.1))))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    # attributes a fitted detector has (a detector whose fit sets more overrides this)
    _fitted_attrs: tuple[str, ...] = ("threshold_",)

    def _check_fitted(self) -> None:
        if not all(hasattr(self, a) for a in self._fitted_attrs):
            what = get_modality(self.modality).fit_input
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit({what}) before scoring")

    # --- persistence ------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        raise NotImplementedError

    def _set_state(self, meta: dict, arrays: dict) -> None:
        raise NotImplementedError

    def _state(self) -> tuple[dict, dict]:
        """Everything fitted, as ``(JSON meta, arrays)``: the input description, the detector's own
        state, the training scores and the threshold (also used to nest one detector in another)."""
        if self.save_unsupported:
            raise NotImplementedError(f"{type(self).__name__} cannot be saved: {self.save_unsupported}")
        self._check_fitted()
        meta, arrays = get_modality(self.modality).save(self)
        own_meta, own_arrays = self._get_state()
        meta.update(own_meta, threshold_=self.threshold_)
        method = _recorded_method(self)
        if method is not None:
            meta["threshold_method_"] = method
        arrays.update(own_arrays, decision_scores_=self.decision_scores_)
        cal = getattr(self, "calibration_scores_", None)
        if cal is not None and not (cal.shape == self.decision_scores_.shape and np.array_equal(cal, self.decision_scores_)):
            arrays["calibration_scores_"] = cal  # stored only when it differs from the training scores
        return meta, arrays

    def save(self, path):
        """Save to the folder ``path`` (``config.json`` + ``weights.safetensors``, no pickle); load
        with ``adgdm.load(path)``."""
        self._check_fitted()
        meta, arrays = self._state()
        return save_detector(path, self.name, self.get_params(), meta, arrays)

    @classmethod
    def _from_state(cls, params: dict, meta: dict, arrays: dict):
        """Rebuild a fitted detector from ``_state()``; a missing or inconsistent field raises
        ``ModelFileError``."""
        try:
            defaults = cls().get_params()
            params = renamed_params(cls, params)  # a model saved under a parameter's old name
            # a parameter added after the model was saved takes the value that matches how it was
            # fitted (the class's `params_before`), not today's default
            params = {**getattr(cls, "params_before", {}), **params}
            params = {k: tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v
                      for k, v in params.items()}  # JSON stores tuples as lists
            det = cls(**params)
            get_modality(cls.modality).restore(det, meta, arrays)
            det.decision_scores_ = np.asarray(arrays["decision_scores_"], dtype=np.float64)
            det.calibration_scores_ = (np.asarray(arrays["calibration_scores_"], dtype=np.float64)
                                       if "calibration_scores_" in arrays else det.decision_scores_)
            det._set_state(meta, arrays)
            det.threshold_ = float(meta["threshold_"])
            det.labels_ = (det.decision_scores_ > det.threshold_).astype(int)
            if "threshold_method_" in meta:
                det.threshold_method_ = dict(meta["threshold_method_"])
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            raise ModelFileError(f"saved {cls.__name__} is incomplete or inconsistent: {type(e).__name__}: {e}") from None
        return det

    @classmethod
    def _from_saved(cls, config: dict, arrays: dict):
        return cls._from_state(config["params"], config["fitted"], arrays)


def _without_extremes(data, lo, hi):
    """``data`` with the cells clipped to the bounds of extreme values (the modality's ``bound``) made
    NaN: they do not set the standardisation (one 1e200 cell would make the rest of its column 0); a
    column with nothing else keeps them."""
    if lo is None or not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != len(lo):
        return data
    at = (data <= lo) | (data >= hi)
    if not at.any():
        return data
    at &= ~at.all(axis=0)
    return np.where(at, np.nan, data)


def nested_state(det: BaseDetector, prefix: str) -> tuple[dict, dict]:
    """A fitted sub-detector's state, its arrays under ``prefix.`` (one model inside another)."""
    meta, arrays = det._state()
    return meta, {f"{prefix}.{k}": v for k, v in arrays.items()}


def restore_nested(cls, params: dict, meta: dict, arrays: dict, prefix: str):
    """Inverse of :func:`nested_state`."""
    own = {k[len(prefix) + 1:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
    return cls._from_state(params, meta, own)

